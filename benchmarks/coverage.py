"""Operator coverage observed from the phone toolchains, compared with the phone profiles' operator
and precision support (``op_support`` and the engine's peaks).

For every family (its smallest variant: width 0.5, depth 0.5 where the family has a depth
multiplier, 64 px; coverage depends on which operators a network holds, not on their sizes) and
every observation the tools here can make, ``edgespace.coverage`` reads the converted program;
each layer-table row is then *observed taken* (every operator implementing it is delegated),
*observed left out* (one is not) or *not observed* (no operator names it: folded by the
converter). Each observation is compared with the profile engines it speaks for (``COMPARE``): the
profile says a row runs on the engine (``edgespace.cost.runs_on``: the precision has a peak or a
fallback there, and the operator class and activation are not listed unsupported). Agreement: both
say taken, or both say not.

Engines no tool here can observe (the phone NPUs: QNN needs Qualcomm's SDK, the Google Tensor
compiler plugin its vendor library) are recorded with the tool's own error.

    python benchmarks/coverage.py            # writes benchmarks/results/coverage.json
    python benchmarks/coverage.py --families mobilenetv3_small --out /tmp/c.json
    python benchmarks/coverage.py --table benchmarks/results/coverage.json   # the docs table
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import write_result  # noqa: E402

#: (runtime, delegate, precision) -> the profile engines (profile, engine) the observation speaks for, and why.
COMPARE = {
    ("executorch", "xnnpack", "int8"): (
        [("snapdragon-8-gen-3", "cpu"), ("google-tensor-g3", "cpu"), ("apple-a17-pro", "cpu")],
        "XNNPACK is ExecuTorch's CPU path on Arm phones; the partitioner's decision does not depend on the host",
    ),
    ("executorch", "coreml", "fp32"): (
        [("apple-a17-pro", "ane")],
        "the Core ML partitioner checks what Core ML converts, whatever the precision; compared with the ANE's "
        "support at fp16, the precision the ANE computes in (Core ML places ops on the ANE, GPU or CPU on the device)",
    ),
    ("litert", "xnnpack", "int8"): (
        [("google-tensor-g3", "cpu"), ("snapdragon-8-gen-3", "cpu")],
        "LiteRT's default XNNPACK delegate is its CPU path on Arm phones; the delegate's choice does not depend on the host",
    ),
    ("litert", "xnnpack", "fp32"): (
        [("google-tensor-g3", "cpu"), ("snapdragon-8-gen-3", "cpu")],
        "as for int8",
    ),
    ("litert", "gpu", "fp32"): (
        [("google-tensor-g3", "gpu")],
        "LiteRT's model analyzer checks the .tflite against the GPU delegate's operator rules",
    ),
    ("coreml", "coreml", "fp16"): (
        [("apple-a17-pro", "ane")],
        "the ML program's MIL operations; the ANE computes in fp16, so the fp16 program is the one it runs",
    ),
}

#: The precision a profile engine is asked about, where it differs from the observed program's.
PROFILE_PRECISION = {("executorch", "coreml", "fp32"): "fp16"}

#: MIL operation types the community list of layers that leave the Neural Engine names (hollance/neural-engine).
ANE_LEAVERS = {"gather", "gather_nd", "gather_along_axis", "lstm", "rnn", "gru", "custom_layer"}


def row_status(frame, table) -> dict[str, bool]:
    """Layer-table row -> observed taken (True) / left out (False); rows no operator names are absent."""
    status: dict[str, bool] = {}
    for rows, taken in zip(frame["layer_rows"], frame["delegated"], strict=True):
        for r in rows:
            status[r] = status.get(r, True) and bool(taken)
    return status


def compare(frame, table, profiles, engines, precision: str) -> list[dict]:
    from edgespace.cost import runs_on

    status = row_status(frame, table)
    out = []
    for name, engine in engines:
        eng = profiles[name].mode(None).engines[engine]
        agree, disagree = 0, Counter()
        for r in table.itertuples():
            if r.name not in status:
                continue
            says = runs_on(eng, r.op, precision, r.act or None)
            if says == status[r.name]:
                agree += 1
            else:
                ops = frame[frame["layer_rows"].map(lambda rows, n=r.name: n in rows) & ~frame["delegated"]]
                key = (r.op, r.act or "", ",".join(sorted(set(ops["op"]))), "profile: runs" if says else "profile: not")
                disagree[key] += 1
        out.append(
            {
                "profile": name,
                "engine": engine,
                "op_support": eng.op_support.provenance,
                "rows_compared": agree + sum(disagree.values()),
                "agree": agree,
                "disagree": sum(disagree.values()),
                "disagreements": [
                    {"op_class": k[0], "act": k[1], "runtime_ops": k[2], "profile_says": k[3], "rows": n}
                    for k, n in sorted(disagree.items())
                ],
            }
        )
    return out


def unobservable() -> list[dict]:
    """The phone NPUs: run each tool that would observe them and keep its own error line."""
    import edgespace
    from edgespace import UnavailableError

    out = []
    spec = edgespace.ArchSpec("mobilenetv3_small", 0.5, 0.5, 64)
    try:
        edgespace.coverage(spec, "executorch", "fp32", delegate="qnn")
        qnn = "ran (QNN SDK present)"
    except UnavailableError as exc:
        qnn = str(exc).splitlines()[0][:300]
    out.append({"profile": "snapdragon-8-gen-3", "engine": "htp", "tool": "ExecuTorch QnnPartitioner", "result": qnn})
    import ai_edge_litert

    root = Path(ai_edge_litert.__file__).parent
    tool = root / "tools" / "apply_plugin_main"
    for prof, engine, maker, soc, lib in (
        ("google-tensor-g3", "tpu", "Google", "Tensor_G3", "google_tensor"),
        ("snapdragon-8-gen-3", "htp", "Qualcomm", "SM8650", "qualcomm"),
    ):
        tflite = edgespace.exporters.cached_phone_model(spec, "litert", "int8")
        proc = subprocess.run(
            [str(tool), "--cmd=partition", f"--model={tflite}", f"--soc_manufacturer={maker}", f"--soc_model={soc}",
             f"--libs={root / 'vendors' / lib / 'compiler'}", "--o=none", "--err=-"],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        lines = [ln.strip() for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()]
        err = [ln for ln in lines if "ERROR" in ln or "Failed" in ln or "failed" in ln]
        out.append(
            {
                "profile": prof,
                "engine": engine,
                "tool": f"LiteRT apply_plugin_main --cmd=partition ({maker} compiler plugin, {soc})",
                "result": (err[0] if err else lines[-1] if lines else "(no output)")[:300],
            }
        )
    return out


ENGINES = (
    ("apple-a17-pro", "ane"),
    ("apple-a17-pro", "cpu"),
    ("snapdragon-8-gen-3", "cpu"),
    ("google-tensor-g3", "cpu"),
    ("google-tensor-g3", "gpu"),
)


def markdown_table(path: Path) -> str:
    """The stored result as the markdown table the docs quote."""
    import json

    doc = json.loads(path.read_text())
    label = {"apple-a17-pro": "A17 Pro", "snapdragon-8-gen-3": "SD 8 Gen 3", "google-tensor-g3": "Tensor G3"}
    head = ["family", "observation", "delegated"] + [f"{label[p]} {e}" for p, e in ENGINES] + ["disagreements"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in doc["results"]:
        obs = f"{r['runtime']} {r['delegate']} {r['precision']}"
        if "error" in r:
            lines.append(f"| {r['family']} | {obs} | error: {r['error'][:80]} |" + " |" * (len(head) - 3))
            continue
        cells = {(c["profile"], c["engine"]): f"{c['agree']}/{c['rows_compared']}" for c in r["comparisons"]}
        dis = sorted(
            {
                f"{d['op_class']}{'/' + d['act'] if d['act'] else ''} ({d['runtime_ops'] or 'no op'})"
                for c in r["comparisons"]
                for d in c["disagreements"]
            }
        )
        row = [r["family"], obs, f"{r['delegated']}/{r['operators']}"] + [cells.get(k, "") for k in ENGINES]
        lines.append("| " + " | ".join(row + ["; ".join(dis) or "none"]) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    import edgespace
    from edgespace import layer_table, load_profile
    from edgespace.archs import get_family, list_families

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--families", default=",".join(list_families()))
    ap.add_argument("--out", default=None)
    ap.add_argument("--table", metavar="JSON", help="print the docs table of a stored result and exit")
    ap.add_argument(
        "--observations",
        default=None,
        help="only these runtime:delegate:precision observations (comma-separated); with --merge, they replace "
        "their entries in the stored result",
    )
    ap.add_argument("--merge", action="store_true", help="update the stored result instead of writing a new one")
    args = ap.parse_args(argv)
    if args.table:
        print(markdown_table(Path(args.table)))
        return 0
    profiles = {n: load_profile(n) for n in ("apple-a17-pro", "snapdragon-8-gen-3", "google-tensor-g3")}
    results, t_start = [], time.time()
    for family in args.families.split(","):
        # depth 0.5 where the family has a depth multiplier; MobileNetV4 and EfficientViT have none
        spec = edgespace.ArchSpec(family, 0.5, 0.5 if get_family(family).depth_knob else 1.0, 64)
        table = layer_table(spec)
        for (runtime, delegate, precision), (engines, why) in COMPARE.items():
            if args.observations and f"{runtime}:{delegate}:{precision}" not in args.observations.split(","):
                continue
            t0 = time.time()
            entry = {"family": family, "spec": spec.to_dict(), "runtime": runtime, "delegate": delegate}
            entry["precision"] = precision
            try:
                f = edgespace.coverage(spec, runtime, precision, delegate=delegate)
            except Exception as exc:  # one failed conversion is a result too
                entry["error"] = f"{type(exc).__name__}: {exc}"[:400]
                results.append(entry)
                print(family, runtime, delegate, precision, "ERROR", entry["error"], flush=True)
                continue
            left = f[~f["delegated"]]
            entry.update(
                source=f.attrs["source"],
                seconds=round(time.time() - t0, 1),
                operators=len(f),
                delegated=int(f["delegated"].sum()),
                ops=dict(Counter(f["op"])),
                left_out=[
                    {"op": op, "part": part, "reason": reason, "count": int(n)}
                    for (op, part, reason), n in Counter(
                        zip(left["op"], left["part"], left["reason"], strict=True)
                    ).items()
                ],
                speaks_for=why,
                comparisons=compare(
                    f, table, profiles, engines, PROFILE_PRECISION.get((runtime, delegate, precision), precision)
                ),
            )
            if runtime == "coreml":
                entry["ane_leaving_ops"] = sorted(set(f["op"]) & ANE_LEAVERS)
            results.append(entry)
            print(family, runtime, delegate, precision, f"{entry['delegated']}/{entry['operators']}", flush=True)
    if args.merge:
        import json

        out = Path(args.out) if args.out else Path(__file__).resolve().parent / "results" / "coverage.json"
        stored = json.loads(out.read_text())
        key = lambda r: (r["family"], r["runtime"], r["delegate"], r["precision"])  # noqa: E731
        new = {key(r): r for r in results}
        stored["results"] = [new.pop(key(r), r) for r in stored["results"]] + list(new.values())
        stored.setdefault("updated_by", []).append(
            {"command": " ".join(sys.argv), "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        )
        out.write_text(json.dumps(stored, indent=1, default=float) + "\n")
        print(f"updated {out}")
        return 0
    doc = {
        "what": "operator coverage observed from the phone toolchains vs. the phone profiles' op_support",
        "specs": "each family at width 0.5, depth 0.5 (1.0 for the families without a depth multiplier: MobileNetV4, "
        "EfficientViT), 64 px (random weights; int8 calibrated on the generated images)",
        "results": results,
        "not_observable_here": unobservable(),
        "seconds": round(time.time() - t_start, 1),
    }
    path = write_result("coverage", doc, args.out)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""LiteRT calibration from end-to-end runs: a calibration fitted to the library's 16-network design,
judged on held-out networks drawn at random from the same space, fp32 and int8, at one thread.

    python benchmarks/litert_calibration.py                  # convert (cached), measure, fit; writes
                                                             # benchmarks/results/litert_calibration.json
                                                             # and litert_calibration_runs.json.gz
    python benchmarks/litert_calibration.py --convert-only   # only the conversions (cached per network)
    python benchmarks/litert_calibration.py --from-runs benchmarks/results/litert_calibration_runs.json.gz

1. Draw the calibration set with the library's design (``draw_specs(..., design="spread")``:
   greedy k-medoids over the latency model's features; with two networks a family, no corners) and
   a held-out set uniformly at random over the same families and ranges, none of them in the
   calibration set. The ranges (width 0.5-1.3, depth 0.6-1.4, 128-224 px) put the networks at
   about 1-35 ms on one thread here.
2. Convert every network to .tflite (fp32 and PT2E int8) in the converter's own interpreter,
   cached per network, so that the timing process never imports torch and a rerun skips them.
3. Time every network of each precision with :func:`edgespace.runners.measure_phone_interleaved`
   (what ``edgespace calibrate --backend litert`` measures with): ``--rounds`` interleaved rounds,
   each batch of calls preceded by one run of the reference network (MobileNetV2 0.75/160, the same
   precision), in one process pinned to one CPU (``--cpu``) and run under ``SCHED_FIFO``
   (``--priority``; needs the right to, else the normal scheduler, recorded) so that the shared
   machine's other jobs cannot time-slice the core while a network runs. The whole measurement is
   done ``--passes`` times; a network's latency is the mean of its passes' reference-paired
   latencies. The runs file keeps every pass (``--from-runs`` refits from it anywhere).
4. ``edgespace.calibrate`` on the calibration set's runs (end-to-end only: LiteRT's Python API
   reports no operator times, so each latency is split over its segments by a roofline and then by
   the fitted model); the prediction of each held-out network against its measured latency:
   share within ±10%, MAPE, Kendall τ, and the share inside the calibration's stated 90% interval.
   Also the calibration report's own figure for all networks together (5 family-spread folds).
5. The noise ceiling: the share of networks whose first and second pass agree within ±10% (no
   model can beat the measurement's own repeatability).

The machine's load average before and after the timing is stored with the result.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import gzip
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FORMAT = "edgespace-litert-runs/1"
PRECISIONS = ("fp32", "int8")
#: The default calibration families without the MobileNetV4 hybrids (attention; not in the phone
#: coverage set).
FAMILIES = (
    "efficientnet",
    "efficientnetv2",
    "mobilenetv2",
    "mobilenetv3_small",
    "mobilenetv3_large",
    "mobilenetv4_conv_small",
    "mobilenetv4_conv_medium",
    "mobilenetv4_conv_large",
)
RANGES = {"width": (0.5, 1.3), "depth": (0.6, 1.4), "resolution": (128, 224)}


def _versions() -> dict:
    from importlib.metadata import version

    out = {}
    for pkg in ("edgespace", "ai-edge-litert", "litert-torch", "numpy", "scikit-learn", "scipy", "torch", "timm"):
        try:
            out[pkg] = version(pkg)
        except Exception:  # noqa: BLE001 - a missing package is recorded as such
            out[pkg] = None
    return out


def draw(args) -> tuple[list, list]:
    """(calibration specs, held-out specs), fp32 (the int8 ones are the same networks)."""
    from edgespace.calibration import draw_specs

    fams = tuple(args.families.split(","))
    cal = draw_specs(args.calibration, families=fams, ranges=RANGES, seed=args.seed, design=args.design)
    test = draw_specs(args.test, families=fams, ranges=RANGES, seed=10_000 + args.seed, design="random", exclude=cal)
    return cal, test


def at(spec, precision: str):
    import dataclasses

    return dataclasses.replace(spec, precision=precision)


def convert(specs, precisions, *, cached_only: bool = False, log=print) -> dict:
    """``{(spec, precision): path}`` of the converted networks (cached); a network whose conversion
    fails is left out and named (``failed``), as is one not converted with ``cached_only``."""
    from edgespace.exporters import cached_phone_models
    from edgespace.exporters._cached import _cached_path

    paths, failed, unconverted = {}, [], []
    for prec in precisions:
        todo = [at(s, prec) for s in specs]
        if cached_only:
            unconverted += [
                f"{s.short_name()}" for s in todo if not _cached_path(s, "litert", prec, None, None).is_file()
            ]
            todo = [s for s in todo if _cached_path(s, "litert", prec, None, None).is_file()]
        while todo:
            t0 = time.time()
            try:
                got = cached_phone_models(todo, "litert", prec)
            except Exception as exc:  # noqa: BLE001 - the first unconverted network is named and skipped
                done = [s for s in todo if _cached_path(s, "litert", prec, None, None).is_file()]
                for s in done:
                    paths[(s, prec)] = str(_cached_path(s, "litert", prec, None, None))
                bad = next(s for s in todo if s not in done)
                failed.append({"spec": bad.short_name(), "precision": prec, "error": str(exc)[-300:]})
                log(f"  {prec}: {bad.short_name()} failed to convert: {str(exc)[-200:]}")
                todo = [s for s in todo if s not in done and s != bad]
                continue
            paths.update({(s, prec): str(p) for s, p in zip(todo, got, strict=True)})
            log(f"  {prec}: {len(todo)} networks converted or cached in {time.time() - t0:.0f}s")
            todo = []
    paths["failed"], paths["unconverted"] = failed, unconverted
    return paths


def realtime(priority: int) -> str:
    """Run this process under ``SCHED_FIFO`` at ``priority`` (0: leave it as it is): on a shared
    machine the other jobs then cannot time-slice the pinned core while a network runs. What was
    set, or why not."""
    if priority <= 0:
        return "normal (SCHED_OTHER)"
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except (PermissionError, AttributeError, OSError) as exc:
        return f"normal (SCHED_OTHER): SCHED_FIFO not permitted here ({exc})"
    return f"SCHED_FIFO, priority {priority}"


def measure(jobs, *, threads: int, rounds: int, passes: int, cpu: int | None, priority: int, log=print) -> dict:
    """Per precision, ``passes`` interleaved, reference-paired measurements of the networks in
    ``jobs`` (``{precision: [(spec, path), ...]}``), in this process pinned to ``cpu``: ``{precision:
    [[Measurement.to_dict() per network] per pass]}``, and the scheduling it ran under."""
    from edgespace.exporters import cached_phone_model
    from edgespace.runners import REFERENCE_SPEC

    for prec in jobs:  # the reference converted before the timing starts
        cached_phone_model(at(REFERENCE_SPEC, prec), "litert", prec)
    cpus = os.sched_getaffinity(0)
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    scheduling = realtime(priority)
    log(f"  timing on CPU {cpu}, {scheduling}")
    try:
        return _timed(jobs, threads, rounds, passes, log), scheduling
    finally:  # the fits that follow run under the normal scheduler, on every CPU
        if scheduling.startswith("SCHED_FIFO"):
            os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
        os.sched_setaffinity(0, cpus)


def _timed(jobs, threads, rounds, passes, log) -> dict:
    from edgespace.exporters import cached_phone_model
    from edgespace.runners import REFERENCE_SPEC, measure_phone_interleaved

    out = {}
    t0 = time.time()
    for prec, todo in jobs.items():
        ref = at(REFERENCE_SPEC, prec)
        ref_path = cached_phone_model(ref, "litert", prec)
        out[prec] = []
        for k in range(passes):
            ms = measure_phone_interleaved(
                [p for _, p in todo],
                [s for s, _ in todo],
                backend="litert",
                threads=threads,
                precision=prec,
                rounds=rounds,
                reference_path=ref_path,
                reference=ref,
            )
            out[prec].append([_plain(m) for m in ms])
            log(
                f"  {prec} pass {k + 1}/{passes}: {len(ms)} networks, {time.time() - t0:.0f}s (load {os.getloadavg()[0]:.1f})"
            )
    return out


def _plain(m) -> dict:
    d = m.to_dict()
    d.pop("energy_mj", None)
    if d.get("model_path"):
        d["model_path"] = Path(d["model_path"]).name  # the cache's location is this machine's, not the result's
    return d


def from_plain(d: dict):
    from edgespace import ArchSpec
    from edgespace.runners import Measurement

    d = dict(d)
    d["spec"] = ArchSpec(**d["spec"])
    for k in ("throughput_series", "notes", "round_medians_ms"):
        d[k] = tuple(tuple(x) if isinstance(x, list) else x for x in d.get(k) or ())
    return Measurement(**d)


def combined(passes_of_one: list[dict]):
    """One network's passes as one Measurement: the mean of the passes' paired latencies (the
    calibration latency), the round medians of all passes."""
    import dataclasses

    ms = [from_plain(d) for d in passes_of_one]
    paired = [m.latency_paired_ms for m in ms if m.latency_paired_ms is not None]
    return dataclasses.replace(
        ms[0],
        latency_paired_ms=float(np.mean(paired)) if paired else None,
        round_medians_ms=tuple(x for m in ms for x in m.round_medians_ms),
    )


def judge(cal_items, test_items, threads: int) -> dict:
    from edgespace.calibration import calibrate, latency_errors

    cal = calibrate("host", cal_items, threads=threads, note="benchmarks/litert_calibration.py")
    if not test_items:
        return {"calibration_id": cal.id, "calibration_networks": len(cal_items), "held_out_networks": 0}
    measured = np.array([m.latency_calibration_ms for m in test_items])
    pred = cal.predict_many_ms([m.spec for m in test_items])
    err = latency_errors(pred, measured)
    band = cal.latency_band([m.spec for m in test_items])  # per network: wider farther from the measured ones
    covered = None if band is None else float(np.mean((measured >= pred * band[0]) & (measured <= pred * band[1])))
    rel = (pred - measured) / measured
    per_family = {}
    for m, e in zip(test_items, rel, strict=True):
        per_family.setdefault(m.spec.family, []).append(round(float(e) * 100, 1))
    return {
        "calibration_id": cal.id,
        "calibration_networks": len(cal_items),
        "held_out_networks": len(test_items),
        "held_out": err,
        "interval": None
        if band is None
        else {
            "median_low_factor": float(np.median(band[0])),
            "median_high_factor": float(np.median(band[1])),
            "median_width_pct": float(np.median(band[1] / band[0] - 1) * 100),
            "stated": band[2],
        },
        "interval_coverage": covered,
        "calibration_5fold": cal.report.get("held_out_5fold"),
        "held_out_error_pct_by_family": per_family,
        "held_out_predictions": [
            {"spec": m.spec.short_name(), "measured_ms": float(x), "predicted_ms": float(p)}
            for m, x, p in zip(test_items, measured, pred, strict=True)
        ],
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calibration", type=int, default=16, help="calibration networks (the library's design)")
    ap.add_argument("--test", type=int, default=24, help="held-out networks (uniform random)")
    ap.add_argument("--design", default="spread", help="the calibration set's design: spread, lhs or random")
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--precisions", default=",".join(PRECISIONS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=10, help="interleaved rounds per pass")
    ap.add_argument("--passes", type=int, default=2, help="whole measurements (the second says how they repeat)")
    ap.add_argument("--cached-only", action="store_true", help="measure the networks already converted; convert none")
    ap.add_argument("--cpu", type=int, default=None, help="pin the timing process to this CPU (default: its last)")
    ap.add_argument(
        "--priority",
        type=int,
        default=20,
        help="time under SCHED_FIFO at this priority (needs the right to; 0: the normal scheduler)",
    )
    ap.add_argument("--convert-only", action="store_true")
    ap.add_argument("--from-runs", metavar="PATH", help="refit from a runs file instead of measuring")
    ap.add_argument(
        "--runs-file", metavar="PATH", default=str(ROOT / "benchmarks/results/litert_calibration_runs.json.gz")
    )
    ap.add_argument("--json", metavar="PATH", default=str(ROOT / "benchmarks/results/litert_calibration.json"))
    args = ap.parse_args(argv)
    from edgespace import ArchSpec

    precisions = tuple(args.precisions.split(","))
    t0 = time.time()
    if args.from_runs:
        with gzip.open(args.from_runs, "rt") as f:
            runs = json.load(f)
        if runs.get("format") != FORMAT:
            raise SystemExit(f"{args.from_runs}: not a {FORMAT} file (format {runs.get('format')!r})")
        cal_specs = [ArchSpec(**d) for d in runs["calibration"]]
        test_specs = [ArchSpec(**d) for d in runs["test"]]
        precisions = tuple(runs["precisions"])
        args.threads = runs["threads"]
    else:
        cal_specs, test_specs = draw(args)
        every = cal_specs + test_specs
        print(f"{len(cal_specs)} calibration + {len(test_specs)} held-out networks; converting (cached)", flush=True)
        paths = convert(every, precisions, cached_only=args.cached_only)
        t_convert = time.time() - t0
        if args.convert_only:
            print(f"converted in {t_convert:.0f}s; failed: {paths['failed']}")
            return 0
        jobs = {p: [(at(s, p), paths[(at(s, p), p)]) for s in every if (at(s, p), p) in paths] for p in precisions}
        cpu = args.cpu if args.cpu is not None else max(os.sched_getaffinity(0))
        load_start = os.getloadavg()
        t1 = time.time()
        got, scheduling = measure(
            jobs, threads=args.threads, rounds=args.rounds, passes=args.passes, cpu=cpu, priority=args.priority
        )
        runs = {
            "format": FORMAT,
            "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "machine": f"{platform.machine()} {platform.processor() or platform.system()}, {os.cpu_count()} cores",
            "measured_by": "python benchmarks/litert_calibration.py "
            + " ".join(sys.argv[1:] if argv is None else argv),
            "versions": _versions(),
            "threads": args.threads,
            "rounds": args.rounds,
            "passes": args.passes,
            "cpu": cpu,
            "scheduling": scheduling,
            "load_average_start": load_start,
            "load_average_end": os.getloadavg(),
            "convert_s": round(t_convert, 1),
            "measure_s": round(time.time() - t1, 1),
            "timing_process_imported_torch": "torch" in sys.modules,
            "precisions": list(precisions),
            "calibration": [s.to_dict() for s in cal_specs],
            "test": [s.to_dict() for s in test_specs],
            "failed_conversions": paths["failed"],
            "unconverted": paths["unconverted"],
            "measurements": got,
        }
        Path(args.runs_file).parent.mkdir(parents=True, exist_ok=True)
        with gzip.open(args.runs_file, "wt") as f:
            json.dump(runs, f)
    results = {}
    for prec in precisions:
        passes = runs["measurements"][prec]
        index = {ArchSpec(**d["spec"]): k for k, d in enumerate(passes[0])}

        def items(specs, prec=prec, passes=passes, index=index):
            out = []
            for s in specs:
                k = index.get(at(s, prec))
                if k is not None:
                    out.append(combined([p[k] for p in passes]))
            return out

        cal_items, test_items = items(cal_specs), items(test_specs)
        res = judge(cal_items, test_items, runs["threads"])
        if len(cal_items) + len(test_items) >= 10:  # every network measured, 5 family-spread folds
            from edgespace.calibration import calibrate

            every = calibrate("host", cal_items + test_items, threads=runs["threads"])
            res["all_networks_5fold"] = {
                "what": "a calibration fitted to every measured network, each held out in one of 5 folds that spread "
                "each family over distinct folds (the calibration report's figure)",
                **every.report["held_out_5fold"],
                "interval": every.report.get("interval"),
            }
        if len(passes) >= 2:  # how well the measurement repeats itself: pass 1 against pass 2
            a = np.array([from_plain(d).latency_calibration_ms for d in passes[0]])
            b = np.array([from_plain(d).latency_calibration_ms for d in passes[1]])
            res["noise_ceiling_within_10pct"] = float(np.mean(np.abs(a - b) / np.minimum(a, b) <= 0.10))
            res["pass_to_pass_median_pct"] = float(np.median(np.abs(a - b) / np.minimum(a, b)) * 100)
        res["median_round_spread_pct"] = float(np.median([m.latency_spread_pct for m in cal_items + test_items]))
        lat = [m.latency_calibration_ms for m in cal_items + test_items]
        res["latency_range_ms"] = [float(min(lat)), float(max(lat))]
        results[prec] = res
        h = res.get("held_out") or {"within_10pct": float("nan"), "mape_pct": float("nan"), "worst_pct": float("nan")}
        print(
            f"{prec}: {len(cal_items)} calibration, {len(test_items)} held out: within ±10% {h['within_10pct']:.0%}, "
            f"MAPE {h['mape_pct']:.1f}%, worst {h['worst_pct']:.0f}%, interval covers {res.get('interval_coverage')}, "
            f"pass-to-pass within ±10% {res.get('noise_ceiling_within_10pct')}",
            flush=True,
        )
    doc = {
        "benchmark": "litert_calibration",
        "what": "held-out accuracy of a LiteRT (XNNPACK, this CPU) calibration fitted to end-to-end runs of the "
        "library's calibration design",
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {platform.processor() or platform.system()}, {os.cpu_count()} cores",
        "versions": _versions(),
        "command": "python benchmarks/litert_calibration.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "fit_load_average_1min": os.getloadavg()[0],
        "families": sorted({s.family for s in cal_specs + test_specs}),
        "ranges": RANGES,
        "target": "a calibration from >= 16 LiteRT runs predicts >= 90% of held-out networks within ±10%",
        "runs_file": {
            k: runs.get(k)
            for k in (
                "date",
                "machine",
                "measured_by",
                "threads",
                "rounds",
                "passes",
                "cpu",
                "scheduling",
                "load_average_start",
                "load_average_end",
                "convert_s",
                "measure_s",
                "failed_conversions",
                "unconverted",
            )
        }
        | {"path": Path(args.from_runs or args.runs_file).name},
        "statistic": "per network: the median over rounds of each round's median call time",
        "results": results,
        "seconds": round(time.time() - t0, 1),
    }
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(doc, indent=1, default=str))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

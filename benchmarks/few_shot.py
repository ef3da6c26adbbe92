"""Few-shot calibration: held-out accuracy against the number of calibration networks, for the
library's design (``spread``: corners, then max-min over the model's features) and for random
draws, and the coverage of the calibration's prediction interval on held-out networks.

    python benchmarks/few_shot.py                 # the full run (quiet machine: ~25-40 min)
    python benchmarks/few_shot.py --quick         # two families, small ranges (a few minutes)
    python benchmarks/few_shot.py --shards 12     # one process per core on a many-core machine
    python benchmarks/few_shot.py --from-runs benchmarks/results/few_shot_runs.json.gz   # refit, anywhere

Every network (the union of all the calibration sets and a uniform random test set none of them
contains) is exported once and timed once with ONNX Runtime (``--threads`` threads, interleaved
reference-paired rounds, profiled, as ``edgespace calibrate`` times them); each calibration is
then fitted to its subset of those runs and judged on the test set: share within ±10%, MAPE,
and the share of test networks inside its stated 90% interval. Figures are medians over
``--seeds`` seeds, with their min and max.

The timing needs a quiet machine: on a shared one every measured latency moves by tens of
percent between rounds, which the held-out figures then include. The JSON records the load
average at the start and the end.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DESIGNS = ("spread", "lhs", "random")


def _versions() -> dict:
    from importlib.metadata import version

    out = {}
    for pkg in ("edgespace", "onnxruntime", "numpy", "scikit-learn", "scipy", "torch"):
        try:
            out[pkg] = version(pkg)
        except Exception:  # noqa: BLE001 - a missing package is recorded as such
            out[pkg] = None
    return out


def run(args) -> dict:
    from edgespace.calibration import draw_specs
    from edgespace.calibration._loop import collect

    families = tuple(args.families.split(","))
    ranges = {"width": (0.35, 1.0), "resolution": (96, 160)} if args.quick else None
    load_start = os.getloadavg()
    t0 = time.perf_counter()
    sets = {
        (d, s, n): draw_specs(n, families=families, ranges=ranges, seed=s, design=d)
        for d in DESIGNS
        for s in range(args.seeds)
        for n in args.sizes
    }
    union = list(dict.fromkeys(sp for specs in sets.values() for sp in specs))
    test = draw_specs(args.test, families=families, ranges=ranges, seed=10_000, design="random", exclude=union)
    every = union + test
    by_spec, runs_doc = _measure(args, every, len(test), collect)
    unmeasured = [s.short_name() for s in every if s not in by_spec]  # a failed shard's: said, not hidden
    test = [s for s in test if s in by_spec]
    sets = {k: v for k, v in sets.items() if all(s in by_spec for s in v)}
    measured = np.array([_latency_ms(by_spec[s]) for s in test])
    t_measure = time.perf_counter() - t0
    jobs = [
        {"key": k, "items": [by_spec[sp] for sp in specs], "test": test, "measured": measured, "threads": args.threads}
        for k, specs in sets.items()
    ]
    if args.jobs > 1:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(args.jobs) as pool:
            rows = list(pool.imap(_judge, jobs))
    else:
        rows = [_judge(j) for j in jobs]
    summary = {}
    for d in DESIGNS:
        for n in args.sizes:
            mine = [r for r in rows if r["design"] == d and r["networks"] == n]

            def stat(key, mine=mine):
                v = np.array([r[key] for r in mine], dtype=float)
                v = v[np.isfinite(v)]
                return (
                    None
                    if not len(v)
                    else {"median": float(np.median(v)), "min": float(v.min()), "max": float(v.max())}
                )

            summary[f"{d}/{n}"] = {
                "within_10pct": stat("held_out_within_10pct"),
                "mape_pct": stat("held_out_mape_pct"),
                "interval_coverage": stat("interval_coverage"),
            }
    return {
        "benchmark": "few_shot",
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {platform.processor() or platform.system()}, {os.cpu_count()} cores",
        "versions": _versions(),
        "command": "python benchmarks/few_shot.py " + " ".join(sys.argv[1:]),
        "load_average_start": load_start,
        "load_average_end": os.getloadavg(),
        "families": list(families),
        "ranges": ranges,
        "threads": args.threads,
        "rounds": args.rounds,
        "seeds": args.seeds,
        "test_networks": len(test),
        "measure_s": round(t_measure, 1),
        "total_s": round(time.perf_counter() - t0, 1),
        "summary": summary,
        "runs": rows,
        "measured": {s.short_name(): _latency_ms(by_spec[s]) for s in every if s in by_spec},
        "unmeasured": unmeasured,
        **({} if runs_doc is None else {"runs_file": runs_doc}),
    }


def _judge(job: dict) -> dict:
    """Fit one calibration set and judge it on the test networks (one process of a pool)."""
    from edgespace.calibration import calibrate, latency_errors
    from edgespace.profiles import load_profile

    (d, s, n), test, measured = job["key"], job["test"], job["measured"]
    cal = calibrate(load_profile("host"), job["items"], threads=job["threads"])
    pred = cal.predict_many_ms(test)
    err = latency_errors(pred, measured)
    band = cal.latency_band(test)
    covered = float(np.mean((measured >= pred * band[0]) & (measured <= pred * band[1]))) if band else float("nan")
    shown = (cal.summary().get("interval") or {}) if band else {}
    print(
        f"  {d:7s} seed {s} N={n:3d}: {err['within_10pct']:.0%} within ±10%, MAPE {err['mape_pct']:.1f}%"
        + (f", interval covers {covered:.0%}" if band else ""),
        file=sys.stderr,
        flush=True,
    )
    return {
        "design": d,
        "seed": s,
        "networks": n,
        "calibration_id": cal.id,
        "held_out_within_10pct": err["within_10pct"],
        "held_out_mape_pct": err["mape_pct"],
        "held_out_worst_pct": err["worst_pct"],
        "interval": None
        if band is None
        else {
            "at_measured": shown["at_measured"],
            "at_typical": shown["at_typical"],
            "median_width_pct": float(np.median(band[1] / band[0] - 1) * 100),
        },
        "interval_stated_coverage": band[2] if band else None,
        "interval_coverage": covered,
    }


def _host_profile_yaml() -> str:
    """The ``host`` profile of the machine that measured (the refit uses it, not its own)."""
    from edgespace.profiles import load_profile
    from edgespace.profiles._host import HOST_PROFILE_ENV, host_cache_path

    load_profile("host")  # measured now if not cached
    return Path(os.environ.get(HOST_PROFILE_ENV) or host_cache_path()).read_text()


def current_host_yaml(text: str) -> str:
    """A stored host profile brought up to this version's operator classes: each engine's
    ``efficiency`` gets the estimate the host measurement itself writes for every class added
    since the runs were measured (the host's efficiencies are all such estimates, and no network
    of an older runs file has an operator of a class added later, so the figures do not move)."""
    import yaml

    from edgespace.profiles._defaults import estimated_engine_fields

    data = yaml.safe_load(text)
    for mode in data.get("modes", {}).values():
        for engine in mode.get("engines", {}).values():
            eff = engine.setdefault("efficiency", {})
            for op, entry in estimated_engine_fields(engine["kind"])["efficiency"].items():
                eff.setdefault(op, entry)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _pin_host_profile(text: str) -> None:
    import tempfile

    from edgespace.profiles._host import HOST_PROFILE_ENV

    f = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
    f.write(current_host_yaml(text))
    f.close()
    os.environ[HOST_PROFILE_ENV] = f.name  # the fitting processes inherit it


def _latency_ms(item) -> float:
    """A measurement's calibration latency, or a stored run's (a ``(spec, profile, ms)`` triple)."""
    return float(item[2]) if isinstance(item, tuple) else float(item.latency_calibration_ms)


def _measure(args, every, n_test, collect) -> tuple[dict, dict | None]:
    """``{spec: measurement or stored run}`` for every network, and what the runs file says of
    itself: read from ``--from-runs``, measured in ``--shards`` processes (then saved to
    ``--runs-file``), or measured here in one."""
    from _sharded import load_runs, measure_sharded, run_items, save_runs

    def note(doc, path):
        return {
            "path": Path(path).name,
            "shards": doc["shards"],
            "reference": doc["reference"],
            "reference_level_ms": doc["reference_level_ms"],
            **{k: doc[k] for k in ("measured_by", "machine", "load_average_start", "load_average") if k in doc},
        }

    if args.from_runs:
        doc, items = load_runs(args.from_runs)
        if doc.get("host_profile_yaml"):
            _pin_host_profile(doc["host_profile_yaml"])
        missing = [s.short_name() for s in every if s not in items]
        if len(missing) == len(every):
            raise SystemExit(
                f"{args.from_runs}: {len(missing)} of the {len(every)} networks these options draw are not in it "
                f"(e.g. {missing[0]}); pass the options it was measured with: {doc.get('measured_by', '?')}"
            )
        return {s: items[s] for s in every if s in items}, note(doc, args.from_runs)
    print(f"measuring {len(every)} networks ({n_test} held out) ...", file=sys.stderr, flush=True)
    if args.shards > 1 or args.runs_file:
        load_start = os.getloadavg()
        doc = measure_sharded(
            every, shards=args.shards, threads=args.threads, rounds=args.rounds, log=lambda m: print(m, file=sys.stderr)
        )
        doc["measured_by"] = "python benchmarks/few_shot.py " + " ".join(sys.argv[1:])
        doc["machine"] = f"{platform.machine()} {platform.processor() or platform.system()}, {os.cpu_count()} cores"
        doc["load_average_start"], doc["load_average"] = load_start, os.getloadavg()
        doc["host_profile_yaml"] = _host_profile_yaml()
        path = Path(args.runs_file or Path(args.json).with_name(Path(args.json).stem + "_runs.json.gz"))
        save_runs(doc, path)
        items = run_items(doc)
        return {s: items[s] for s in every if s in items}, note(doc, path)
    ms = collect(every, threads=args.threads, rounds=args.rounds)
    return dict(zip(every, ms, strict=True)), None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="two families, small ranges, small sets")
    ap.add_argument("--sizes", help="calibration set sizes (default 8,16,24,36; --quick 4,8,12)")
    ap.add_argument("--seeds", type=int, help="seeds per design and size (default 3; --quick 2)")
    ap.add_argument("--test", type=int, help="held-out test networks (default 24; --quick 8)")
    ap.add_argument("--rounds", type=int, help="interleaved timing rounds (default 10; --quick 3)")
    ap.add_argument(
        "--families",
        help="comma-separated (default: the calibration's default families; with --from-runs, those measured)",
    )
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--shards", type=int, default=1, help="measure in this many processes, one per core")
    ap.add_argument("--runs-file", metavar="PATH", help="where --shards keeps the runs (default beside --json)")
    ap.add_argument("--jobs", type=int, default=1, help="fit the calibrations in this many processes")
    ap.add_argument("--from-runs", metavar="PATH", help="refit from a runs file instead of measuring")
    ap.add_argument("--json", metavar="PATH", default=str(ROOT / "benchmarks" / "results" / "few_shot.json"))
    args = ap.parse_args(argv)
    q = args.quick
    args.sizes = [int(x) for x in (args.sizes or ("4,8,12" if q else "8,16,24,36")).split(",")]
    args.seeds = args.seeds or (2 if q else 3)
    args.test = args.test or (8 if q else 24)
    args.rounds = args.rounds or (3 if q else 10)
    from edgespace.calibration import DEFAULT_FAMILIES

    if args.from_runs and not args.families:  # the families measured, so that the draws are the same
        from _sharded import load_runs

        measured = {spec.family for spec in load_runs(args.from_runs)[1]}
        args.families = ",".join(f for f in DEFAULT_FAMILIES if f in measured)
    args.families = args.families or ("mobilenetv2,mobilenetv3_small" if q else ",".join(DEFAULT_FAMILIES))
    doc = run(args)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(doc, indent=1, default=str))
    for key, v in doc["summary"].items():
        w, m, c = v["within_10pct"], v["mape_pct"], v["interval_coverage"]
        print(
            f"{key:12s} within ±10% {w['median']:.0%} ({w['min']:.0%}-{w['max']:.0%}), "
            f"MAPE {m['median']:.1f}%" + (f", interval covers {c['median']:.0%}" if c else "")
        )
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

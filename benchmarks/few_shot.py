"""Few-shot calibration: held-out accuracy against the number of calibration networks, for the
library's design (``spread``: corners, then max-min over the model's features) and for random
draws, and the coverage of the calibration's prediction interval on held-out networks.

    python benchmarks/few_shot.py                 # the full run (quiet machine: ~25-40 min)
    python benchmarks/few_shot.py --quick         # two families, small ranges (a few minutes)

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
    from edgespace.calibration import calibrate, draw_specs, latency_errors
    from edgespace.calibration._loop import collect
    from edgespace.profiles import load_profile

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
    print(f"measuring {len(every)} networks ({len(test)} held out) ...", file=sys.stderr, flush=True)
    ms = collect(every, threads=args.threads, rounds=args.rounds)
    by_spec = dict(zip(every, ms, strict=True))
    measured = np.array([by_spec[s].latency_calibration_ms for s in test])
    t_measure = time.perf_counter() - t0
    base = load_profile("host")
    rows = []
    for (d, s, n), specs in sets.items():
        cal = calibrate(base, [by_spec[sp] for sp in specs], threads=args.threads)
        pred = cal.predict_many_ms(test)
        err = latency_errors(pred, measured)
        band = cal.latency_band()
        covered = float(np.mean((measured >= pred * band[0]) & (measured <= pred * band[1]))) if band else float("nan")
        rows.append(
            {
                "design": d,
                "seed": s,
                "networks": n,
                "calibration_id": cal.id,
                "held_out_within_10pct": err["within_10pct"],
                "held_out_mape_pct": err["mape_pct"],
                "held_out_worst_pct": err["worst_pct"],
                "interval": None if band is None else {"low_factor": band[0], "high_factor": band[1]},
                "interval_stated_coverage": band[2] if band else None,
                "interval_coverage": covered,
            }
        )
        print(
            f"  {d:7s} seed {s} N={n:3d}: {err['within_10pct']:.0%} within ±10%, MAPE {err['mape_pct']:.1f}%"
            + (f", interval covers {covered:.0%}" if band else ""),
            file=sys.stderr,
            flush=True,
        )
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
        "measured": {s.short_name(): by_spec[s].latency_calibration_ms for s in every},
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="two families, small ranges, small sets")
    ap.add_argument("--sizes", help="calibration set sizes (default 8,16,24,36; --quick 4,8,12)")
    ap.add_argument("--seeds", type=int, help="seeds per design and size (default 3; --quick 2)")
    ap.add_argument("--test", type=int, help="held-out test networks (default 24; --quick 8)")
    ap.add_argument("--rounds", type=int, help="interleaved timing rounds (default 10; --quick 3)")
    ap.add_argument("--families", help="comma-separated (default: the calibration's default families)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", metavar="PATH", default=str(ROOT / "benchmarks" / "results" / "few_shot.json"))
    args = ap.parse_args(argv)
    q = args.quick
    args.sizes = [int(x) for x in (args.sizes or ("4,8,12" if q else "8,16,24,36")).split(",")]
    args.seeds = args.seeds or (2 if q else 3)
    args.test = args.test or (8 if q else 24)
    args.rounds = args.rounds or (3 if q else 10)
    from edgespace.calibration import DEFAULT_FAMILIES

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

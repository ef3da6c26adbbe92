"""The closed loop on this machine: calibrate, search with and without the calibration, confirm.

    python benchmarks/closed_loop.py                 # the full run (quiet machine, ~30-40 min)
    python benchmarks/closed_loop.py --quick         # a small end-to-end run (CI, about a minute)

1. Calibrate the ``host`` profile from ``--networks`` networks drawn over the calibration ranges
   (ONNX Runtime, ``--threads`` pinned threads, reference-paired interleaved rounds).
2. Run the same NSGA-II search (accuracy vs latency, fp32, the calibrated ranges) on ``host``
   twice: with the roofline alone, and with the calibration.
3. Confirm ``--confirm`` points spread along each front with real runs (timed as the calibration
   times its networks) and print predicted vs measured latency per point and the share within
   ±10%. Goal: >= 90% of the calibrated front's points within ±10%.

The timing needs a quiet machine (see docs/measuring.md, "How it times, and why"); on a shared one the
measured side moves by tens of percent between rounds. ``--json PATH`` writes every figure.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _results import fill_defaults, write_result  # noqa: E402


def _space(quick: bool):
    from edgespace.study import EfficientNetSpace, MobileNetSpace

    # inside the calibration ranges (width 0.35-1.3, depth 0.5-1.4, resolution 96-256): a
    # calibration interpolates, it is not asked to extrapolate
    mob = MobileNetSpace(
        families=("mobilenetv2", "mobilenetv3_small", "mobilenetv3_large"),
        widths=(0.35, 1.3),
        width_step=0.05,
        resolutions=(96, 256),
        resolution_step=16,
        precisions=("fp32",),
    )
    if quick:
        return MobileNetSpace(
            families=("mobilenetv2", "mobilenetv3_small"),
            widths=(0.35, 1.0),
            width_step=0.05,
            resolutions=(96, 160),
            resolution_step=16,
            precisions=("fp32",),
        )
    eff = EfficientNetSpace(phi=None, widths=(0.5, 1.3), depths=(0.5, 1.4), resolutions=(96, 256), precisions=("fp32",))
    return mob | eff


def run(args) -> dict:
    import edgespace as es
    from edgespace.calibration._loop import run_calibration
    from edgespace.study import search

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    families = (
        ("mobilenetv2", "mobilenetv3_small")
        if args.quick
        else ("efficientnet", "mobilenetv2", "mobilenetv3_small", "mobilenetv3_large")
    )
    ranges = {"width": (0.35, 1.0), "depth": (1.0, 1.0), "resolution": (96, 160)} if args.quick else None

    def say(stage: str, step: int, total: int) -> None:
        if args.verbose and step == total:
            print(f"  {stage}: done ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)

    cal, cal_path, _ = run_calibration(
        "host",
        args.networks,
        threads=args.threads,
        seed=args.seed,
        families=families,
        ranges=ranges,
        rounds=args.rounds,
        out=out / "host-calibration.json",
        progress=say,
    )
    t_cal = time.perf_counter() - t0
    held = cal.report.get("held_out_5fold")  # None below 10 networks: the in-sample error is not held out
    space = _space(args.quick)
    results = {}
    for label, calibration in (("analytic", None), ("calibrated", cal)):
        t1 = time.perf_counter()
        r = search(
            space,
            "host",
            "accuracy,latency_ms",
            n_trials=args.trials,
            sampler="nsga2",
            storage="memory",
            seed=args.seed,
            population_size=args.population,
            calibration=calibration,
        )
        t_search = time.perf_counter() - t1
        t1 = time.perf_counter()
        conf = r.confirm(args.confirm, threads=args.threads, rounds=args.rounds)
        # the other predictor on the very same measured points (a like-for-like comparison)
        conf["analytic_latency_ms"] = [
            es.estimate(
                es.ArchSpec(p.family, float(p.width), float(p.depth), int(p.resolution), p.precision), "host", p.mode
            ).latency_ms
            for p in conf.itertuples()
        ]
        conf["calibrated_latency_ms"] = [
            es.estimate(
                es.ArchSpec(p.family, float(p.width), float(p.depth), int(p.resolution), p.precision),
                "host",
                p.mode,
                calibration=cal,
            ).latency_ms
            for p in conf.itertuples()
        ]
        ok = conf[conf["status"] == "ok"]
        err = ok["latency_error_pct"].astype(float)
        meas = ok["measured_latency_ms"].astype(float)
        err_a = (ok["analytic_latency_ms"] - meas) / meas * 100
        err_c = (ok["calibrated_latency_ms"] - meas) / meas * 100
        results[label] = {
            "search_s": round(t_search, 2),
            "confirm_s": round(time.perf_counter() - t1, 2),
            "front_size": int(len(r.pareto_front())),
            "confirmed": int(len(ok)),
            "failed": int(len(conf) - len(ok)),
            "within_10pct": float(np.mean(np.abs(err) <= 10)) if len(ok) else float("nan"),
            "median_abs_error_pct": float(np.median(np.abs(err))) if len(ok) else float("nan"),
            "same_points": {
                "analytic_median_abs_error_pct": float(np.median(np.abs(err_a))) if len(ok) else float("nan"),
                "calibrated_median_abs_error_pct": float(np.median(np.abs(err_c))) if len(ok) else float("nan"),
                "analytic_within_10pct": float(np.mean(np.abs(err_a) <= 10)) if len(ok) else float("nan"),
                "calibrated_within_10pct": float(np.mean(np.abs(err_c) <= 10)) if len(ok) else float("nan"),
            },
            "points": conf.to_dict(orient="records"),
        }
    return {
        "networks": args.networks,
        "threads": args.threads,
        "rounds": args.rounds,
        "trials": args.trials,
        "calibration": {
            "id": cal.id,
            "path": str(cal_path),
            "seconds": round(t_cal, 1),
            "held_out": held,
            "in_sample": cal.report.get("in_sample"),
        },
        "results": results,
    }


def _print(doc: dict) -> None:
    h = doc["calibration"]["held_out"]
    which = "held-out" if h else "in-sample (too few networks for a held-out error)"
    h = h or doc["calibration"]["in_sample"] or {}
    print(
        f"calibration {doc['calibration']['id']}: {doc['networks']} networks, {doc['threads']} thread(s), "
        f"{doc['calibration']['seconds']:.0f} s; {which} {h.get('within_10pct', float('nan')):.0%} within ±10%, "
        f"MAPE {h.get('mape_pct', float('nan')):.1f}%"
    )
    for label, r in doc["results"].items():
        print(
            f"\n{label} search: front of {r['front_size']}, {r['confirmed']} confirmed ({r['failed']} failed), "
            f"search {r['search_s']:.1f} s, confirmation {r['confirm_s']:.0f} s"
        )
        print(f"  {'design point':44s} {'predicted ms':>12s} {'measured ms':>12s} {'error':>8s}  source")
        for p in r["points"]:
            name = f"{p['family']} w{p['width']:g} d{p['depth']:g} r{p['resolution']} {p['precision']}"
            if p["status"] != "ok":
                print(f"  {name:44s} {p['status']}")
                continue
            print(
                f"  {name:44s} {p['predicted_latency_ms']:12.3f} {p['measured_latency_ms']:12.3f} "
                f"{p['latency_error_pct']:+7.1f}%  {p['latency_source']}"
            )
        print(f"  within ±10%: {r['within_10pct']:.0%} (median |error| {r['median_abs_error_pct']:.1f}%)")
        sp = r["same_points"]
        print(
            f"  the same points predicted both ways: calibrated {sp['calibrated_within_10pct']:.0%} within ±10% "
            f"(median |error| {sp['calibrated_median_abs_error_pct']:.1f}%), analytic {sp['analytic_within_10pct']:.0%} "
            f"({sp['analytic_median_abs_error_pct']:.1f}%)"
        )
    a, c = doc["results"]["analytic"], doc["results"]["calibrated"]
    print(
        f"\nwithin ±10%: calibrated {c['within_10pct']:.0%} vs analytic {a['within_10pct']:.0%} (goal: calibrated >= 90%)"
    )


#: The shared options' full and ``--quick`` defaults (see :func:`loop_options`).
LOOP_DEFAULTS = {"trials": (600, 40), "population": (60, 20), "rounds": (10, 3)}


def loop_options(ap: argparse.ArgumentParser, name: str, networks: int, per_search: str) -> None:
    """The options the closed-loop and refine benchmarks share (``name``: the result and run folder)."""
    ap.add_argument("--quick", action="store_true", help="few networks, small search (CI)")
    ap.add_argument("--networks", type=int, help=f"calibration networks (default {networks}; --quick 8)")
    ap.add_argument("--trials", type=int, help=f"search trials{per_search} (default 600; --quick 40)")
    ap.add_argument("--population", type=int, help="NSGA-II population (default 60; --quick 20)")
    ap.add_argument("--rounds", type=int, help="interleaved timing rounds (default 10; --quick 3)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=f"runs/{name}", help="where the calibration file goes")
    ap.add_argument("--json", metavar="PATH", help=f"result file (default benchmarks/results/{name}.json)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    loop_options(ap, "closed_loop", 36, " per search")
    ap.add_argument("--confirm", type=int, help="front points confirmed per search (default 5; --quick 3)")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    fill_defaults(args, {**LOOP_DEFAULTS, "networks": (36, 8), "confirm": (5, 3)})
    doc = run(args)
    _print(doc)
    print(f"stored: {write_result('closed_loop', doc, args.json)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Refine on this machine: how many rounds a calibrated search needs before its confirmed front holds.

    python benchmarks/refine.py              # 16-network calibration, 600 trials, 4 points a round, 3 rounds
    python benchmarks/refine.py --quick      # 8 networks, two small families, a small search

1. Calibrate the ``host`` profile from ``--networks`` networks (the library's design, ONNX
   Runtime, ``--threads`` pinned threads, reference-paired interleaved rounds).
2. Run an NSGA-II search (accuracy vs latency, fp32) with that calibration.
3. ``SearchResult.refine(top=--top, max_rounds=--max-rounds, tolerance_pct=--tolerance-pct)``:
   each round confirms the points that decide the front, and, while they miss the tolerance,
   folds the runs into the calibration and searches on.

Prints and stores every round (predicted vs measured per point, the errors, how the front
moved) and the rounds needed for the front to hold (None when it did not hold within the
rounds). The timing needs a quiet machine: the JSON records the load average at the start and
the end, and ``busy`` is true when either was above the number of cores (then the measured side
moves by tens of percent between rounds, and the figures show that the loop runs, not how
few rounds it needs).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _results import fill_defaults, write_result  # noqa: E402
from closed_loop import LOOP_DEFAULTS, _space, loop_options  # noqa: E402


def run(args) -> dict:
    from edgespace.calibration import run_calibration
    from edgespace.study import search

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    load_start = os.getloadavg()
    t0 = time.perf_counter()
    families = (
        ("mobilenetv2", "mobilenetv3_small")
        if args.quick
        else ("efficientnet", "mobilenetv2", "mobilenetv3_small", "mobilenetv3_large")
    )
    ranges = {"width": (0.35, 1.0), "depth": (1.0, 1.0), "resolution": (96, 160)} if args.quick else None
    cal, cal_path, _ = run_calibration(
        "host",
        args.networks,
        threads=args.threads,
        seed=args.seed,
        families=families,
        ranges=ranges,
        rounds=args.rounds,
        out=out / "host-calibration.json",
    )
    t_cal = time.perf_counter() - t0
    t1 = time.perf_counter()
    r = search(
        _space(args.quick),
        "host",
        "accuracy,latency_ms",
        n_trials=args.trials,
        sampler="nsga2",
        storage="memory",
        seed=args.seed,
        population_size=args.population,
        calibration=cal,
    )
    t_search = time.perf_counter() - t1
    t1 = time.perf_counter()
    conf = r.refine(
        top=args.top,
        max_rounds=args.max_rounds,
        tolerance_pct=args.tolerance_pct,
        threads=args.threads,
        confirm_rounds=args.rounds,
    )
    rounds = r.refine_rounds()
    held = rounds[rounds["stopped"] == "held"]
    load_end = os.getloadavg()
    cores = os.cpu_count() or 1
    return {
        "networks": args.networks,
        "threads": args.threads,
        "timing_rounds": args.rounds,
        "trials": args.trials,
        "top": args.top,
        "max_rounds": args.max_rounds,
        "tolerance_pct": args.tolerance_pct,
        "calibration": {
            "id": cal.id,
            "path": str(cal_path),
            "seconds": round(t_cal, 1),
            "held_out": cal.report.get("held_out_5fold"),
            "in_sample": cal.report.get("in_sample"),
        },
        "search_s": round(t_search, 2),
        "refine_s": round(time.perf_counter() - t1, 1),
        "rounds_to_hold": int(held["round"].iloc[0]) if len(held) else None,
        "final_calibration": r.calibration.id,
        "rounds": rounds.to_dict(orient="records"),
        "points": conf.to_dict(orient="records"),
        "load_average_start": load_start,
        "load_average_end": load_end,
        "busy": bool(max(load_start[0], load_end[0]) > cores),
    }


def _print(doc: dict) -> None:
    print(
        f"calibration {doc['calibration']['id']}: {doc['networks']} networks, {doc['threads']} thread(s), "
        f"{doc['calibration']['seconds']:.0f} s; search {doc['search_s']:.1f} s; refine {doc['refine_s']:.0f} s"
    )
    for rd in doc["rounds"]:
        print(
            f"\nround {rd['round']} (calibrated:{rd['calibration_id']}): {rd['within_tolerance']}/{rd['confirmed']} "
            f"within ±{rd['tolerance_pct']:g}%"
            + (f", median |error| {rd['median_abs_error_pct']:.1f}%" if rd["median_abs_error_pct"] is not None else "")
        )
        for p in doc["points"]:
            if p["round"] != rd["round"]:
                continue
            name = f"{p['family']} w{p['width']:g} d{p['depth']:g} r{p['resolution']}"
            if p["status"] != "ok":
                print(f"  {name:40s} {p['status']}")
                continue
            print(
                f"  {name:40s} predicted {p['predicted_latency_ms']:9.3f} ms, measured "
                f"{p['measured_latency_ms']:9.3f} ms, {p['latency_error_pct']:+6.1f}%"
            )
        if rd["refit_to"]:
            print(
                f"  refitted to {rd['refit_to']}, {rd['trials_added']} trials added; front: {rd['front_kept']} kept, "
                f"{rd['front_joined']} joined, {rd['front_left']} left"
            )
        if rd["stopped"]:
            print(f"  stopped: {rd['stopped']}")
    busy = " (busy machine: load average above the core count; not a figure to quote)" if doc["busy"] else ""
    print(f"\nrounds to hold: {doc['rounds_to_hold']}{busy}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    loop_options(ap, "refine", 16, "")
    ap.add_argument("--top", type=int, help="points confirmed a round (default 4; --quick 3)")
    ap.add_argument("--max-rounds", type=int, help="refine rounds (default 3; --quick 2)")
    ap.add_argument("--tolerance-pct", type=float, default=10.0)
    args = ap.parse_args(argv)
    fill_defaults(args, {**LOOP_DEFAULTS, "networks": (16, 8), "top": (4, 3), "max_rounds": (3, 2)})
    doc = run(args)
    _print(doc)
    name = "refine_quick" if args.quick else "refine"
    print(f"stored: {write_result(name, doc, args.json)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Held-out error of the calibrated latency model and of the liveness memory model, per family, on
the default calibration families (the MobileNetV4 hybrids included).

    python benchmarks/calibration_families.py                   # about 10-20 minutes on 2 busy cores
    python benchmarks/calibration_families.py --train 20 --test 10 --rounds 6   # quicker

Calibrate on ONNX Runtime runs (one thread) of specs drawn over every default calibration family
(each range's corners plus a Latin hypercube; small resolutions keep a run short), then predict
other specs of the same families never used for calibration. Prints and stores, per family, the
fraction of held-out networks within ±10% of measured end-to-end latency and the MAPE, and the
peak activation memory of liveness over the layer table against ONNX Runtime's own accounting.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import write_result  # noqa: E402

from edgespace._liveness import ORT_CPU_UNFUSED_ACTS, peak_activation_bytes  # noqa: E402
from edgespace.calibration import calibrate, draw_specs, latency_errors  # noqa: E402
from edgespace.calibration._draw import DEFAULT_FAMILIES  # noqa: E402
from edgespace.calibration._loop import collect  # noqa: E402
from edgespace.layers import layer_table  # noqa: E402
from edgespace.runners._export import export_many  # noqa: E402

RANGES = {"width": (0.35, 1.0), "depth": (0.5, 1.2), "resolution": (64, 160)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", type=int, default=40, help="calibration networks (default 40)")
    ap.add_argument("--test", type=int, default=30, help="held-out networks (default 30)")
    ap.add_argument("--rounds", type=int, default=10, help="interleaved timing rounds (default 10)")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--json", metavar="PATH", help="result file (default benchmarks/results/calibration_families.json)")
    args = ap.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)

    train = draw_specs(args.train, families=DEFAULT_FAMILIES, seed=args.seed, cover=True, ranges=RANGES)
    test = draw_specs(args.test, families=DEFAULT_FAMILIES, seed=args.seed + 1, exclude=train, ranges=RANGES)
    t0 = time.perf_counter()
    export_many(train + test)
    print(f"exported {len(train) + len(test)} networks in {time.perf_counter() - t0:.0f} s (child process)")
    t0 = time.perf_counter()
    ms = collect(train + test, threads=1, rounds=args.rounds)
    print(f"measured {len(ms)} networks in {time.perf_counter() - t0:.0f} s")
    m_train, m_test = ms[: len(train)], ms[len(train) :]
    cal = calibrate("host", m_train, threads=1)
    pred = cal.predict_many_ms([m.spec for m in m_test])
    y = np.array([m.latency_calibration_ms for m in m_test])
    fams = np.array([m.spec.family for m in m_test])
    mem_m = np.array([m.peak_activation_bytes for m in ms], float)
    mem_p = np.array([peak_activation_bytes(layer_table(m.spec), unfused_acts=ORT_CPU_UNFUSED_ACTS) for m in ms])
    mem_rel = np.abs(mem_p - mem_m) / mem_m
    all_fams = np.array([m.spec.family for m in ms])
    by_family = {}
    print(f"{'family':<28} {'n':>3} {'±10%':>6} {'MAPE':>7}   {'memory ±20%':>11} {'median':>7}")
    for fam in DEFAULT_FAMILIES:
        sel, msel = fams == fam, all_fams == fam
        rep = latency_errors(pred[sel], y[sel]) if sel.any() else None
        by_family[fam] = {
            "latency_held_out": rep,
            "peak_memory": {
                "within_20pct": float(np.mean(mem_rel[msel] <= 0.20)),
                "median_error_pct": float(np.median(mem_rel[msel]) * 100),
                "n": int(msel.sum()),
            },
        }
        if rep is not None:
            print(
                f"{fam:<28} {rep['n']:>3} {rep['within_10pct']:>6.0%} {rep['mape_pct']:>6.1f}%   "
                f"{np.mean(mem_rel[msel] <= 0.20):>11.0%} {np.median(mem_rel[msel]) * 100:>6.2f}%"
            )
    overall = latency_errors(pred, y)
    print(f"{'all held out':<28} {overall['n']:>3} {overall['within_10pct']:>6.0%} {overall['mape_pct']:>6.1f}%")
    doc = {
        "families": list(DEFAULT_FAMILIES),
        "ranges": RANGES,
        "networks": {"train": len(train), "test": len(test)},
        "threads": 1,
        "rounds": args.rounds,
        "seed": args.seed,
        "latency_held_out_all": overall,
        "by_family": by_family,
        "reference": ms[0].reference,
    }
    print(f"stored: {write_result('calibration_families', doc, args.json)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

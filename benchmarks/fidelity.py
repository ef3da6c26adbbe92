"""Fidelity of the calibrated latency model and the liveness memory model against real ONNX Runtime runs.

    python benchmarks/fidelity.py                 # 1 and 2 threads, about 15-20 minutes on 2 cores
    python benchmarks/fidelity.py --threads 1 --train 24 --test 10 --family-test 6   # quicker

For each thread count: calibrate on specs of three families (efficientnet, mobilenetv2,
mobilenetv3_small; each range's corners plus a Latin hypercube), then predict random specs never
used for calibration: other widths, depths and resolutions of the same families, and a family
held out entirely (mobilenetv3_large). Prints, for the calibrated model, a FLOPs-proportional
baseline and the uncalibrated roofline: the fraction within ±10% of measured end-to-end latency, Kendall τ,
MAPE and the worst error. Peak memory: liveness over the layer table against ONNX Runtime's
own accounting (fraction within ±20%). The noise floor: the test networks are measured twice,
independently, and the same figures are printed for "second measurement vs first" (as measured,
and with the second scaled by the median ratio between the two, which removes a shift of the
whole machine's speed between the two measurements and leaves the per-network noise).

Measured latency is what calibration fits to (``Measurement.latency_calibration_ms``): each
network's time over the reference network's, timed back to back in interleaved rounds, times the
reference's median; threads pinned to CPUs; in a process that never imports torch (exports run in
a child process).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _results import write_result  # noqa: E402

from edgespace import estimate, load_profile  # noqa: E402
from edgespace._liveness import ORT_CPU_UNFUSED_ACTS, peak_activation_bytes  # noqa: E402
from edgespace.calibration import calibrate, draw_specs, latency_errors  # noqa: E402
from edgespace.calibration._loop import collect  # noqa: E402
from edgespace.layers import layer_table, table_totals  # noqa: E402
from edgespace.runners._export import export_many  # noqa: E402

TRAIN_FAMILIES = ("efficientnet", "mobilenetv2", "mobilenetv3_small")
HELD_OUT_FAMILY = "mobilenetv3_large"


def _row(name: str, rep: dict) -> str:
    return (
        f"  {name:<26} {rep['within_10pct']:>7.0%} {rep['kendall_tau']:>7.3f} {rep['mape_pct']:>7.1f}% "
        f"{rep['worst_pct']:>7.1f}%  (n={rep['n']})"
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    ap.add_argument("--train", type=int, default=36, help="calibration networks (default 36)")
    ap.add_argument("--test", type=int, default=30, help="held-out networks of the calibration families (default 30)")
    ap.add_argument(
        "--family-test", type=int, default=20, help=f"networks of the held-out family {HELD_OUT_FAMILY} (default 20)"
    )
    ap.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="interleaved timing rounds (default 10 x threads: two threads on a shared 2-core "
        "machine are noisier and need more)",
    )
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--save",
        default=None,
        metavar="DIR",
        help="also write every measurement (JSON, with node times) to DIR/fidelity-<threads>t.json",
    )
    ap.add_argument("--json", metavar="PATH", help="result file (default benchmarks/results/fidelity.json)")
    args = ap.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # progress shows when piped to a file

    train = draw_specs(args.train, families=TRAIN_FAMILIES, seed=args.seed, cover=True)
    test = draw_specs(args.test, families=TRAIN_FAMILIES, seed=args.seed + 1, exclude=train)
    fam = draw_specs(args.family_test, families=(HELD_OUT_FAMILY,), seed=args.seed + 2)
    t0 = time.perf_counter()
    export_many(train + test + fam)
    print(f"exported {len(train) + len(test) + len(fam)} networks in {time.perf_counter() - t0:.0f} s (child process)")
    host = load_profile("host")
    doc: dict = {
        "train_families": list(TRAIN_FAMILIES),
        "held_out_family": HELD_OUT_FAMILY,
        "networks": {"train": len(train), "test": len(test), "held_out_family": len(fam)},
        "seed": args.seed,
        "by_threads": {},
    }

    for threads in [int(t) for t in args.threads.split(",")]:
        t0 = time.perf_counter()
        rounds = args.rounds if args.rounds is not None else 10 * threads
        ms = collect(train + test + fam, threads=threads, rounds=rounds)
        again = collect(test + fam, threads=threads, rounds=rounds, profile_runs=1)
        elapsed = time.perf_counter() - t0
        m_train, m_test, m_fam = ms[: len(train)], ms[len(train) : len(train) + len(test)], ms[len(train) + len(test) :]
        cal = calibrate("host", m_train, threads=threads)
        spreads = np.array([m.latency_spread_pct for m in ms])
        print(
            f"\n=== {threads} thread(s), {rounds} rounds: measured {len(ms)} networks in {elapsed:.0f} s; "
            f"per-network spread of round medians: median {np.median(spreads):.1f}%, 90th pct {np.percentile(spreads, 90):.1f}% ==="
        )
        print(f"  paired with {ms[0].reference or 'nothing'}; {'; '.join(ms[0].notes) or 'threads not pinned'}")
        macs_tr = np.array([table_totals(layer_table(m.spec))["macs"] for m in m_train], float)
        e2e_tr = np.array([m.latency_calibration_ms for m in m_train])
        k_flops = float(np.median(e2e_tr / macs_tr))
        print(f"  {'latency (vs measured)':<26} {'±10%':>7} {'τ':>7} {'MAPE':>8} {'worst':>8}")
        run = doc["by_threads"][str(threads)] = {
            "rounds": rounds,
            "measure_s": round(elapsed, 1),
            "round_spread_pct": {"median": float(np.median(spreads)), "p90": float(np.percentile(spreads, 90))},
            "reference": ms[0].reference,
        }
        for label, group, rep_group in (
            ("same families", m_test, again[: len(test)]),
            (f"held-out {HELD_OUT_FAMILY}", m_fam, again[len(test) :]),
        ):
            y = np.array([m.latency_calibration_ms for m in group])
            print(f" {label}:")
            pred = cal.predict_many_ms([m.spec for m in group])
            macs = np.array([table_totals(layer_table(m.spec))["macs"] for m in group], float)
            roof = np.array([estimate(m.spec, host).latency_ms for m in group])
            y2 = np.array([m.latency_calibration_ms for m in rep_group])
            rows = run[label] = {
                "calibrated (per-segment)": latency_errors(pred, y),
                "FLOPs-proportional": latency_errors(k_flops * macs, y),
                "roofline (uncalibrated)": latency_errors(roof, y),
                "noise: 2nd measurement": latency_errors(y2, y),
                "noise: 2nd, level-free": latency_errors(y2 * np.median(y / y2), y),
            }
            for name, rep in rows.items():
                print(_row(name, rep))
            worst = np.argsort(-np.abs(pred / y - 1))[:3]
            print(
                "  worst calibrated: "
                + "; ".join(
                    f"{group[i].spec.short_name()} {pred[i]:.2f} vs {y[i]:.2f} ms (2nd {y2[i]:.2f}, "
                    f"round spread {group[i].latency_spread_pct:.0f}%)"
                    for i in worst
                )
            )
        mem_m = np.array([m.peak_activation_bytes for m in ms], float)
        mem_p = np.array(
            [peak_activation_bytes(layer_table(m.spec), unfused_acts=ORT_CPU_UNFUSED_ACTS) for m in ms], float
        )
        rel = np.abs(mem_p - mem_m) / mem_m
        print(
            f"  peak memory (liveness vs ORT accounting): {np.mean(rel <= 0.20):.0%} within ±20%, "
            f"median error {np.median(rel) * 100:.2f}%, worst {rel.max() * 100:.2f}% (n={len(rel)})"
        )
        run["peak_memory"] = {
            "within_20pct": float(np.mean(rel <= 0.20)),
            "median_error_pct": float(np.median(rel) * 100),
            "worst_error_pct": float(rel.max() * 100),
            "n": int(len(rel)),
        }
        run["calibration_summary"] = cal.summary()
        print(f"  calibration file report: {cal.report}")
        if args.save:
            out = Path(args.save) / f"fidelity-{threads}t.json"
            out.parent.mkdir(parents=True, exist_ok=True)
            sets = {"train": m_train, "test": m_test, "held_out_family": m_fam, "repeat": again}
            out.write_text(json.dumps({k: [m.to_dict() for m in v] for k, v in sets.items()}))
            print(f"  measurements written to {out}")
    print(f"stored: {write_result('fidelity', doc, args.json)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

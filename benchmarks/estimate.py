"""Design points per second: ``estimate_many`` vs repeated ``estimate`` calls, side by side.

    python benchmarks/estimate.py [--points 100000] [--profile jetson-orin-nano-8gb] [--sample 300]
    python benchmarks/estimate.py --calibration host-1t.json --points 20000    # calibrated throughput

Builds a grid of (family, width, depth, resolution, precision) design points, evaluates it on
every power mode of the profile with one ``estimate_many`` call (the number of design points
is rows × modes), then times ``estimate`` on a random sample of the same points and
extrapolates; checks that both paths give the same numbers on the sample. Repeats the batch
timing and reports the median with its spread.

With ``--calibration FILE`` (its profile is used), the same grid is also evaluated with the
calibration: cold (every per-point prediction cleared) and warm (the cache a search builds), side
by side with the analytic rate, to show what the calibrated latency model costs.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import write_result  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import track  # noqa: E402

from edgespace import ArchSpec, load_profile
from edgespace.archs import list_families
from edgespace.cost import estimate, estimate_many  # noqa: E402


def grid(points_wanted: int, n_modes: int) -> pd.DataFrame:
    rows_wanted = int(np.ceil(points_wanted / n_modes))
    widths = [0.35, 0.5, 0.75, 1.0, 1.1, 1.2, 1.4, 1.6, 1.8, 2.0]
    depths = [1.0, 1.1, 1.2, 1.4, 1.8, 2.2]
    precisions = ["fp32", "fp16", "int8"]
    structures = [
        (f, w, d) for f in list_families() for w in widths for d in (depths if f == "efficientnet" else [1.0])
    ]
    per_structure = int(np.ceil(rows_wanted / (len(structures) * len(precisions))))
    resolutions = np.linspace(96, 600, per_structure).round().astype(int)
    records = [(f, w, d, int(r), p) for (f, w, d), r, p in itertools.product(structures, resolutions, precisions)]
    return pd.DataFrame(records[:rows_wanted], columns=["family", "width", "depth", "resolution", "precision"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--profile", default="jetson-orin-nano-8gb")
    parser.add_argument("--sample", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--calibration", help="also time estimate_many with this calibration file")
    parser.add_argument("--json", metavar="PATH", help="result file (default benchmarks/results/estimate.json)")
    args = parser.parse_args()
    console = Console()
    cal = None
    if args.calibration:
        from edgespace.cost import load_calibration

        cal = load_calibration(args.calibration)
        args.profile = cal.applies_to["profile"]
    profile = load_profile(args.profile)
    modes = list(profile.modes)
    frame = grid(args.points, len(modes))
    n_points = len(frame) * len(modes)
    console.print(f"{len(frame):,} specs × {len(modes)} modes = {n_points:,} design points on {profile.name}")

    batch_s = []
    for _ in track(range(args.repeats), description="estimate_many"):
        t0 = time.perf_counter()
        result = estimate_many(frame, profile)
        batch_s.append(time.perf_counter() - t0)

    rng = np.random.default_rng(0)
    sample = rng.choice(len(result), size=min(args.sample, len(result)), replace=False)
    single_s = []
    for i in track(sample, description="estimate (sample)"):
        row = result.iloc[i]
        spec = ArchSpec(
            row["family"], float(row["width"]), float(row["depth"]), int(row["resolution"]), row["precision"]
        )
        t0 = time.perf_counter()
        est = estimate(spec, profile, row["mode"])
        single_s.append(time.perf_counter() - t0)
        for col in ("latency_ms", "energy_mj", "sustained_fps", "peak_activation_mb"):
            a, b = getattr(est, col), row[col]
            if not (np.isclose(a, b, rtol=1e-9) or (np.isinf(a) and np.isinf(b))):
                raise SystemExit(f"mismatch in {col} for {spec.short_name()} / {row['mode']}: {a} vs {b}")

    med = float(np.median(batch_s))
    per_single = float(np.median(single_s))
    console.print(
        f"estimate_many : {med:6.2f} s median over {args.repeats} runs (min {min(batch_s):.2f}, max "
        f"{max(batch_s):.2f}) = {n_points / med:,.0f} design points/s (goal: {n_points:,} in < 10 s)"
    )
    q1, q3 = np.percentile(single_s, [25, 75]) * 1e3
    console.print(
        f"estimate      : {per_single * 1e3:6.3f} ms per point median (IQR {q1:.3f}–{q3:.3f}) → "
        f"{n_points * per_single:,.0f} s for the same {n_points:,} points, extrapolated"
    )
    console.print(
        f"speed-up      : {n_points * per_single / med:,.0f}×; both paths agree on {len(sample)} sampled points"
    )
    if cal is not None:
        cold, warm = [], []
        for _ in track(range(args.repeats), description="estimate_many, calibrated"):
            cal._cache.clear()
            t0 = time.perf_counter()
            calibrated = estimate_many(frame, profile, calibration=cal)
            cold.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            estimate_many(frame, profile, calibration=cal)
            warm.append(time.perf_counter() - t0)
        n_cal = int((calibrated["latency_source"] != "analytic").sum())
        for label, times in (("cold", cold), ("warm", warm)):
            m = float(np.median(times))
            console.print(
                f"calibrated {label:4s}: {m:6.2f} s median (min {min(times):.2f}, max {max(times):.2f}) = "
                f"{n_points / m:,.0f} design points/s, {med / m:.2f}× the analytic rate "
                f"({n_cal:,} of {n_points:,} points calibrated)"
            )
    doc = {
        "profile": profile.name,
        "design_points": n_points,
        "repeats": args.repeats,
        # timings: median with min and max over the repeats (noisy on a shared machine)
        "estimate_many_s": {"median": med, "min": min(batch_s), "max": max(batch_s)},
        "estimate_ms_per_point": {"median": per_single * 1e3, "iqr": [float(q1), float(q3)]},
        "agreeing_sampled_points": len(sample),
    }
    console.print(f"stored: {write_result('estimate', doc, args.json)}")


if __name__ == "__main__":
    main()

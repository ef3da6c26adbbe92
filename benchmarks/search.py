"""NSGA-II search vs the exhaustive front: speed in memory and on the journal file, and quality.

    python benchmarks/search.py [--trials 5000] [--repeats 3] [--profile jetson-orin-nano-8gb] [--skip-journal]

Space: EfficientNet with free width 0.5–2.0 (step 0.05), depth 0.5–3.0 (step 0.1), resolution
128–512 (step 16), three precisions and every power mode of the profile (241,800 design points
on the Orin Nano). Objectives accuracy (max) and energy_mj (min); constraint
sustained_latency_ms <= 33 (30 fps sustained). ``screen`` evaluates the whole grid and gives
the exhaustive front; each NSGA-II run (population 50, seeds 0, 1, 2, ...) is timed in memory,
then one run on the default journal storage. Quality: hypervolume of the found front / that of
the exhaustive front, both against the nadir of the feasible grid (the lowest feasible accuracy,
the highest feasible energy). Also reported against the exhaustive front's own nadir (its lowest accuracy, its highest energy),
which counts only the region the front spans and so is stricter. Reports medians and the spread.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import write_result  # noqa: E402

from edgespace import load_profile  # noqa: E402
from edgespace.study import EfficientNetSpace, hypervolume, screen, search  # noqa: E402

OBJECTIVES = ["accuracy", "energy_mj"]
CONSTRAINTS = ["sustained_latency_ms <= 33"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=5000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--profile", default="jetson-orin-nano-8gb")
    ap.add_argument("--skip-journal", action="store_true")
    ap.add_argument("--json", metavar="PATH", help="result file (default benchmarks/results/search.json)")
    args = ap.parse_args()

    profile = load_profile(args.profile)
    space = EfficientNetSpace(phi=None)
    size = space.size(profile)
    t0 = time.perf_counter()
    full = screen(space, profile, OBJECTIVES, CONSTRAINTS)
    t_screen = time.perf_counter() - t0
    feasible = full[full["feasible"]]
    ref = {"accuracy": float(feasible["accuracy"].min()), "energy_mj": float(feasible["energy_mj"].max())}
    hv_exact = hypervolume(full, OBJECTIVES, ref)
    print(
        f"space: {size:,} design points ({len(feasible):,} feasible); screen: {t_screen:.1f} s; "
        f"exhaustive front: {int(full['pareto'].sum())} points, hypervolume {hv_exact:.2f} against {ref}"
    )

    front = full[full["pareto"]]
    tight = {"accuracy": float(front["accuracy"].min()), "energy_mj": float(front["energy_mj"].max())}
    hv_tight = hypervolume(full, OBJECTIVES, tight)
    times, ratios, fronts, distinct, tights = [], [], [], [], []
    for seed in range(args.repeats):
        t0 = time.perf_counter()
        r = search(space, profile, OBJECTIVES, CONSTRAINTS, n_trials=args.trials, storage="memory", seed=seed)
        times.append(time.perf_counter() - t0)
        frame = r.trials_frame(complete_only=True)
        distinct.append(len(frame.drop_duplicates(subset=["width", "depth", "resolution", "precision", "mode"])))
        ratios.append(r.hypervolume(ref) / hv_exact)
        tights.append(r.hypervolume(tight) / hv_tight)
        fronts.append(len(r.pareto_front()))
        print(
            f"  in memory, seed {seed}: {times[-1]:.1f} s, front {fronts[-1]} points, hypervolume {100 * ratios[-1]:.2f} % "
            f"of exhaustive ({100 * tights[-1]:.2f} % against the front's own nadir), {distinct[-1]:,} distinct points evaluated"
        )
    print(
        f"NSGA-II {args.trials} trials in memory: median {statistics.median(times):.1f} s "
        f"({min(times):.1f}–{max(times):.1f} s over {len(times)} runs; goal < 30 s)"
    )
    print(
        f"hypervolume: median {100 * statistics.median(ratios):.2f} % of the exhaustive front's "
        f"({100 * min(ratios):.2f}–{100 * max(ratios):.2f} %; goal >= 99 %); against the exhaustive front's nadir {tight}, "
        f"a stricter reference: median {100 * statistics.median(tights):.2f} %"
    )
    print(
        f"evaluated: {args.trials:,} trials = {100 * args.trials / size:.2f} % of the grid "
        f"({statistics.median(distinct):,.0f} distinct points = {100 * statistics.median(distinct) / size:.2f} %; goal <= 5 %)"
    )

    doc = {
        "profile": profile.name,
        "trials": args.trials,
        "space_points": size,
        "screen_s": t_screen,
        "in_memory_s": {"median": statistics.median(times), "min": min(times), "max": max(times)},
        "hypervolume_fraction": {"median": statistics.median(ratios), "min": min(ratios), "max": max(ratios)},
        "hypervolume_fraction_front_nadir": statistics.median(tights),
        "distinct_points": statistics.median(distinct),
    }
    if not args.skip_journal:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            r = search(
                space,
                profile,
                OBJECTIVES,
                CONSTRAINTS,
                n_trials=args.trials,
                storage=f"journal:{tmp}/bench.journal",
                study_name="bench",
                seed=0,
            )
            t_journal = time.perf_counter() - t0
            size_mb = Path(tmp, "bench.journal").stat().st_size / 1e6
            hv_journal = r.hypervolume(ref) / hv_exact
        print(
            f"NSGA-II {args.trials} trials on the journal file: {t_journal:.1f} s (one run; goal < 180 s), "
            f"journal {size_mb:.1f} MB, hypervolume {100 * hv_journal:.2f} %"
        )
        doc["journal"] = {"seconds": t_journal, "size_mb": size_mb, "hypervolume_fraction": hv_journal}
    print(f"stored: {write_result('search', doc, args.json)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Which families a search over the default space visits, and which reach its Pareto front.

    python benchmarks/search_families.py [--trials 200] [--profile snapdragon-8-gen-3] [--seeds 0,1,2]

Space ``all`` (EfficientNet | EfficientNetV2 | MobileNet | MobileNetV4 | EfficientViT, every
precision and power mode), objectives accuracy (max) and sustained_latency_ms (min), NSGA-II in memory, one run per
seed. Stores, per seed, the trials and front points of each family, and how many of the newer
families (EfficientNetV2, the MobileNetV4 Conv and Hybrid networks and EfficientViT B0-B3) the run
visited.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import write_result  # noqa: E402

from edgespace.study import search  # noqa: E402

NEWER = (
    "efficientnetv2",
    "mobilenetv4_conv_small",
    "mobilenetv4_conv_medium",
    "mobilenetv4_conv_large",
    "mobilenetv4_hybrid_medium",
    "mobilenetv4_hybrid_large",
    "efficientvit_b0",
    "efficientvit_b1",
    "efficientvit_b2",
    "efficientvit_b3",
)
OBJECTIVES = ["accuracy", "sustained_latency_ms"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--profile", default="snapdragon-8-gen-3")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--json", metavar="PATH", help="result file (default benchmarks/results/search_families.json)")
    args = ap.parse_args()

    runs = []
    for seed in (int(s) for s in args.seeds.split(",")):
        r = search("all", args.profile, OBJECTIVES, n_trials=args.trials, seed=seed, storage="memory")
        trials = r.trials_frame(complete_only=True)["family"].value_counts().sort_index()
        front = r.pareto_front()["family"].value_counts().sort_index()
        visited = sorted(set(trials.index) & set(NEWER))
        runs.append(
            {
                "seed": seed,
                "trials_by_family": {k: int(v) for k, v in trials.items()},
                "front_by_family": {k: int(v) for k, v in front.items()},
                "newer_families_visited": len(visited),
            }
        )
        print(
            f"seed {seed}: {len(visited)} newer families visited; trials {runs[-1]['trials_by_family']}; "
            f"front {runs[-1]['front_by_family']}"
        )
    doc = {"space": "all", "profile": args.profile, "objectives": OBJECTIVES, "trials": args.trials, "runs": runs}
    print(f"stored: {write_result('search_families', doc, args.json)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

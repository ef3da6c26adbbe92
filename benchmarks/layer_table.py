"""Analytic layer table vs. timm build + fvcore count, measured side by side in one run.

    python benchmarks/layer_table.py [--specs 16] [--seed 0]

For each of N fresh random specs (all four families, widths 0.35–2.0, depths 1.0–3.1,
resolutions 96–600, MACs ≤ 2 G so the baseline stays affordable) it times, interleaved:
  * ``layer_table(spec)`` cold: the decoded arch-def and structure caches cleared first, so
    nothing is reused (best of 5 such calls, to keep scheduler noise out);
  * ``layer_table(spec)`` warm: the same family/width/depth seen before at another resolution
    (what a search does most of the time; best of 5);
  * building the timm module and counting it with fvcore (the naive path; one run: it takes
    seconds, and the first run is the one a user pays).
Prints medians with their interquartile spread and the ratio of the medians, and checks that
both paths count the same MACs.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import write_result  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import track  # noqa: E402

from edgespace import ArchSpec, build, layer_table
from edgespace._layer_table import _decoded, layer_skeleton  # noqa: E402
from edgespace._timing import best_seconds  # noqa: E402
from edgespace.archs import get_family, list_families  # noqa: E402
from edgespace.layers import table_totals  # noqa: E402


def _draw(n: int, seed: int) -> list[ArchSpec]:
    rng = np.random.default_rng(seed)
    families = list_families()
    specs: list[ArchSpec] = []
    while len(specs) < n:
        family = families[len(specs) % len(families)]
        width = round(float(rng.uniform(0.35, 2.0)), 4)
        depth = round(float(rng.uniform(1.0, 3.1)), 4)
        spec = ArchSpec(
            family,
            width,
            depth if get_family(family).depth_knob else 1.0,  # MobileNetV4: no depth knob
            int(rng.integers(96, 601)),
        )
        if table_totals(layer_table(spec))["macs"] <= 2e9:
            specs.append(spec)
    return specs


def _quartiles(values: list[float]) -> tuple[float, float, float]:
    q1, q2, q3 = np.percentile(values, [25, 50, 75])
    return float(q1), float(q2), float(q3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--specs", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", metavar="PATH", help="result file (default benchmarks/results/layer_table.json)")
    args = parser.parse_args()

    import torch
    from fvcore.nn import FlopCountAnalysis

    torch.set_num_threads(2)
    logging.getLogger("fvcore").setLevel(logging.ERROR)
    specs = _draw(args.specs, args.seed)
    cold, warm, naive, ratios, exact = [], [], [], [], []
    for spec in track(specs, description="timing"):

        def cold_call(spec=spec):
            # nothing cached: neither the decoded arch-def nor the structure
            _decoded.cache_clear()
            layer_skeleton.cache_clear()
            layer_table(spec)

        cold_s = best_seconds(cold_call, 5)
        other = ArchSpec(spec.family, spec.width, spec.depth, spec.resolution + 8)
        layer_table(other)  # the structure is now cached; the spec itself is still new
        warm_s = best_seconds(lambda spec=spec: layer_table(spec), 5)
        ours = table_totals(layer_table(spec))["macs"]

        def naive_count(spec=spec):
            model = build(spec)
            counts = FlopCountAnalysis(model, torch.zeros(1, 3, spec.resolution, spec.resolution))
            counts.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
            by_op = counts.by_operator()
            return by_op["conv"] + by_op["linear"]

        t0 = time.perf_counter()
        theirs = naive_count()
        naive_s = time.perf_counter() - t0
        if theirs != ours:
            raise SystemExit(f"MAC mismatch for {spec.short_name()}: analytic {ours}, fvcore {theirs}")
        exact.append({"spec": spec.to_dict(), "analytic_macs": int(ours), "fvcore_macs": int(theirs)})
        cold.append(cold_s)
        warm.append(warm_s)
        naive.append(naive_s)
        ratios.append(naive_s / cold_s)

    console = Console()
    c, w, nv = _quartiles(cold), _quartiles(warm), _quartiles(naive)
    console.print(f"{len(specs)} fresh specs, MACs identical on both paths for every spec")
    console.print(f"layer_table cold : median {c[1] * 1e3:8.3f} ms  (IQR {c[0] * 1e3:.3f}–{c[2] * 1e3:.3f})")
    console.print(f"layer_table warm : median {w[1] * 1e3:8.3f} ms  (IQR {w[0] * 1e3:.3f}–{w[2] * 1e3:.3f})")
    console.print(f"build + fvcore   : median {nv[1] * 1e3:8.1f} ms  (IQR {nv[0] * 1e3:.1f}–{nv[2] * 1e3:.1f})")
    console.print(f"ratio of medians : cold {nv[1] / c[1]:,.0f}×   warm {nv[1] / w[1]:,.0f}×   (goal ≥ 1000×)")
    r = _quartiles(ratios)
    console.print(f"per-spec ratio (cold): median {r[1]:,.0f}×  (IQR {r[0]:,.0f}–{r[2]:,.0f}×)")
    console.print(
        f"median of per-spec totals: {statistics.median(table_totals(layer_table(s))['macs'] for s in specs) / 1e6:,.0f} M MACs"
    )
    doc = {
        "specs": len(specs),
        "seed": args.seed,
        "macs_identical": sum(e["analytic_macs"] == e["fvcore_macs"] for e in exact),
        "exactness": exact,
        # timings: medians with their interquartile range (noisy on a shared machine)
        "layer_table_cold_ms": {"median": c[1] * 1e3, "iqr": [c[0] * 1e3, c[2] * 1e3]},
        "layer_table_warm_ms": {"median": w[1] * 1e3, "iqr": [w[0] * 1e3, w[2] * 1e3]},
        "build_fvcore_ms": {"median": nv[1] * 1e3, "iqr": [nv[0] * 1e3, nv[2] * 1e3]},
    }
    console.print(f"stored: {write_result('layer_table', doc, args.json)}")


if __name__ == "__main__":
    main()

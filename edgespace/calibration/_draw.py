"""Random design points for calibration and for the fidelity benchmark."""

from __future__ import annotations

import numpy as np

from edgespace._spec import ArchSpec

__all__ = ["draw_specs", "DEFAULT_FAMILIES", "DEFAULT_RANGES"]

DEFAULT_FAMILIES = ("efficientnet", "mobilenetv2", "mobilenetv3_small", "mobilenetv3_large")
#: (low, high) per knob: wide enough to cover what a search on a small device visits, small enough
#: that one measurement takes well under a second on two cores.
DEFAULT_RANGES = {"width": (0.35, 1.3), "depth": (0.5, 1.4), "resolution": (96, 256)}


def draw_specs(n: int, *, families=DEFAULT_FAMILIES, ranges=None, seed: int = 0, exclude=(),
               precision: str = "fp32") -> list[ArchSpec]:  # fmt: skip
    """``n`` distinct specs drawn uniformly (width to 0.05, depth to 0.1, resolution to 16 px),
    families in turn; none of ``exclude``."""
    r = dict(DEFAULT_RANGES, **(ranges or {}))
    rng = np.random.default_rng(seed)
    seen = {(s.family, s.width, s.depth, s.resolution) for s in exclude}
    out: list[ArchSpec] = []
    tries = 0
    while len(out) < n and tries < 100 * n + 100:
        tries += 1
        fam = families[len(out) % len(families)]
        w = round(float(rng.uniform(*r["width"])) / 0.05) * 0.05
        d = round(float(rng.uniform(*r["depth"])) / 0.1) * 0.1
        res = int(16 * round(rng.uniform(*r["resolution"]) / 16))
        key = (fam, round(w, 2), round(d, 1), res)
        if key in seen:
            continue
        seen.add(key)
        out.append(ArchSpec(fam, round(w, 2), round(d, 1), res, precision))
    return out

"""Random design points for calibration and for the fidelity benchmark."""

from __future__ import annotations

import numpy as np

from edgespace._errors import SpecError
from edgespace._spec import ArchSpec
from edgespace.archs import get_family

#: Most specs one draw returns: a calibration or capture set measures each one (seconds each), so
#: more is a typo, and the draw itself must stay bounded in time and memory.
MAX_DRAWN = 10_000

__all__ = ["draw_specs", "DEFAULT_FAMILIES", "DEFAULT_RANGES"]

DEFAULT_FAMILIES = (
    "efficientnet",
    "efficientnetv2",
    "mobilenetv2",
    "mobilenetv3_small",
    "mobilenetv3_large",
    "mobilenetv4_conv_small",
    "mobilenetv4_conv_medium",
    "mobilenetv4_conv_large",
    "mobilenetv4_hybrid_medium",
    "mobilenetv4_hybrid_large",
)
#: (low, high) per knob: wide enough to cover what a search on a small device visits, small enough
#: that one measurement takes well under a second on two cores.
DEFAULT_RANGES = {"width": (0.35, 1.3), "depth": (0.5, 1.4), "resolution": (96, 256)}


def _snap(fam: str, u: np.ndarray, r: dict, precision: str) -> tuple[tuple, ArchSpec]:
    """A point of the unit cube → a spec on the grid (width to 0.05, depth to 0.1, 16 px)."""
    w = round((r["width"][0] + u[0] * (r["width"][1] - r["width"][0])) / 0.05) * 0.05
    d = round((r["depth"][0] + u[1] * (r["depth"][1] - r["depth"][0])) / 0.1) * 0.1
    res = int(16 * round((r["resolution"][0] + u[2] * (r["resolution"][1] - r["resolution"][0])) / 16))
    w = min(max(w, r["width"][0]), r["width"][1])
    # a family whose generator has no depth multiplier (MobileNetV4) stays at depth 1.0
    d = min(max(d, r["depth"][0]), r["depth"][1]) if get_family(fam).depth_knob else 1.0
    res = min(max(res, 16 * int(np.ceil(r["resolution"][0] / 16))), 16 * int(r["resolution"][1] // 16))
    key = (fam, round(w, 2), round(d, 1), res)
    return key, ArchSpec(fam, round(w, 2), round(d, 1), res, precision)


def draw_specs(
    n: int,
    *,
    families=DEFAULT_FAMILIES,
    ranges=None,
    seed: int = 0,
    exclude=(),
    precision: str = "fp32",
    cover: bool = False,
    design: str | None = None,
) -> list[ArchSpec]:
    """``n`` distinct specs (width to 0.05, depth to 0.1, resolution to 16 px), families in turn;
    none of ``exclude``.

    ``cover=False`` draws uniformly at random (test sets). ``cover=True`` is for calibration: each
    family gets its smallest and largest corner of the ranges (so that a prediction anywhere in
    the ranges interpolates; the one network a fidelity run missed by a third was smaller than
    every calibration network) and a Latin hypercube (scipy ``qmc.LatinHypercube``) for the rest,
    which spreads the points over every knob's range.

    ``design`` names the choice instead (``cover`` is then ignored): ``"spread"`` the corners and
    a greedy k-medoids design over the latency model's own features
    (:mod:`edgespace.calibration._design`), ``"lhs"`` as ``cover=True``, ``"random"`` as
    ``cover=False``."""
    from edgespace.calibration._design import DESIGNS

    if design is not None and design not in DESIGNS:
        raise SpecError(f"design={design!r}: allowed: {', '.join(DESIGNS)}")
    if design is not None:
        cover = design == "lhs"
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 0 <= n <= MAX_DRAWN:
        raise SpecError(
            f"draw_specs(n={n!r}): allowed: an integer from 0 to {MAX_DRAWN:,} (each drawn network is "
            "exported and timed)"
        )
    n = int(n)
    r = dict(DEFAULT_RANGES, **(ranges or {}))
    rng = np.random.default_rng(seed)
    seen = {(s.family, s.width, s.depth, s.resolution) for s in exclude}
    out: list[ArchSpec] = []
    per_family = [n // len(families) + (1 if k < n % len(families) else 0) for k in range(len(families))]
    chosen: list[list[ArchSpec]] = []
    if design == "spread":
        from edgespace.calibration._design import spread_specs

        chosen = spread_specs(per_family, families, lambda fam, u: _snap(fam, u, r, precision), seed=seed, seen=seen)
    elif cover:
        from scipy.stats import qmc

        for k, (fam, m) in enumerate(zip(families, per_family, strict=True)):
            points = [np.zeros(3), np.ones(3)] if m >= 4 else []
            if m > len(points):
                points += list(qmc.LatinHypercube(d=3, seed=seed * 1009 + k).random(m - len(points)))
            mine = []
            for u in points:
                key, spec = _snap(fam, np.asarray(u), r, precision)
                if key not in seen:
                    seen.add(key)
                    mine.append(spec)
            chosen.append(mine)
    # families in turn, as without cover
    for i in range(max(map(len, chosen), default=0)):
        out += [c[i] for c in chosen if i < len(c)]
    tries = 0
    while len(out) < n and tries < 100 * n + 100:  # uniform draws (and any duplicates' stand-ins)
        tries += 1
        fam = families[len(out) % len(families)]
        key, spec = _snap(fam, rng.uniform(size=3), r, precision)
        if key in seen:
            continue
        seen.add(key)
        out.append(spec)
    return out[:n]

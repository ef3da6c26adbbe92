"""Which networks a calibration measures: a space-filling design over the latency model's own
features, so that few runs cover what the model must learn.

Per family: the smallest and the largest corner of the ranges (a prediction anywhere in the
ranges then interpolates), then, one at a time, the candidate farthest from every network already
chosen (greedy max-min distance) in the space of :func:`design_features`: log MACs and log bytes
of each segment kind (dense conv, depthwise, pointwise, linear), log element-wise bytes (the
activation, multiply, add and pool passes the model prices per byte), the depthwise share of
the MACs, log resolution and log segment count. The candidates are a seeded random pool of grid
points; the features are standardised over the pool, so each counts alike. Deterministic for a
seed.

Why not knobs: two networks far apart in (width, depth, resolution) can be near in what the
model sees (depth adds repeats of segments it already knows), and a knob-space Latin hypercube
leaves corners of the feature space (wide and shallow, narrow at high resolution) unmeasured.
"""

from __future__ import annotations

import numpy as np

from edgespace._layer_table import CONV_OPS, layer_table
from edgespace._spec import ArchSpec

__all__ = ["DESIGNS", "design_features", "spread_specs", "FEATURE_NAMES"]

#: Ways a calibration chooses its networks: ``spread`` (corners, then max-min over the model's
#: features), ``lhs`` (corners, then a Latin hypercube over the knobs), ``random`` (uniform).
DESIGNS = ("spread", "lhs", "random")

FEATURE_NAMES = tuple(
    [f"log_macs_{op}" for op in CONV_OPS]
    + [f"log_bytes_{op}" for op in CONV_OPS]
    + ["log_elem_bytes", "depthwise_share", "log_resolution", "log_segments"]
)

#: Candidates drawn per family (grid points, before duplicates are dropped): a pool this size
#: takes about a second to tabulate and leaves the greedy choice little to gain from more.
POOL_PER_FAMILY = 160


def design_features(spec: ArchSpec) -> np.ndarray:
    """The network's position in the latency model's feature space (see :data:`FEATURE_NAMES`)."""
    t = layer_table(spec)
    op = t["op"].to_numpy().astype(str)
    macs = t["macs"].to_numpy(np.float64)
    nbytes = (t["input_bytes"] + t["output_bytes"] + t["weight_bytes"]).to_numpy(np.float64)
    conv = np.isin(op, CONV_OPS)
    elem = ~conv & (op != "bn")
    out = [np.log1p(macs[op == k].sum()) for k in CONV_OPS]
    out += [np.log1p(nbytes[op == k].sum()) for k in CONV_OPS]
    total = macs[conv].sum()
    out += [
        np.log1p(t["output_bytes"].to_numpy(np.float64)[elem].sum()),
        float(macs[op == "depthwise"].sum() / total) if total > 0 else 0.0,
        np.log(float(spec.resolution)),
        np.log(float(conv.sum())),
    ]
    return np.asarray(out, dtype=np.float64)


def spread_specs(per_family, families, snap, *, seed: int, seen: set) -> list[list[ArchSpec]]:
    """Per family (``per_family[k]`` networks of ``families[k]``): the two corners, then greedy
    max-min over standardised :func:`design_features` of a seeded candidate pool. ``snap(fam, u)``
    maps a point of the unit cube to ``(key, spec)``; keys in ``seen`` are skipped and the chosen
    ones added."""
    rng = np.random.default_rng(seed)
    pools: list[list[tuple[tuple, ArchSpec]]] = []
    corners: list[int] = []  # how many of the pool's first entries are corners
    for fam, m in zip(families, per_family, strict=True):
        pool, keys = [], set()
        if m:
            units = [np.zeros(3), np.ones(3)] + list(rng.uniform(size=(POOL_PER_FAMILY, 3)))
            for j, u in enumerate(units):
                key, spec = snap(fam, u)
                if key not in keys and key not in seen:
                    keys.add(key)
                    pool.append((key, spec))
                if j == 1:
                    corners.append(len(pool))
        else:
            corners.append(0)
        pools.append(pool)
    feats = [np.array([design_features(s) for _, s in p]).reshape(len(p), len(FEATURE_NAMES)) for p in pools]
    allf = np.vstack([f for f in feats if len(f)]) if any(len(f) for f in feats) else np.zeros((0, 1))
    mu = allf.mean(axis=0) if len(allf) else 0.0
    sd = allf.std(axis=0) if len(allf) else 1.0
    sd = np.where(np.asarray(sd) > 0, sd, 1.0)
    chosen: list[list[ArchSpec]] = []
    for pool, f, m, c in zip(pools, feats, per_family, corners, strict=True):
        z = (f - mu) / sd
        picked: list[int] = []
        if m >= 2:
            picked = list(range(c))  # the corners not already measured (``seen``)
        if not picked and m >= 1 and len(pool):
            picked = [int(np.argmin(((z - z.mean(axis=0)) ** 2).sum(axis=1)))]
        dist = np.full(len(pool), np.inf)
        for i in picked:
            dist = np.minimum(dist, np.sqrt(((z - z[i]) ** 2).sum(axis=1)))
        while len(picked) < min(m, len(pool)):
            i = int(np.argmax(dist))  # ties: the first in pool order (seeded), so deterministic
            picked.append(i)
            dist = np.minimum(dist, np.sqrt(((z - z[i]) ** 2).sum(axis=1)))
        for i in picked:
            seen.add(pool[i][0])
        chosen.append([pool[i][1] for i in picked])
    return chosen

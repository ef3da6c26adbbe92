"""Which networks a calibration measures: a space-filling design over the latency model's own
features, so that few runs cover what the model must learn.

Per family: the smallest and the largest corner of the ranges when the family gets at least four
networks (a prediction anywhere in the ranges then interpolates), then, one at a time, the
candidate of the family that most lowers the mean distance from the candidate pool (every
family's: one latency model of segments serves them all) to its nearest chosen network (greedy k-medoids, or facility location) in the space of :func:`design_features`: log MACs and log bytes
of each segment kind (dense conv, depthwise, pointwise, linear), log element-wise bytes (the
activation, multiply, add and pool passes the model prices per byte), the depthwise share of
the MACs, log resolution and log segment count. The candidates are a seeded random pool of grid
points; the features are standardised over the pool, so each counts alike. Deterministic for a
seed. The pool is drawn as a search draws its candidates, so the design puts a measured network
near most of the networks a search asks about. Greedy max-min (the farthest candidate first) was
tried and dropped: it fills the edges of the space first and leaves the typical network farther
from any measured one than a Latin hypercube over the knobs does (median distance from 200
random networks to the nearest of 16 chosen: 1.77 against 1.70; k-medoids: 1.3).

Why not knobs: two networks far apart in (width, depth, resolution) can be near in what the
model sees (depth adds repeats of segments it already knows), and a knob-space Latin hypercube
leaves corners of the feature space (wide and shallow, narrow at high resolution) unmeasured.
"""

from __future__ import annotations

import numpy as np

from edgespace._layer_table import CONV_OPS, layer_table
from edgespace._spec import ArchSpec

__all__ = ["DESIGNS", "design_features", "spread_specs", "FEATURE_NAMES"]

#: Ways a calibration chooses its networks: ``spread`` (corners, then k-medoids over the model's
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
    """Per family (``per_family[k]`` networks of ``families[k]``): the two corners (from four
    networks up), then greedy k-medoids over standardised :func:`design_features` of a seeded candidate pool. ``snap(fam, u)``
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
    z = [(f - mu) / sd for f in feats]
    offsets = np.cumsum([0] + [len(p) for p in pools])
    everything = np.vstack([f for f in z if len(f)]) if len(allf) else np.zeros((0, 1))
    # one latency model of segments serves every family: distances over the whole pool
    pair = np.sqrt(((everything[:, None, :] - everything[None, :, :]) ** 2).sum(axis=2))
    nearest = np.full(len(everything), np.inf)  # each pool point's distance to its nearest pick
    picked: list[list[int]] = [[] for _ in pools]

    def take(k: int, i: int) -> None:
        nonlocal nearest
        picked[k].append(i)
        nearest = np.minimum(nearest, pair[offsets[k] + i])

    for k, (m, c) in enumerate(zip(per_family, corners, strict=True)):
        for i in range(c) if m >= 4 else ():  # the corners not already measured (``seen``)
            take(k, i)
    want = [min(m, len(p)) for m, p in zip(per_family, pools, strict=True)]
    while any(len(p) < w for p, w in zip(picked, want, strict=True)):
        for k in range(len(pools)):  # families in turn
            if len(picked[k]) >= want[k]:
                continue
            rows = pair[offsets[k] : offsets[k + 1]]
            # greedy k-medoids: the pick that most lowers the pool's mean distance to its nearest
            # pick (ties: the first in pool order, seeded, so deterministic)
            cost = np.minimum(rows, nearest[None, :]).mean(axis=1)
            cost[picked[k]] = np.inf
            take(k, int(np.argmin(cost)))
    chosen: list[list[ArchSpec]] = []
    for pool, mine in zip(pools, picked, strict=True):
        for i in mine:
            seen.add(pool[i][0])
        chosen.append([pool[i][1] for i in mine])
    return chosen

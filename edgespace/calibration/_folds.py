"""How a calibration's networks are split into the folds of its held-out report.

Each family's networks go to different folds (spread round-robin over the folds, in a seeded
random order): a fold never holds out every network of a family. Why: a held-out figure stands for
a network the calibration has not measured but whose family it has — the case of every prediction
a search makes — and the model learns per kind of operator (MobileNetV2 alone has ReLU6, the
MobileNetV4s alone have the extra depthwise of the UIB). With plain random folds, a 16-network
calibration of eight families (two networks each) held out both MobileNetV2s together in some
folds; that fold's model had never seen a ReLU6 and predicted them 4-6x too slow, and the 90%
interval built from those errors grew to a factor of six where the errors on unseen networks of
measured families were within 11%.
"""

from __future__ import annotations

import numpy as np

__all__ = ["family_folds"]


def family_folds(families, k: int = 5, seed: int = 0) -> list[np.ndarray]:
    """``k`` folds (arrays of positions into ``families``), each family's positions spread over
    distinct folds; folds differ in size by at most one where the families allow."""
    fam = np.asarray(list(families), dtype=object)
    rng = np.random.default_rng(seed)
    folds: list[list[int]] = [[] for _ in range(k)]
    start = 0
    for name in sorted(set(fam.tolist())):
        members = rng.permutation(np.flatnonzero(fam == name))
        for j, pos in enumerate(members):
            folds[(start + j) % k].append(int(pos))
        start += len(members)
    return [np.array(sorted(f), dtype=int) for f in folds if f]

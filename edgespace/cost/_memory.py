"""Peak activation memory from tensor liveness, as a pure function over plain arrays."""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["peak_activation_bytes"]


def peak_activation_bytes(
    output_bytes: Sequence[float], reads: Sequence[Sequence[int]], *, input_bytes: float = 0.0
) -> float:
    """Peak of live activation bytes when rows run in order.

    The tensor written by row ``i`` (``output_bytes[i]``) lives from step ``i`` to the last
    row that reads it (``reads[j]`` lists the rows row ``j`` reads; ``-1`` is the network
    input of ``input_bytes``, live from step 0). A tensor nobody reads (the output) lives for
    its own step only. This is the un-fused form used on layer tables and in tests; the cost
    models apply the same rule to fused kernels, vectorised over resolutions.
    """
    sizes = np.asarray(output_bytes, dtype=float)
    n = len(sizes)
    last = np.arange(n)
    input_last = 0
    for j, operands in enumerate(reads):
        for src in operands:
            if src == -1:
                input_last = max(input_last, j)
            elif src >= 0:
                last[src] = max(last[src], j)
    delta = np.zeros(n + 1)
    delta[:n] += sizes
    np.add.at(delta, last + 1, -sizes)
    delta[0] += input_bytes
    delta[input_last + 1] -= input_bytes
    return float(np.cumsum(delta)[:n].max())

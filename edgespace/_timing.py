"""Best-of-N wall-clock timing, shared by the host micro-benchmarks and ``benchmarks/``.

The minimum of several repeats estimates what the code costs with scheduler noise taken out
(noise only ever adds time); use a median with spread where the spread itself matters."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["best_seconds"]


def best_seconds(fn: Callable[[], object], repeats: int, warmup: int = 0) -> float:
    """The fastest of ``repeats`` calls of ``fn()`` (seconds, ``time.perf_counter``), after
    ``warmup`` untimed calls."""
    if repeats < 1:
        raise ValueError(f"repeats={repeats!r}: allowed: an integer >= 1")
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best

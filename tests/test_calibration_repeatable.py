"""A calibration fit is a function of its inputs alone: the first fit in a process runs on the
same single thread as every later one. threadpoolctl limits only the thread pools already loaded
when it is entered; scipy loads its own BLAS on first use, so before the fix the first fit's least
squares ran multi-threaded, rounded differently, and a fit with fewer networks than model columns
(a 16-network calibration of many families) landed on other coefficients than the same fit
repeated in that process — under the same calibration id."""

import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    from edgespace.calibration._model import _one_thread

    with _one_thread():
        from scipy.optimize import least_squares  # what the fit calls, loaded here for the first time
        from sklearn.ensemble import HistGradientBoostingRegressor  # noqa: F401
        from threadpoolctl import threadpool_info

        least_squares(lambda p: p - 1.0, [0.0])
        print(max(pool["num_threads"] for pool in threadpool_info()))
    """
)


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="one CPU: every pool has one thread anyway")
def test_every_thread_pool_the_fit_uses_is_limited_from_the_first_fit_on():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True, timeout=300)
    assert out.stdout.strip().splitlines()[-1] == "1", out.stdout

"""The ``host`` profile: this machine, measured by micro-benchmarks in a few seconds and cached.

What is measured (each number's ``source`` says "measured by edgespace on DATE: METHOD"):

* CPU peak per precision — fp32: a square matmul through NumPy (BLAS) and through ONNX Runtime
  (MLAS), the faster of the two; int8: ONNX Runtime
  ``MatMulInteger`` (MLAS u8×s8 GEMM); fp16: ONNX Runtime ``MatMul`` on float16, only where the
  CPU execution provider has a kernel for it (otherwise the precision is left out: the host
  cannot run it, and a number is never invented). Best of several repeats, 2 operations per MAC.
* memory bandwidth — a stream copy (``numpy.copyto`` of a 64 MiB buffer, far larger than the
  last-level caches) counted as read + write bytes; best of several repeats. The achievable
  fraction is 1 by construction: what was measured *is* what is achievable.
* dispatch overhead — ONNX Runtime per-node cost, from a chain of 64 ``Add`` nodes minus a
  single one; per-call overhead — a one-node model's ``InferenceSession.run`` time (median).
* memory capacity from ``sysconf``; the usable share from ``/proc/meminfo`` (MemAvailable /
  MemTotal) where Linux provides it.

Power and thermal numbers are **not** measured here (no power meter is read): they are marked
``estimate`` with their rationale. The cache lives in ``$EDGESPACE_CACHE_DIR`` (default: the
user cache directory, e.g. ``~/.cache/edgespace``) as ``host.yaml``, a normal profile file that
``edgespace profiles validate`` accepts; it is re-measured when the machine's fingerprint
(CPU model, core count, library versions) changes or when asked (``remeasure=True``).

``$EDGESPACE_HOST_PROFILE`` pins ``host`` to a profile file instead (one measured once and kept, so
that a CI job or a colleague's machine estimates with the same numbers): nothing is measured, and
the file's own labels say where its figures came from.

Timings on a busy machine vary; best-of-N keeps the peak estimate stable. Measure in a process
that has not just run torch work (its OpenMP threads keep spinning and steal cores).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
from pathlib import Path

import numpy as np
import yaml

from edgespace._cache import CACHE_DIR_ENV, cache_dir
from edgespace._errors import ProfileError
from edgespace.profiles._defaults import estimated_engine_fields
from edgespace.profiles._host_probe import (
    _copy_bandwidth_gb_s,
    _cpu_mhz,
    _cpu_model,
    _memory_bytes,
    _numpy_fp32_gflops,
    _ort_matmul_gops,
    _ort_overheads_us,
    _threads,
)
from edgespace.profiles._profile import HardwareProfile

__all__ = ["CACHE_DIR_ENV", "HOST_PROFILE_ENV", "host_cache_path", "host_profile", "measure_host"]

#: Environment variable naming a profile file that stands for ``host`` (nothing is measured).
HOST_PROFILE_ENV = "EDGESPACE_HOST_PROFILE"

_FINGERPRINT = "fingerprint: "


def host_cache_path() -> Path:
    """Where the measured host profile is cached."""
    return cache_dir() / "host.yaml"


#: How long a process waits for another one's host measurement before giving up (s).
LOCK_TIMEOUT_S = 600.0
#: Measurements this process has made (tests across processes count them).
measurements_made = 0


def _lock(path: Path):
    """A file lock beside the cache (``host.yaml.lock``): one process measures, the others wait
    for its result instead of measuring at the same time (four at once disturb each other's
    figures, and the last writer would win)."""
    from filelock import FileLock

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ProfileError(
            f"{path.parent}: cannot create the host profile cache folder: {exc.strerror or exc} (set {CACHE_DIR_ENV})"
        ) from None
    return FileLock(str(path) + ".lock", timeout=LOCK_TIMEOUT_S)


def _cached(path: Path) -> HardwareProfile | None:
    from edgespace.profiles._parse import _load_file

    if not path.is_file():
        return None
    try:
        cached = _load_file(path)
    except ProfileError:
        return None  # a damaged cache is re-measured, not an error
    return cached if _FINGERPRINT + _fingerprint() in cached.notes else None


def host_profile(*, remeasure: bool = False) -> HardwareProfile:
    """The cached host profile, measuring it first if there is none, it is from another
    machine, or ``remeasure`` is true. Concurrent processes wait on a file lock for one
    measurement and all read its result. Where ``$EDGESPACE_HOST_PROFILE`` names a profile file,
    that file is the host profile (see the module docstring) and ``remeasure`` is refused."""
    from filelock import Timeout

    if pinned := os.environ.get(HOST_PROFILE_ENV):
        return _pinned(pinned, remeasure)
    path = host_cache_path()
    if not remeasure and (found := _cached(path)) is not None:
        return found
    try:
        with _lock(path):
            if not remeasure and (found := _cached(path)) is not None:
                return found  # another process measured while this one waited
            return _measure_and_write(path)
    except Timeout:
        raise ProfileError(
            f"{path}: another process has held the host measurement lock for over "
            f"{LOCK_TIMEOUT_S:g} s; remove {path}.lock if no edgespace process is running"
        ) from None
    except OSError as exc:
        raise ProfileError(
            f"{path}.lock: cannot lock the host profile cache: {exc.strerror or exc} (set {CACHE_DIR_ENV})"
        ) from None


def _pinned(text: str, remeasure: bool) -> HardwareProfile:
    from edgespace.profiles._parse import _load_file

    path = Path(text).expanduser()
    if remeasure:
        raise ProfileError(
            f"{HOST_PROFILE_ENV}={text}: the host profile is pinned to this file, so it is not re-measured; "
            f"unset {HOST_PROFILE_ENV} to measure this machine"
        )
    if not path.is_file():
        raise ProfileError(
            f"{HOST_PROFILE_ENV}={text}: no such profile file (allowed: a profile .yaml file, or unset it to "
            "measure this machine)"
        )
    profile = _load_file(path)
    if profile.name != "host":
        raise ProfileError(
            f"{path}: name: {profile.name!r}: {HOST_PROFILE_ENV} takes a host profile (name: host), as "
            "`edgespace profiles show host` writes one"
        )
    return profile


def measure_host(*, cache: bool = True) -> HardwareProfile:
    """Measure this machine now (a few seconds) and return its profile; ``cache`` writes it to
    :func:`host_cache_path` (atomically, under the cache's file lock)."""
    from edgespace.profiles._parse import validate_profile

    if not cache:
        return validate_profile(_measure_counted(), origin="host (measured, not cached)")
    path = host_cache_path()
    with _lock(path):
        return _measure_and_write(path)


def _measure_counted() -> dict:
    global measurements_made
    data = _measure()
    measurements_made += 1
    return data


def _measure_and_write(path: Path) -> HardwareProfile:
    """Measure, then write the cache atomically (a temporary file renamed over it: a reader
    never sees half a file). The caller holds the lock."""
    from edgespace.profiles._parse import _load_file

    data = _measure_counted()
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(_HEADER + yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ProfileError(
            f"{path}: cannot write the host profile cache: {exc.strerror or exc} (set {CACHE_DIR_ENV})"
        ) from None
    return _load_file(path)


_HEADER = "# Measured by edgespace (edgespace.profiles.measure_host); re-measure with `edgespace profiles show host --remeasure`.\n"


# -- the measurements --------------------------------------------------------------------------


def _fingerprint() -> str:
    import onnxruntime as ort

    return json.dumps(
        {
            "cpu": _cpu_model(),
            "threads": _threads(),
            "machine": platform.machine(),
            "numpy": np.__version__,
            "onnxruntime": ort.__version__,
        },
        sort_keys=True,
    )


def _measure() -> dict:
    import onnxruntime as ort

    today = _dt.date.today().isoformat()
    threads = _threads()

    def measured(value: float, method: str, digits: int = 1) -> dict:
        return {"value": round(float(value), digits), "source": f"measured by edgespace on {today}: {method}"}

    def est(value: float, why: str) -> dict:
        return {"value": value, "estimate": why}

    # fp32 two ways (BLAS through NumPy, MLAS through ONNX Runtime); the faster is what this
    # machine can reach, and the source says which one it was.
    fp32_np, fp32_ort = _numpy_fp32_gflops(), _ort_matmul_gops("fp32", threads) or 0.0
    fp32 = max(fp32_np, fp32_ort)
    fp32_how = (
        f"numpy float32 512^3 matmul (BLAS), best of 8, {threads} threads; onnxruntime MatMul gave {fp32_ort:.1f}"
        if fp32_np >= fp32_ort
        else f"onnxruntime {ort.__version__} float32 MatMul 512^3, best of 8, {threads} threads; numpy gave {fp32_np:.1f}"
    )
    int8 = _ort_matmul_gops("int8", threads)
    fp16 = _ort_matmul_gops("fp16", threads)
    bw = _copy_bandwidth_gb_s()
    node_us, call_us = _ort_overheads_us(threads)
    total, avail = _memory_bytes()
    mhz = _cpu_mhz()

    cpu = {
        "kind": "cpu",
        "description": f"{_cpu_model()}, {threads} threads available to this process",
        "clock_mhz": (
            {
                "value": round(mhz, 1),
                "source": f"read by edgespace on {today} from cpufreq/cpuinfo (maximum over cores)",
            }
            if mhz
            else est(2000.0, "clock not readable on this OS; 2 GHz is typical of current laptop and server cores")
        ),
        "units": {"value": threads, "source": f"read by edgespace on {today}: threads available to this process"},
        "peak_gflops_fp32": measured(fp32, fp32_how),
        "active_power_w": est(
            round(8.0 * threads, 1),
            "no power meter read; ~8 W per busy x86 core (server parts: 200-300 W TDP over 32-64 cores)",
        ),
        "dispatch_overhead_us": measured(
            node_us, "ONNX Runtime CPU, chain of 64 Add nodes minus 1, median of 200 calls", 2
        ),
        "call_overhead_us": measured(
            call_us, "ONNX Runtime InferenceSession.run of a one-Add model, median of 400 calls", 2
        ),
        **estimated_engine_fields("cpu"),
        "op_support": {
            "source": "ONNX Runtime CPU execution provider operator kernels (onnxruntime docs, OperatorKernels.md): "
            "every operator of the layer table, fp32 and int8; fp16 where a float16 MatMul kernel was found above",
        },
    }
    if int8:
        cpu["peak_gops_int8"] = measured(int8, f"onnxruntime {ort.__version__} MatMulInteger u8xs8 512^3, best of 8")
    if fp16:
        cpu["peak_gflops_fp16"] = measured(fp16, f"onnxruntime {ort.__version__} float16 MatMul 512^3, best of 8")

    if total:
        capacity = {
            "value": round(total / 1e9, 3),
            "source": f"read by edgespace on {today}: sysconf / /proc/meminfo MemTotal",
        }
    else:
        capacity = est(8.0, "memory size not readable on this OS; 8 GB is a common minimum for development machines")
    if total and avail:
        usable = measured(min(1.0, max(avail / total, 0.01)), "/proc/meminfo MemAvailable / MemTotal", 3)
    else:
        usable = est(0.5, "half of RAM: the OS, the browser and the IDE share the rest")

    mode = {
        "description": "as measured; no power modes are switched by edgespace",
        "engines": {"cpu": cpu},
        "primary_engine": "cpu",
        "memory": {
            "capacity_gb": capacity,
            "usable_fraction": usable,
            "peak_bandwidth_gb_s": measured(bw, "numpy.copyto of a 64 MiB float64 buffer, read+write bytes, best of 6"),
            "achievable_fraction": {
                "value": 1.0,
                "source": f"measured by edgespace on {today}: the bandwidth above is itself an achieved stream-copy rate",
            },
            "energy_pj_per_byte": est(60.0, "DDR4/DDR5 access plus I/O is ~5-10 pJ/bit; 60 pJ/byte is mid-range"),
        },
        "power": {
            "idle_w": est(round(2.0 * threads, 1), "no power meter read; ~2 W per idle core share of a server package"),
            "static_w": est(
                round(3.0 * threads, 1), "no power meter read; uncore and memory share while busy, ~3 W per core"
            ),
            "budget_w": est(round(10.0 * threads, 1), "no power meter read; ~10 W per core share of a server CPU TDP"),
        },
        "thermal": {
            "thermal_resistance_c_per_w": est(
                0.2, "data-centre and desktop coolers are sized so the CPU does not throttle"
            ),
            "heat_capacity_j_per_c": est(500.0, "a tower or server heatsink, ~1 kg of aluminium and copper"),
            "trip_c": est(95.0, "typical x86 Tjmax/throttle point (AMD and Intel parts: 95-105 °C)"),
            "hysteresis_c": est(5.0, "typical governor hysteresis"),
            "ambient_c": est(25.0, "room temperature"),
            "cooling": "fan",
        },
    }
    return {
        "schema_version": 1,
        "name": "host",
        "device": f"{_cpu_model()} ({platform.system()} {platform.machine()})",
        "kind": "host",
        "description": "This machine, measured by edgespace micro-benchmarks (CPU only).",
        "default_mode": "measured",
        "standby": {
            "sleep_w": est(round(2.0 * threads, 1), "hosts do not sleep between frames; taken equal to idle power"),
            "description": "not applicable: a host stays powered",
        },
        "modes": {"measured": mode},
        "notes": [
            _FINGERPRINT + _fingerprint(),
            "fp16 is listed only when the ONNX Runtime CPU provider has a float16 MatMul kernel here"
            + ("" if fp16 else " (it does not, so the host cannot run fp16)"),
        ],
    }

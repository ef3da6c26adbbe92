"""The runner contract: one ABC, the :class:`Measurement` it returns, and the runner registry.

A runner executes a real network on a real backend and reports only what it measured. Units are
in field names (``latency_p50_ms``, ``peak_activation_bytes``, ``energy_per_inference_mj``). A number nobody
measured is ``None`` with the reason beside it, never a model's guess.
"""

from __future__ import annotations

import abc
from dataclasses import asdict, dataclass, field

import numpy as np

from edgespace._errors import CalibrationError, NotFoundError, UnavailableError
from edgespace._spec import ArchSpec

__all__ = ["Measurement", "Runner", "register_runner", "get_runner", "list_runners", "RUNNERS"]


@dataclass(frozen=True)
class Measurement:
    """One confirmation run of one spec.

    Latency statistics are over every timed run (``runs`` of them), taken in ``rounds`` rounds;
    ``latency_robust_ms`` is the minimum of the per-round medians (robust to a neighbour stealing
    the cores for a while) and ``latency_spread_pct`` the spread of those medians
    (``(max - min) / min``), the noise floor of this measurement; ``round_medians_ms`` holds the
    medians themselves. ``latency_paired_ms`` (interleaved calibration runs with a reference
    network, see :func:`~edgespace.runners.measure_interleaved`) is the median ratio of this
    network's time to the reference's, timed back to back, times the reference's median latency
    over the whole measurement; ``reference`` names the reference. ``throughput_fps`` is runs per
    second of timed wall clock (one inference at a time). For a duration run, ``throughput_series`` holds ``(t_s, fps)`` per window, ``peak_fps`` the best window and
    ``sustained_fps`` the median of the last third of the windows.

    Memory is ONNX Runtime's own accounting: ``peak_activation_bytes`` is the peak of live
    intermediate tensors (and kernel workspace) that its arena handed out during the first run of
    a profiled session, weights excluded (see :func:`edgespace.runners.read_ort_profile`);
    ``memory_source`` says so; ``rss_delta_bytes`` is the process's resident-set
    growth from before the session was created to after the runs (weights, arena, code pages).

    Energy (where a meter exists, else None and ``energy_unavailable_reason`` says why):
    ``energy_window_mj`` is what the meter counted over the timed window of ``energy_window_s``
    seconds (``runs`` inferences back to back), ``energy_per_inference_mj`` = window ÷ runs, and
    ``energy_mj`` is the same per-inference figure (as on an Estimate). ``idle_power_w`` is the
    power the meter saw over a short quiet window just before the timed one; it is reported
    apart and never subtracted (a device pays its idle power while it infers too).
    ``avg_power_w`` = window energy ÷ window duration. ``meter_domain`` says what the meter
    covers: ``cpu-package`` (RAPL), ``gpu-board`` (NVML), ``module-input`` (a Jetson's VDD_IN).

    ``clean_process`` is True only where the measuring process never imported torch
    (:func:`torch_never_imported`; its idle OpenMP threads slow CPU timings); a runner that does
    not check leaves it False.

    ``node_profile`` (when profiled) holds per-kernel times; see
    :func:`edgespace.calibration.map_nodes` for mapping them to layer-table rows.
    """

    spec: ArchSpec
    backend: str
    provider: str
    precision: str
    threads: int
    warmup: int
    runs: int
    rounds: int
    latency_p50_ms: float
    latency_p90_ms: float
    latency_p99_ms: float
    latency_mean_ms: float
    latency_min_ms: float
    latency_robust_ms: float
    latency_spread_pct: float
    throughput_fps: float
    duration_s: float | None = None
    throughput_series: tuple[tuple[float, float], ...] = ()
    peak_fps: float | None = None
    sustained_fps: float | None = None
    peak_activation_bytes: int | None = None
    memory_source: str = ""
    rss_delta_bytes: int | None = None
    energy_per_inference_mj: float | None = None
    energy_window_mj: float | None = None
    energy_window_s: float | None = None
    idle_power_w: float | None = None
    energy_unavailable_reason: str | None = None
    avg_power_w: float | None = None
    meter: str = "none"
    meter_domain: str = ""
    node_profile: object | None = field(default=None, repr=False, compare=False)
    model_path: str = ""  # the file the runtime ran (.onnx, .tflite, .pte); empty where it ran a module
    runtime_version: str = ""
    clean_process: bool = False
    date: str = ""
    notes: tuple[str, ...] = ()
    round_medians_ms: tuple[float, ...] = ()
    latency_paired_ms: float | None = None
    reference: str = ""

    @property
    def latency_calibration_ms(self) -> float:
        """The latency calibration fits to (see :func:`calibration_latency_ms`)."""
        return calibration_latency_ms(self)

    @property
    def energy_mj(self) -> float | None:
        """Energy per inference (mJ), as on an Estimate; None where nothing measured it."""
        return self.energy_per_inference_mj

    def to_dict(self) -> dict:
        """Plain data (JSON-ready); the node profile as a list of ``[name, op_type, time_us]``."""
        d = (
            asdict(self)
            if self.node_profile is None
            else asdict(self.__class__(**{**self.__dict__, "node_profile": None}))
        )
        d["spec"] = self.spec.to_dict()
        d["energy_mj"] = self.energy_mj
        d["throughput_series"] = [list(p) for p in self.throughput_series]
        if self.node_profile is not None:
            d["node_profile"] = [[n.name, n.op_type, n.time_us] for n in self.node_profile.nodes]
        return d


def torch_never_imported() -> bool:
    """Whether this process has never imported torch or any of its modules (a module once
    imported stays in ``sys.modules``, and torch's thread pools outlive its use)."""
    import sys

    return not any(name == "torch" or name.startswith("torch.") for name in list(sys.modules))


def calibration_latency_ms(m) -> float:
    """The latency a calibration fits to, the one definition: the reference-paired latency where
    the measurement has one, else the median of its per-round medians (robust to one slow
    round), else ``latency_robust_ms``."""
    paired = getattr(m, "latency_paired_ms", None)
    if paired is not None:
        return float(paired)
    rounds = getattr(m, "round_medians_ms", ())
    if rounds:
        return float(np.median(rounds))
    robust = getattr(m, "latency_robust_ms", None)
    if robust is None:
        raise CalibrationError(f"measurement of {m.spec.short_name()} has no latency")
    return float(robust)


class Runner(abc.ABC):
    """A backend that runs a network's file (ONNX, .tflite, .pte) or module. A backend says once why it cannot run here
    (:meth:`unavailable_reason`); ``measure`` does the work."""

    name: str = "runner"

    @classmethod
    @abc.abstractmethod
    def unavailable_reason(cls) -> str | None:
        """Why the backend cannot run here (its package does not import, no device), or None
        where it can: a cheap probe that never raises."""

    @classmethod
    def is_available(cls) -> bool:
        """Whether the backend can run here: :meth:`unavailable_reason` is None."""
        return cls.unavailable_reason() is None

    @abc.abstractmethod
    def measure(self, model_path, spec: ArchSpec, **kwargs) -> Measurement:
        """Time ``model_path`` (the network of ``spec`` in the backend's format; None for a backend
        that builds the module itself) and return what was measured."""


RUNNERS: dict[str, type[Runner]] = {}


def register_runner(cls: type[Runner]) -> type[Runner]:
    """Class decorator: make a runner available to :func:`confirm` by its ``name``."""
    RUNNERS[cls.name] = cls
    return cls


def list_runners(available_only: bool = False) -> list[str]:
    return sorted(n for n, c in RUNNERS.items() if not available_only or c.is_available())


#: Backends edgespace knows of whose runner is not installed here, and what each needs. A runner
#: module that registers one of these names replaces the entry.
KNOWN_BACKENDS = {
    "tensorrt": "the TensorRT runner needs the tensorrt Python package and an NVIDIA GPU with its driver",
}


def get_runner(name: str, **kwargs) -> Runner:
    """The runner named ``name``; :class:`~edgespace.UnavailableError` says why one is not here
    and which backends are."""
    if not isinstance(name, str) or name not in RUNNERS:
        here = ", ".join(list_runners(available_only=True)) or "none"
        why = KNOWN_BACKENDS.get(name) if isinstance(name, str) else None
        if why:
            raise UnavailableError(f"backend={name!r} is unavailable: {why}; available here: {here}")
        raise NotFoundError(
            f"backend={name!r} is unavailable: no such backend; known: "
            f"{', '.join(sorted({*RUNNERS, *KNOWN_BACKENDS}))}; available here: {here}"
        )
    cls = RUNNERS[name]
    reason = cls.unavailable_reason()
    if reason is not None:
        here = ", ".join(list_runners(available_only=True)) or "none"
        raise UnavailableError(f"backend={name!r} is unavailable: {reason}; available here: {here}")
    return cls(**kwargs)

"""The whole calibration loop on this machine: draw specs, export (child process), measure
(interleaved, profiled), fit, write."""

from __future__ import annotations

import os
from pathlib import Path

from edgespace._errors import SpecError
from edgespace._spec import ArchSpec
from edgespace.calibration._calibrate import Calibration
from edgespace.calibration._draw import DEFAULT_FAMILIES, draw_specs
from edgespace.calibration._fitting import calibrate
from edgespace.runners import REFERENCE_SPEC

__all__ = [
    "collect",
    "collect_phone",
    "run_calibration",
    "calibrate_from_captures",
    "run_gpu_calibration",
    "default_calibration_path",
]


def default_calibration_path(profile: str, threads: int | None) -> Path:
    """``<cache>/calibration/<profile>-<threads>t.json`` (``<profile>.json`` when the thread count
    is unknown, e.g. TensorRT captures)."""
    from edgespace._cache import cache_dir

    return cache_dir() / "calibration" / (f"{profile}-{threads}t.json" if threads else f"{profile}.json")


def collect(
    specs,
    *,
    threads: int,
    rounds: int = 10,
    round_s: float = 0.05,
    profile_runs: int = 10,
    cache_dir=None,
    progress=None,
    on_export=None,
    reference: ArchSpec | None = REFERENCE_SPEC,
):
    """Export ``specs`` (one child process, cached) and measure them interleaved in this process,
    each paired with ``reference`` (None: unpaired): a list of
    :class:`~edgespace.runners.Measurement` with node profiles."""
    from edgespace.runners import export_many, measure_interleaved

    specs = list(specs)
    paths = export_many(specs + ([reference] if reference is not None else []), cache_dir)
    if on_export is not None:
        on_export()
    ref_path = paths.pop() if reference is not None else None
    return measure_interleaved(
        paths,
        specs,
        threads=threads,
        rounds=rounds,
        round_s=round_s,
        profile_runs=profile_runs,
        progress=progress,
        reference_path=ref_path,
        reference_name=reference.short_name() if reference is not None else "",
    )


def collect_phone(
    specs,
    *,
    backend: str,
    threads: int,
    rounds: int = 10,
    round_s: float = 0.08,
    progress=None,
    precision: str = "fp32",
    reference: ArchSpec | None = REFERENCE_SPEC,
    profile_runs: int = 20,
):
    """Export ``specs`` for the phone ``backend`` (``litert`` or ``executorch``; one child process,
    cached) and time them through its XNNPACK CPU path as ONNX Runtime's calibration runs are timed:
    interleaved rounds, each network's batches paired with a run of ``reference`` (exported to the
    same backend and precision; None: unpaired). A list of :class:`~edgespace.runners.Measurement`.
    ExecuTorch's come with per-operator times from its event tracer (``profile_runs`` runs); LiteRT's
    Python interpreter has none, so its runs are end-to-end times (see
    :mod:`edgespace.calibration._e2e`)."""
    from edgespace.exporters import cached_phone_models
    from edgespace.runners import get_runner, measure_phone_interleaved

    fmt = get_runner(backend).format
    specs = [ArchSpec(s.family, s.width, s.depth, s.resolution, precision, s.num_classes) for s in specs]
    ref = None
    if reference is not None:
        ref = ArchSpec(reference.family, reference.width, reference.depth, reference.resolution, precision)
    paths = [str(p) for p in cached_phone_models(specs + ([ref] if ref is not None else []), fmt, precision)]
    ref_path = paths.pop() if ref is not None else None
    return measure_phone_interleaved(
        paths,
        specs,
        backend=backend,
        threads=threads,
        precision=precision,
        rounds=rounds,
        round_s=round_s,
        reference_path=ref_path,
        reference=ref,
        profile_runs=profile_runs if backend == "executorch" else 0,
        progress=progress,
    )


def run_calibration(
    profile: str = "host",
    samples: int = 30,
    *,
    backend: str = "onnxruntime",
    threads: int = 1,
    seed: int = 0,
    families=DEFAULT_FAMILIES,
    ranges=None,
    rounds: int = 10,
    out: str | os.PathLike | None = None,
    cache_dir=None,
    progress=None,
    design: str = "lhs",
) -> tuple[Calibration, Path, list]:
    """Choose ``samples`` specs by ``design`` (``"spread"``: per family the corners of the
    ranges, then a k-medoids design over the latency model's features; ``"lhs"``; ``"random"``;
    see :func:`draw_specs`), measure them with ``threads`` threads, fit and write the file.
    Returns (calibration, path written, measurements).

    ``progress(stage, step, total)`` is called as the work advances: stage ``"export"`` (0/1,
    then 1/1), ``"measure"`` (units of timing work) and ``"fit"``; the CLI draws a bar from it.

    ``backend``: ``onnxruntime`` (interleaved, reference-paired, profiled per node), or a phone
    runtime on this CPU, ``litert`` or ``executorch`` (XNNPACK; ExecuTorch profiled per operator
    through its event tracer, LiteRT end-to-end times fitted per network; the file is written as
    ``<profile>-<backend>-<threads>t.json``)."""
    if isinstance(samples, bool) or not isinstance(samples, int) or not 3 <= samples <= 10_000:
        raise SpecError(f"samples={samples!r}: allowed: an integer from 3 to 10,000 (networks to measure)")
    if not isinstance(threads, int) or threads < 1:
        raise SpecError(f"threads={threads!r}: allowed: an integer >= 1")
    from edgespace.profiles import load_profile

    def report(stage: str, step: int, total: int) -> None:
        if progress is not None:
            progress(stage, step, total)

    base = load_profile(profile)
    specs = draw_specs(samples, families=tuple(families), ranges=ranges, seed=seed, design=design)
    if backend != "onnxruntime":
        from edgespace.calibration._e2e import E2E_BACKENDS

        if backend not in E2E_BACKENDS:
            raise SpecError(f"backend={backend!r}: allowed: onnxruntime, {', '.join(E2E_BACKENDS)}")
        report("export", 0, 1)
        ms = collect_phone(
            specs, backend=backend, threads=threads, rounds=rounds, progress=lambda s, t: report("measure", s, t)
        )
        report("fit", 0, 1)
        cal = calibrate(
            base, ms, threads=threads, note=f"{backend} on this CPU; networks by the {design} design, seed {seed}"
        )
        report("fit", 1, 1)
        name = f"{base.name}-{backend}"
        path = cal.save(out if out is not None else default_calibration_path(name, threads))
        return cal, path, ms
    report("export", 0, 1)
    ms = collect(
        specs,
        threads=threads,
        rounds=rounds,
        cache_dir=cache_dir,
        progress=lambda step, total: report("measure", step, total),
        on_export=lambda: report("export", 1, 1),
    )
    report("fit", 0, 1)
    cal = calibrate(base, ms, threads=threads, note=f"networks chosen by the {design} design, seed {seed}")
    report("fit", 1, 1)
    path = cal.save(out if out is not None else default_calibration_path(base.name, threads))
    return cal, path, ms


def calibrate_from_captures(
    profile: str, directory: str | os.PathLike, *, threads: int | None = None, out: str | os.PathLike | None = None
):
    """Fit ``profile``'s calibration from a capture set measured on a device (written by
    :func:`~edgespace.calibration.write_capture_set`, profiled there) and write the file.
    Returns (calibration, path written, the :class:`CaptureSet` read: its ``missing`` lists the
    models that had no capture files). ``threads`` defaults to what the capture script recorded.
    The provenance names the directory, the runtime the captures came from and where each
    end-to-end latency came from. Raises ValueError when fewer than 3 models were captured."""
    from collections import Counter

    from edgespace.calibration._captures import read_capture_set
    from edgespace.profiles import load_profile

    base = load_profile(profile)  # a bad name fails before any file is read
    found = read_capture_set(directory)
    if len(found.items) < 3:
        raise ValueError(
            f"--from {directory}: {len(found.items)} captured model(s); need at least 3 "
            "(NAME.ort.json, or NAME.profile.json + NAME.times.json, next to each NAME.onnx; "
            "NAME.benchmark_model.txt or NAME.etdp next to each phone model)"
        )
    e2e = Counter(found.e2e_from if len(set(found.e2e_from)) < 4 else ["per-model files"])
    cal = calibrate(
        base,
        found.items,
        threads=threads if threads is not None else found.threads,
        note=f"ingested from {Path(directory).resolve().name}: {found.runtime}; end-to-end latency from {dict(e2e)}",
    )
    cal.provenance["runtime"] = found.runtime  # the device's runtime, not this machine's
    path = cal.save(out if out is not None else default_calibration_path(base.name, cal.threads))
    return cal, path, found


def run_gpu_calibration(
    profile: str,
    samples: int,
    *,
    backend: str = "torch-cuda",
    batches=(1, 32),
    precision: str = "fp16",
    compile: bool = False,
    families=DEFAULT_FAMILIES,
    seed: int = 0,
    out: str | os.PathLike | None = None,
    progress=None,
):
    """Measure ``samples`` networks (10 to 40) at each batch with the GPU ``backend``, fit the
    per-batch latency and energy model over the profile's roofline terms and write the file. The
    networks are drawn at ``precision``, the precision they are measured at (bf16 is refused: no
    spec carries it, so its calibration could never apply).
    Returns (calibration, path written). The board's idle power (W, None without a meter) is
    recorded in the provenance as ``idle_power_w``. ``progress(i, n, label, ...)`` is called per
    run. Raises UnavailableError (no GPU, no runtime) before anything runs."""
    from edgespace.calibration._gpu import calibrate_gpu
    from edgespace.calibration._gpu_collect import collect_gpu, gpu_spec_precision
    from edgespace.profiles import load_profile
    from edgespace.runners import get_runner

    base = load_profile(profile)  # a bad name fails before anything runs
    spec_precision = gpu_spec_precision(precision)  # so does a precision the specs cannot carry
    get_runner(backend)  # raises UnavailableError naming what is missing
    if isinstance(samples, bool) or not isinstance(samples, int) or not 10 <= samples <= 40:
        raise ValueError(f"--samples {samples}: allowed with --backend {backend}: 10 to 40")
    specs = draw_specs(samples, families=tuple(families), seed=seed, cover=True, precision=spec_precision)
    runs, idle_w = collect_gpu(
        specs, batches=batches, backend=backend, precision=precision, compile=compile, progress=progress
    )
    cal = calibrate_gpu(base, runs, note=f"edgespace calibrate --backend {backend}")
    cal.provenance["idle_power_w"] = idle_w
    path = cal.save(out if out is not None else default_calibration_path(f"{base.name}-{backend}", None))
    return cal, path

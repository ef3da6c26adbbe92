"""Measuring the networks a GPU calibration is fitted to (see :mod:`edgespace.calibration._gpu`
for the fit): every spec at every batch, at the precision the specs were drawn at."""

from __future__ import annotations

from edgespace._errors import CalibrationError, SpecError
from edgespace._spec import PRECISIONS

__all__ = ["collect_gpu", "gpu_spec_precision"]


def gpu_spec_precision(precision: str) -> str:
    """The spec precision a GPU calibration at ``precision`` draws its networks at: the same one.
    The analytic specs have no bf16, so a bf16 calibration could never apply to an estimate:
    refused with the reason."""
    if precision not in PRECISIONS:
        raise SpecError(
            f"precision={precision!r}: a GPU calibration draws its networks at the precision it measures, and "
            f"the analytic specs have {', '.join(PRECISIONS)} only; calibrate at one of those"
        )
    return precision


def collect_gpu(
    specs,
    *,
    batches=(1, 32),
    backend: str = "torch-cuda",
    precision: str = "fp16",
    compile: bool = False,
    runs: int = 200,
    rounds: int = 5,
    warmup: int = 20,
    idle_s: float = 2.0,
    energy_min_s: float = 2.0,
    progress=None,
    stop=None,
    meter=None,
) -> tuple[list, float | None]:
    """Measure every spec at every batch on a GPU backend (``torch-cuda`` or ``tensorrt``): a
    list of Measurements, and the board's idle power measured once before them, once the board
    has settled (W, None without NVML). Each spec's precision is the one measured. Each module
    is built once and timed at each batch; ``progress(step, total, label, m)`` after each
    measurement; ``stop()`` (when given) is asked before each network, and True ends the
    collection with what was measured. ``meter``: the power meter (default NVML)."""
    import dataclasses
    import gc

    from edgespace._build import build
    from edgespace.meters import get_meter
    from edgespace.runners import TimingPlan, get_runner, settled_idle_power

    specs = list(specs)
    wrong = sorted({s.precision for s in specs} - {precision})
    if wrong:
        raise CalibrationError(
            f"collect_gpu(precision={precision!r}): specs drawn at {', '.join(wrong)}; the features follow the "
            "spec and the calibration applies at the precision run: draw the specs at the precision measured"
        )
    runner = get_runner(backend, compile=compile) if backend == "torch-cuda" else get_runner(backend)
    meter = meter if meter is not None else get_meter("nvml", device=getattr(runner, "device", "cuda"))
    idle_w, _ = settled_idle_power(meter, idle_s)
    if hasattr(runner, "prepare_input"):  # export every ONNX file in one child process, not one each
        from edgespace.runners import export_many

        export_many([dataclasses.replace(s, batch=1) for s in specs])
    total, step, out = len(specs) * len(batches), 0, []
    for spec in specs:
        if stop is not None and stop():
            break
        model = build(spec) if backend == "torch-cuda" else None
        path = None
        if hasattr(runner, "prepare_input"):
            path, _ = runner.prepare_input(spec, precision)
        for b in batches:
            m = runner.measure(
                path,
                dataclasses.replace(spec, batch=int(b)),
                model=model,
                precision=precision,
                batch=int(b),
                timing=TimingPlan(warmup=warmup, runs=runs, rounds=rounds, profile=False),
                meter=meter,
                idle_s=0.0,
                energy_min_s=energy_min_s,
            )
            out.append(m)
            step += 1
            if progress is not None:
                progress(step, total, m.spec.short_name(), m)
        del model
        gc.collect()
        try:
            import torch

            torch.cuda.empty_cache()
        except Exception:  # noqa: BLE001, S110 - only a cache release; nothing to report
            pass
    return out, idle_w

"""Measuring a GPU for its calibration: every network at every batch on a GPU backend
(``torch-cuda`` or ``tensorrt``), with the board's idle power read once before them."""

from __future__ import annotations

__all__ = ["collect_gpu"]


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
) -> tuple[list, float | None]:
    """Measure every spec at every batch on a GPU backend (``torch-cuda`` or ``tensorrt``): a
    list of Measurements, and the board's idle power measured once before them (W, None without
    NVML). Each module is built once and timed at each batch; ``progress(step, total, label, m)``
    after each measurement."""
    import dataclasses
    import gc

    from edgespace._build import build
    from edgespace.meters import NullMeter, get_meter
    from edgespace.runners import get_runner

    runner = get_runner(backend, compile=compile) if backend == "torch-cuda" else get_runner(backend)
    meter = get_meter("nvml")
    idle_w = None
    if not isinstance(meter, NullMeter) and idle_s > 0:
        import time

        token = meter.begin_window()
        time.sleep(idle_s)
        idle_w = meter.end_window(token).avg_power_w
    specs = list(specs)
    if hasattr(runner, "prepare_input"):  # export every ONNX file in one child process, not one each
        from edgespace.runners import export_many

        export_many([dataclasses.replace(s, batch=1) for s in specs])
    total, step, out = len(specs) * len(batches), 0, []
    for spec in specs:
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
                warmup=warmup,
                runs=runs,
                rounds=rounds,
                meter=meter,
                idle_s=0.0,
                energy_min_s=energy_min_s,
                profile=False,
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

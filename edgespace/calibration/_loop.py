"""The whole calibration loop on this machine: draw specs, export (child process), measure
(interleaved, profiled), fit, write."""

from __future__ import annotations

import os
from pathlib import Path

from edgespace._errors import SpecError
from edgespace._spec import ArchSpec
from edgespace.calibration._calibrate import CalibratedProfile, calibrate
from edgespace.calibration._draw import DEFAULT_FAMILIES, draw_specs

__all__ = ["collect", "run_calibration", "default_calibration_path", "REFERENCE_SPEC"]

#: The network every calibration measurement is paired with (timed back to back, see
#: :func:`edgespace.runners.ort.measure_interleaved`): mid-sized for the calibration range
#: (~4 ms on one core here), so that it feels a slow spell of the core as the others do.
REFERENCE_SPEC = ArchSpec("mobilenetv2", 0.75, 1.0, 160)


def default_calibration_path(profile: str, threads: int | None) -> Path:
    """``<cache>/calibration/<profile>-<threads>t.json`` (``<profile>.json`` when the thread count
    is unknown, e.g. TensorRT captures)."""
    from edgespace.profiles._host import _cache_dir

    return _cache_dir() / "calibration" / (f"{profile}-{threads}t.json" if threads else f"{profile}.json")


def collect(specs, *, threads: int, rounds: int = 10, round_s: float = 0.05, profile_runs: int = 10,
            cache_dir=None, progress=None, on_export=None, reference: ArchSpec | None = REFERENCE_SPEC):  # fmt: skip
    """Export ``specs`` (one child process, cached) and measure them interleaved in this process,
    each paired with ``reference`` (None: unpaired): a list of
    :class:`~edgespace.runners.Measurement` with node profiles."""
    from edgespace.runners._export import export_many
    from edgespace.runners.ort import measure_interleaved

    specs = list(specs)
    paths = export_many(specs + ([reference] if reference is not None else []), cache_dir)
    if on_export is not None:
        on_export()
    ref_path = paths.pop() if reference is not None else None
    return measure_interleaved(paths, specs, threads=threads, rounds=rounds, round_s=round_s,
                               profile_runs=profile_runs, progress=progress, reference_path=ref_path,
                               reference_name=reference.short_name() if reference is not None else "")  # fmt: skip


def run_calibration(profile: str = "host", samples: int = 30, *, threads: int = 1, seed: int = 0,
                    families=DEFAULT_FAMILIES, ranges=None, rounds: int = 10, out: str | os.PathLike | None = None,
                    cache_dir=None, show_progress: bool = True) -> tuple[CalibratedProfile, Path, list]:  # fmt: skip
    """Draw ``samples`` specs, measure them with ``threads`` threads, fit and write the file.
    Returns (calibration, path written, measurements)."""
    if not isinstance(samples, int) or samples < 3:
        raise SpecError(f"samples={samples!r}: allowed: an integer >= 3 (networks to measure)")
    if not isinstance(threads, int) or threads < 1:
        raise SpecError(f"threads={threads!r}: allowed: an integer >= 1")
    from edgespace.profiles import load_profile

    base = load_profile(profile)
    specs = draw_specs(samples, families=tuple(families), ranges=ranges, seed=seed, cover=True)
    if show_progress:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      transient=False) as bar:  # fmt: skip
            export = bar.add_task(f"export {len(specs)} networks", total=1)
            meas = bar.add_task(f"measure ({threads} thread{'s' if threads > 1 else ''})", total=None)

            def tick(step: int, total: int) -> None:
                bar.update(meas, completed=step, total=total)

            ms = collect(specs, threads=threads, rounds=rounds, cache_dir=cache_dir, progress=tick,
                         on_export=lambda: bar.update(export, completed=1))  # fmt: skip
            fit = bar.add_task("fit", total=1)
            cal = calibrate(base, ms, threads=threads)
            bar.update(fit, completed=1)
    else:
        ms = collect(specs, threads=threads, rounds=rounds, cache_dir=cache_dir)
        cal = calibrate(base, ms, threads=threads)
    path = cal.save(out if out is not None else default_calibration_path(base.name, threads))
    return cal, path, ms

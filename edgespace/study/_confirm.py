"""Confirm a search's front with real runs: predicted against measured, stored with the study.

The points are measured as a calibration measures its networks (reference-paired, interleaved
rounds, threads pinned: :func:`edgespace.runners.measure_interleaved`), so the measured
latency is the figure a calibration would fit to. Energy is measured only where a CPU-domain power
meter works here (a separate metered run per point); otherwise it is None, never a model's number.

Confirmation checks where it runs: the ONNX Runtime CPU backend measures this machine (profile
``host``), so a study of another device is refused unless the caller asks for a proxy run
(``proxy=True``); proxy rows then say ``profile="host"``, carry the study's device in
``proxy_for``, no power mode or placement, and no prediction (the predictions are for the other
device). Each point is measured at its own batch and placement or fails with the reason.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd

from edgespace._spec import POINT_COLUMNS
from edgespace.study._errors import SearchError
from edgespace.study._objectives import OBJECTIVES

__all__ = ["CONFIRMATIONS_KEY", "CONFIRMATION_COLUMNS", "choose_points", "confirm_points", "confirmations_frame"]

#: Study user attr holding the confirmation rows (a list of dicts).
CONFIRMATIONS_KEY = "edgespace_confirmations"
#: Columns of :meth:`SearchResult.confirmations`, in order.
CONFIRMATION_COLUMNS = (
    *POINT_COLUMNS,
    "profile",
    "proxy_for",
    "backend",
    "provider",
    "threads",
    "predicted_latency_ms",
    "predicted_latency_low_ms",
    "predicted_latency_high_ms",
    "measured_latency_ms",
    "latency_error_pct",
    "latency_source",
    "predicted_energy_mj",
    "measured_energy_mj",
    "energy_error_pct",
    "meter",
    "meter_domain",
    "energy_unavailable_reason",
    "status",
    "round",
)

#: The machine each confirm backend measures (a profile name) and the placements it runs.
MEASURED_MACHINE = {
    "onnxruntime": ("host", ("auto", "cpu")),
    "litert": ("host", ("auto", "cpu")),
    "executorch": ("host", ("auto", "cpu")),
}
#: Backends timed through their own runner (XNNPACK on this CPU), one point after another.
PHONE_BACKENDS = ("litert", "executorch")


def choose_points(front: pd.DataFrame, top: int, by: str | None, objectives) -> pd.DataFrame:
    """``top`` rows of ``front``: spread evenly along it (sorted by the first objective), or the
    best ``top`` by the objective ``by``."""
    if not (isinstance(top, int) and not isinstance(top, bool) and top >= 1):
        raise SearchError(f"confirm(top={top!r}): allowed: an integer >= 1")
    if front.empty:
        return front
    if by is not None:
        direction = {o.name: o.direction for o in objectives}.get(by) or OBJECTIVES.get(by)
        if direction is None or by not in front.columns:
            raise SearchError(
                f"confirm(by={by!r}): allowed: {', '.join(sorted(set(OBJECTIVES) | {o.name for o in objectives}))}"
            )
        return front.sort_values(by, ascending=direction == "minimize").head(top).reset_index(drop=True)
    if top >= len(front):
        return front.reset_index(drop=True)
    idx = np.unique(np.round(np.linspace(0, len(front) - 1, top)).astype(int))
    return front.iloc[idx].reset_index(drop=True)


def _error_pct(pred, meas) -> float | None:
    if pred is None or meas is None or not (isinstance(pred, (int, float)) and math.isfinite(pred)) or not meas:
        return None
    return float((pred - meas) / meas * 100.0)


def check_machine(profile, backend: str, proxy: bool) -> str | None:
    """The study profile's name when ``backend`` measures another machine and ``proxy`` is set
    (the rows are then a proxy run for it), None when the profile is the machine measured.
    :class:`SearchError` naming both when it is not and no proxy run was asked for."""
    measured, _ = MEASURED_MACHINE[backend]
    name = getattr(profile, "name", profile)
    kind = getattr(profile, "kind", None)
    if name == measured or kind == measured or profile is None:
        return None
    if proxy:
        return str(name)
    device = getattr(profile, "device", "")
    raise SearchError(
        f"confirm(): the study's profile is {name!r}{f' ({device})' if device else ''}, but backend "
        f"{backend!r} measures this machine (profile {measured!r}); a latency timed here is not a "
        f"{name} latency. Run the front on the device (edgespace.calibration.capture), or pass "
        f"proxy=True (CLI: --confirm-proxy) to time it here as a proxy: its rows then say profile "
        f"{measured!r}, with no power mode, placement or prediction of {name}"
    )


def confirm_points(
    points: pd.DataFrame,
    *,
    backend: str = "onnxruntime",
    threads: int = 1,
    rounds: int = 10,
    provider: str = "CPUExecutionProvider",
    meter: str = "auto",
    cache_dir=None,
    progress: Callable[[int, int], None] | None = None,
    profile=None,
    proxy: bool = False,
    profile_runs: int = 1,
    measured: dict | None = None,
) -> list[dict]:
    """Export and run ``points`` (rows with the design-point columns, ``latency_ms``,
    ``energy_mj`` and ``latency_source`` predicted); one dict per point with
    :data:`CONFIRMATION_COLUMNS`. A point that cannot be prepared or run gets status
    ``failed: <reason>``; the others are still measured. ``profile``: the study's profile
    (refused unless it is the machine ``backend`` measures, or ``proxy=True``; see
    :func:`check_machine`). ``measured``: a dict that receives each measured row's
    :class:`~edgespace.runners.Measurement` by row index (with its node profile of
    ``profile_runs`` runs: what a calibration is refitted with)."""
    from edgespace._spec import ArchSpec
    from edgespace.runners import (
        REFERENCE_SPEC,
        OnnxRuntimeRunner,
        TimingPlan,
        export_many,
        measure_interleaved,
        prepare_onnx,
    )

    if backend not in MEASURED_MACHINE:
        raise SearchError(
            f"confirm(backend={backend!r}): allowed here: {', '.join(MEASURED_MACHINE)} (other backends: "
            "edgespace.confirm(spec, backend=...) on their device)"
        )
    if not (isinstance(threads, int) and threads >= 1):
        raise SearchError(f"confirm(threads={threads!r}): allowed: an integer >= 1")
    proxy_for = check_machine(profile, backend, bool(proxy))
    machine, placements = MEASURED_MACHINE[backend]
    if backend in PHONE_BACKENDS:
        provider = "XNNPACK"
    rows, specs, skip = [], [], []
    seen = set()
    for r in points.to_dict(orient="records"):
        row = {c: r.get(c) for c in POINT_COLUMNS}
        batch = int(r.get("batch") or 1)
        row.update(
            profile=machine,
            proxy_for=proxy_for,
            backend=backend,
            provider=provider,
            threads=int(threads),
            predicted_latency_ms=_num(r.get("latency_ms")),
            predicted_latency_low_ms=_num(r.get("latency_low_ms")),
            predicted_latency_high_ms=_num(r.get("latency_high_ms")),
            measured_latency_ms=None,
            latency_error_pct=None,
            latency_source=r.get("latency_source", "analytic"),
            predicted_energy_mj=_num(r.get("energy_mj")),
            measured_energy_mj=None,
            energy_error_pct=None,
            meter=None,
            meter_domain=None,
            energy_unavailable_reason=None,
            status="ok",
            round=None,
        )
        why = None
        if proxy_for is not None:
            # nothing of the other device is measured: its mode, placement and predictions go
            row.update(mode=None, placement=None, predicted_latency_ms=None, predicted_energy_mj=None)
            row["latency_source"] = f"proxy: timed on {machine} for {proxy_for}"
            key = tuple(row.get(c) for c in POINT_COLUMNS)
            if key in seen:  # differs from an earlier point only in its mode or placement
                continue
            seen.add(key)
        elif row.get("placement") not in (None, *placements):
            why = (
                f"placement {row['placement']!r} is not measured by backend {backend!r} "
                f"({provider} runs on the CPU; placements: {', '.join(placements)})"
            )
        if batch != 1:
            why = (
                f"batch {batch} is not measured: backend {backend!r} runs one image per call "
                "(a batch-1 time is not a batch time; batches run on backend='torch-cuda' or 'tensorrt')"
            )
        if why is not None:
            row["status"] = f"failed: {why}"
        rows.append(row)
        skip.append(why is not None)
        specs.append(
            ArchSpec(
                r["family"], float(r["width"]), float(r["depth"]), int(r["resolution"]), r["precision"], batch=batch
            )
        )
    if all(skip):
        if progress is not None:
            progress(1, 1)
        return rows
    if backend in PHONE_BACKENDS:
        _measure_phone(
            rows, specs, skip, backend=backend, threads=threads, rounds=rounds, meter=meter, progress=progress
        )
        return rows
    total = len(rows) * (rounds + 3) + 1
    step = 0

    def tick(n: int = 1) -> None:
        nonlocal step
        step += n
        if progress is not None:
            progress(min(step, total), total)

    try:  # one child process exports every fp32 network (and the reference) into the cache
        export_many(
            [
                ArchSpec(s.family, s.width, s.depth, s.resolution, "fp32")
                for s, x in zip(specs, skip, strict=True)
                if not x
            ]
            + [REFERENCE_SPEC],
            cache_dir,
        )
    except Exception as exc:
        for row, x in zip(rows, skip, strict=True):
            if not x:
                row["status"] = f"failed: export: {type(exc).__name__}: {exc}"[:300]
        return rows
    tick()
    paths: list = [None] * len(rows)
    for i, spec in enumerate(specs):
        if skip[i]:
            tick()
            continue
        try:
            paths[i] = prepare_onnx(spec, spec.precision, provider=provider, cache_dir=cache_dir)[0]
        except Exception as exc:  # e.g. fp16 without an fp16 kernel here
            rows[i]["status"] = f"failed: {type(exc).__name__}: {exc}"[:300]
        tick()
    ok = [i for i, p in enumerate(paths) if p is not None]
    if ok:
        try:
            ref = export_many([REFERENCE_SPEC], cache_dir)[0]
            base = step
            ms = measure_interleaved(
                [paths[i] for i in ok],
                [specs[i] for i in ok],
                threads=threads,
                rounds=rounds,
                provider=provider,
                profile_runs=profile_runs,
                reference_path=ref,
                reference_name=REFERENCE_SPEC.short_name(),
                progress=None if progress is None else lambda s, t: progress(min(base + s, total), total),
            )
            step += len(ok) * (rounds + 2)
            for i, m in zip(ok, ms, strict=True):
                if measured is not None:
                    measured[i] = m
                rows[i]["measured_latency_ms"] = float(m.latency_calibration_ms)
                rows[i]["latency_error_pct"] = _error_pct(
                    rows[i]["predicted_latency_ms"], rows[i]["measured_latency_ms"]
                )
        except Exception as exc:
            for i in ok:
                rows[i]["status"] = f"failed: measure: {type(exc).__name__}: {exc}"[:300]
            ok = []
    from edgespace.meters import NullMeter, get_meter

    power_meter = get_meter(meter, device="cpu")  # the device that runs: a CPU-domain meter or none
    for i in ok:
        rows[i].update(meter=power_meter.name, meter_domain=power_meter.domain or None)
        if isinstance(power_meter, NullMeter):
            rows[i]["energy_unavailable_reason"] = power_meter.reason
    if not isinstance(power_meter, NullMeter):
        runner = OnnxRuntimeRunner(provider)
        for i in ok:
            try:
                m = runner.measure(
                    paths[i],
                    specs[i],
                    threads=threads,
                    precision=specs[i].precision,
                    timing=TimingPlan(runs=None, duration_s=2.0, profile=False),
                    meter=power_meter,
                )
                rows[i]["measured_energy_mj"] = m.energy_per_inference_mj
                rows[i]["energy_unavailable_reason"] = m.energy_unavailable_reason
                rows[i]["energy_error_pct"] = _error_pct(rows[i]["predicted_energy_mj"], m.energy_per_inference_mj)
            except Exception as exc:
                rows[i]["status"] = f"failed: metered run: {type(exc).__name__}: {exc}"[:300]
    if progress is not None:
        progress(total, total)
    return rows


def _measure_phone(rows, specs, skip, *, backend: str, threads: int, rounds: int, meter: str, progress) -> None:
    """Time each point with the phone runtime's own runner (XNNPACK on this CPU): the model is
    exported (a child process, cached), then timed in ``rounds`` rounds of back-to-back calls;
    the measured latency is the one a calibration fits to (the median of the round medians)."""
    from edgespace.meters import NullMeter, get_meter
    from edgespace.runners import TimingPlan, get_runner

    power_meter = get_meter(meter, device="cpu")
    todo = [i for i, x in enumerate(skip) if not x]
    for n, i in enumerate(todo):
        row, spec = rows[i], specs[i]
        try:
            runner = get_runner(backend)
            if spec.precision not in runner.precisions:
                raise SearchError(f"backend {backend!r} runs {', '.join(runner.precisions)}, not {spec.precision}")
            path, _notes = runner.prepare_input(spec, spec.precision)
            m = runner.measure(
                path,
                spec,
                precision=spec.precision,
                threads=threads,
                timing=TimingPlan(runs=max(20, 10 * rounds), rounds=rounds, profile=False),
                meter=power_meter,
            )
        except Exception as exc:
            row["status"] = f"failed: {type(exc).__name__}: {exc}"[:300]
            continue
        row["measured_latency_ms"] = float(m.latency_calibration_ms)
        row["latency_error_pct"] = _error_pct(row["predicted_latency_ms"], row["measured_latency_ms"])
        row.update(meter=m.meter, meter_domain=m.meter_domain or None)
        if isinstance(power_meter, NullMeter) or m.energy_per_inference_mj is None:
            row["energy_unavailable_reason"] = m.energy_unavailable_reason or getattr(power_meter, "reason", None)
        else:
            row["measured_energy_mj"] = m.energy_per_inference_mj
            row["energy_error_pct"] = _error_pct(row["predicted_energy_mj"], m.energy_per_inference_mj)
        if progress is not None:
            progress(n + 1, len(todo))
    if progress is not None and not todo:
        progress(1, 1)


def _num(v) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def confirmations_frame(stored: list[dict] | None) -> pd.DataFrame:
    """The stored confirmation rows as a DataFrame with exactly :data:`CONFIRMATION_COLUMNS`."""
    frame = pd.DataFrame(list(stored or []))
    for c in CONFIRMATION_COLUMNS:
        if c not in frame.columns:
            frame[c] = pd.Series(dtype=object)
    return frame[list(CONFIRMATION_COLUMNS)].reset_index(drop=True)


def merge_confirmations(stored: list[dict] | None, new: list[dict]) -> list[dict]:
    """Stored rows with ``new`` ones replacing those of the same point, backend and threads."""
    key = (*POINT_COLUMNS, "profile", "backend", "provider", "threads", "round")
    out = {tuple(r.get(k) for k in key): r for r in (stored or [])}
    for r in new:
        out[tuple(r.get(k) for k in key)] = r
    return list(out.values())

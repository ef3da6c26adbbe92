"""``calibrate(profile, measurements)``: per-segment training samples from profiled runs, the
per-operator latency model fitted to them (and, where metered, a power model per mode), and its
in-sample and network-held-out error. The result is a :class:`~edgespace.calibration.Calibration`."""

from __future__ import annotations

import datetime as _dt
import os
import platform

import numpy as np
import pandas as pd

from edgespace._errors import CalibrationError
from edgespace._layer_table import layer_table
from edgespace._spec import ArchSpec
from edgespace.calibration._band import network_band
from edgespace.calibration._calibrate import Calibration, latency_errors
from edgespace.calibration._design import design_features
from edgespace.calibration._e2e import SPLIT_PROFILE, SPLIT_ROUNDS, e2e_samples, fit_resplit, is_e2e_only
from edgespace.calibration._folds import family_folds
from edgespace.calibration._ingest import NodeProfile
from edgespace.calibration._mapping import map_nodes
from edgespace.calibration._model import SegmentLatencyModel, segment_features
from edgespace.calibration._op_order import has_module_paths, map_ordered_ops
from edgespace.calibration._power import MIN_METERED_NETWORKS, fit_power_model

__all__ = ["training_samples", "calibrate"]


def training_samples(items, *, normalize: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(samples, runs) from measurements: each item is a :class:`~edgespace.runners.Measurement`
    with a node profile, or a ``(spec, NodeProfile, e2e_ms)`` triple (times captured elsewhere;
    ``e2e_ms`` may be None, then the node total stands in). A measurement from a runtime that
    reports end-to-end times only (``litert``, ``executorch``) has its latency split over its
    segments by a CPU roofline (see :mod:`edgespace.calibration._e2e`).

    With ``normalize`` (the default), each network's segment times are scaled so that they sum to
    its clean end-to-end latency: the profiler's per-node overhead (about a quarter of the total
    on small networks here) and a noisy spell during the profiled pass then do not leak into the
    model, and the clean timing (interleaved, robust) sets the level while the profile only says
    how it splits over the segments."""
    sample_frames, runs = [], []
    for k, item in enumerate(items):
        if is_e2e_only(item):
            e2e = float(item.latency_calibration_ms)
            sample_frames.append(e2e_samples(item.spec, e2e, k))
            runs.append(
                {
                    "run": k,
                    "spec": item.spec.to_dict(),
                    "e2e_ms": e2e,
                    "node_ms": e2e,
                    "profiled_ms": float("nan"),
                    "spread_pct": item.latency_spread_pct,
                }
            )
            continue
        if isinstance(item, tuple):
            spec, prof, e2e = item
            spread = float("nan")
        else:
            spec, prof, e2e, spread = item.spec, item.node_profile, item.latency_calibration_ms, item.latency_spread_pct
        if not isinstance(prof, NodeProfile) or not prof.nodes:
            raise CalibrationError(
                f"measurement {k} ({spec.short_name()}) has no node times; measure with profile=True"
            )
        table = layer_table(spec)
        if has_module_paths(prof.nodes):
            mapped = map_nodes(list(prof.nodes), table)
        else:  # a phone runtime's operators: placed by their order
            where = f"measurement {k} ({spec.short_name()}, {prof.source or prof.meta.get('tool', 'profile')})"
            if any(c > 1 for c in prof.meta.get("times_called", ())):
                raise CalibrationError(
                    f"{where}: benchmark_model merged same-named operators of several delegate partitions into one "
                    "row (times called > 1), so their order is lost; profile a program the delegate takes whole"
                )
            mapped = map_ordered_ops(list(prof.nodes), table, source=where)
        seg_t = mapped.groupby("segment")["time_us"].sum()
        feats = segment_features(table)
        feats["time_us"] = seg_t.reindex(feats.index).fillna(0.0).to_numpy()
        if normalize and e2e is not None and prof.node_total_ms > 0:
            feats["time_us"] *= float(e2e) / prof.node_total_ms
        feats["run"] = k
        sample_frames.append(feats[feats["time_us"] > 0].reset_index())
        runs.append(
            {
                "run": k,
                "spec": spec.to_dict(),
                "e2e_ms": float(e2e if e2e is not None else prof.node_total_ms),
                "node_ms": float(feats["time_us"].sum()) / 1e3,
                "profiled_ms": prof.node_total_ms,
                "spread_pct": spread,
            }
        )
    if not sample_frames:
        raise CalibrationError("calibrate(): no measurements given")
    return pd.concat(sample_frames, ignore_index=True), pd.DataFrame(runs).set_index("run")


def _fit(samples: pd.DataFrame, runs: pd.DataFrame, params: dict | None = None, e2e_runs=()) -> SegmentLatencyModel:
    if len(e2e_runs):
        return fit_resplit(samples, runs, params, e2e_runs)[0]
    return SegmentLatencyModel(**(params or {})).fit(samples, runs)


def _report(
    samples: pd.DataFrame, runs: pd.DataFrame, model: SegmentLatencyModel, params: dict | None, e2e_runs=()
) -> dict:
    def predict(m: SegmentLatencyModel, run_ids) -> np.ndarray:
        out = []
        for r in run_ids:
            seg = samples[samples["run"] == r]
            node = float(m.predict_segments_us(seg).sum()) / 1e3
            out.append(m.e2e_[0] * node + m.e2e_[1])
        return np.array(out)

    ids = runs.index.to_numpy()
    rep = {"in_sample": latency_errors(predict(model, ids), runs["e2e_ms"].to_numpy())}
    if len(ids) >= 10:
        positions = family_folds(r["family"] for r in runs["spec"])
        pred = pd.Series(index=ids, dtype=float)
        for fold in (ids[f] for f in positions):
            keep = ~runs.index.isin(fold)
            m = _fit(samples[~samples["run"].isin(fold)], runs[keep], params, e2e_runs)
            pred.loc[fold] = predict(m, fold)
        held_out = pred.loc[ids].to_numpy()
        rep["held_out_5fold"] = latency_errors(held_out, runs["e2e_ms"].to_numpy())
        features = np.array([design_features(ArchSpec(**r)) for r in runs["spec"]])
        rep["interval"] = network_band(held_out, runs["e2e_ms"].to_numpy(), features, positions)
    return rep


def calibrate(
    profile,
    measurements,
    *,
    mode: str | None = None,
    threads: int | None = None,
    precision: str | None = None,
    model_params: dict | None = None,
    normalize: bool = True,
    note: str = "",
) -> Calibration:
    """Fit the per-operator latency model to ``measurements`` (see :func:`training_samples`) for
    ``profile`` (a :class:`~edgespace.profiles.HardwareProfile`, a profile name, or None).

    Returns a :class:`Calibration`; ``.save(path)`` writes it, :func:`load_calibration`
    reads it back. Needs at least 3 networks (10 or more for the held-out error report)."""
    items = list(measurements)
    if len(items) < 3:
        raise CalibrationError(f"calibrate(): {len(items)} measurement(s) given; need at least 3 networks")
    if isinstance(profile, str):
        from edgespace.profiles import load_profile

        profile = load_profile(profile)
    samples, runs = training_samples(items, normalize=normalize)
    e2e_runs = [k for k, item in enumerate(items) if is_e2e_only(item)]
    first = items[0]
    if not isinstance(first, tuple):
        threads = first.threads if threads is None else threads
        precision = first.precision if precision is None else precision
        runtime = first.runtime_version
        provider = first.provider
    else:
        runtime, provider = "unknown (ingested)", "unknown"
    precision = precision or "fp32"
    mode_name = mode
    if profile is not None and hasattr(profile, "mode"):
        mode_name = profile.mode(mode).name  # a bad mode fails here, naming the allowed ones
    first_split = samples
    model, samples = fit_resplit(samples, runs, model_params, e2e_runs)
    prov = {
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "runtime": runtime,
        "provider": provider,
        "threads": int(threads) if threads is not None else None,
        "precision": precision,
        "networks": int(len(runs)),
        "segments": int(len(samples)),
        "families": sorted({r["family"] for r in runs["spec"]}),
        "machine": f"{platform.machine()} {platform.processor() or platform.system()}, {os.cpu_count()} cores",
        "base_profile": getattr(profile, "name", None),
        "mode": mode_name,
        "normalized_to_e2e": bool(normalize),
    }
    if e2e_runs:
        prov["segment_times"] = (
            f"{len(e2e_runs)} network(s) timed end to end only (the runtime reports no per-operator times): "
            f"each latency split over its segments by the {SPLIT_PROFILE} profile's CPU roofline, then by the "
            f"fitted model ({SPLIT_ROUNDS} rounds); held-out folds repeat the split on their own networks"
        )
    if note:
        prov["note"] = note
    power = {}
    metered = [m for m in items if not isinstance(m, tuple) and m.energy_per_inference_mj is not None]
    if mode_name is not None and len(metered) >= MIN_METERED_NETWORKS:
        runs_e = [
            {
                "spec": m.spec,
                "latency_ms": m.latency_p50_ms,
                "energy_mj": m.energy_per_inference_mj,
                "idle_power_w": m.idle_power_w,
            }
            for m in metered
        ]
        power[mode_name] = fit_power_model(runs_e, mode_name, domain=metered[0].meter_domain)
        prov["metered_networks"] = len(metered)
        prov["meter"] = f"{metered[0].meter} ({metered[0].meter_domain})"
    elif metered:
        prov["metered_networks"] = len(metered)
        prov["power_model"] = (
            f"not fitted: {len(metered)} metered network(s), at least {MIN_METERED_NETWORKS} needed"
            if mode_name is not None
            else "not fitted: no profile mode to attach it to"
        )
    return Calibration(
        profile=getattr(profile, "name", "custom"),
        provenance=prov,
        samples=samples,
        runs=runs,
        report=_report(first_split, runs, model, model_params, e2e_runs)
        if e2e_runs
        else _report(samples, runs, model, model_params),
        model=model,
        power=power,
    )

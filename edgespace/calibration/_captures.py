"""Capture sets: models exported here, timed on another device, calibrated here.

A *capture set* is a directory with ``manifest.json`` (``format: edgespace-captures/1``) and one
ONNX file per spec. On the device, each model's profile is saved next to it under the model's
name (docs/measuring.md gives the command lines):

* ONNX Runtime: ``NAME.ort.json`` (the file ``InferenceSession.end_profiling()`` writes) and,
  optionally, ``NAME.latency.json`` holding ``{"latency_ms": ...}`` measured without the profiler;
* TensorRT: ``NAME.profile.json`` (``trtexec --exportProfile``) and ``NAME.times.json``
  (``trtexec --exportTimes``);
* phones (a capture set written with ``format="litert"`` or ``"executorch"``): LiteRT's
  ``benchmark_model`` output ``NAME.benchmark_model.txt`` or ExecuTorch's ETDump ``NAME.etdp``
  (see :mod:`edgespace.calibration._phone_captures`).

:func:`read_capture_set` pairs the files with the manifest's specs into the
``(spec, NodeProfile, end_to_end_ms)`` triples :func:`~edgespace.calibration.calibrate` takes.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgespace._errors import SpecError
from edgespace._paths import read_input
from edgespace._spec import ArchSpec
from edgespace.calibration._ingest import (
    IngestError,
    NodeProfile,
    load_format_json,
    read_ort_profile,
    read_trtexec_profile,
    read_trtexec_times,
)
from edgespace.calibration._phone_captures import phone_capture_files, read_phone_capture

__all__ = ["CAPTURE_FORMAT", "CaptureSet", "write_capture_set", "read_capture_set"]

CAPTURE_FORMAT = "edgespace-captures/1"
MANIFEST = "manifest.json"


@dataclass
class CaptureSet:
    """What :func:`read_capture_set` found: the usable triples, where each came from, and the
    models the directory has no capture for."""

    items: list = field(default_factory=list)  # (spec, NodeProfile, e2e_ms or None)
    sources: list = field(default_factory=list)  # per item: "onnxruntime" or "tensorrt"
    missing: list = field(default_factory=list)  # model names with no capture files
    e2e_from: list = field(default_factory=list)  # per item: where its end-to-end latency came from
    threads: int | None = None  # as the capture script recorded it (one value for the whole set)
    energy: list = field(default_factory=list)  # per item: window_energy() dict, or None (not metered)
    nvpmodel: str = ""  # `nvpmodel -q` as the capture script recorded it
    log: object | None = None  # the parsed tegrastats log, where there is one

    @property
    def metered(self) -> int:
        return sum(e is not None and e.get("energy_per_inference_mj") is not None for e in self.energy)

    def mode_for(self, profile) -> str:
        """The power mode of ``profile`` these captures belong to (see
        :func:`edgespace.calibration.tag_mode`; refused when the clocks disagree)."""
        from edgespace.calibration._mode_tag import tag_mode
        from edgespace.meters.tegrastats import TegrastatsError

        if not self.nvpmodel:
            raise TegrastatsError("the capture set has no nvpmodel record (device.json); capture with --tegrastats")
        return tag_mode(profile, self.nvpmodel, self.log)

    @property
    def runtime(self) -> str:
        kinds = sorted(set(self.sources))
        return " + ".join(f"{k} (captured on the device)" for k in kinds) or "none"


def _name(spec: ArchSpec) -> str:
    return spec.short_name().replace("_fp32", "")


def write_capture_set(
    specs,
    out_dir: str | os.PathLike,
    *,
    cache_dir=None,
    format: str = "onnx",
    precision: str = "fp32",
    threads: int = 1,
) -> Path:
    """Export ``specs`` into ``out_dir`` with a manifest; returns the manifest's path. ``format``:
    ``onnx`` (fp32, uint8 NCHW input, preprocessing folded in; timed with ONNX Runtime or
    TensorRT on the device), or a phone runtime, ``litert`` or ``executorch`` at ``precision``
    (the manifest holds the command that profiles each model on the phone with ``threads``
    threads; see :mod:`edgespace.calibration._phone_captures`). Exports run in a child process
    and are cached. An existing manifest in ``out_dir`` is kept and extended, never overwritten
    with less; one capture set holds one runtime."""
    from edgespace._paths import output_dir
    from edgespace.calibration._phone_captures import PHONE_RUNTIMES, write_phone_models
    from edgespace.runners import export_many

    specs = list(specs)
    if not specs:
        raise SpecError("write_capture_set(): no specs given")
    if format != "onnx" and format not in PHONE_RUNTIMES:
        raise SpecError(f"write_capture_set(format={format!r}): allowed: onnx, {', '.join(PHONE_RUNTIMES)}")
    out = output_dir(out_dir, "capture set folder", IngestError)
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / MANIFEST
    entries: dict[str, dict] = {}
    runtime = "onnxruntime" if format == "onnx" else format
    if manifest_path.is_file():
        old = _load_manifest(out)
        if old.get("runtime", "onnxruntime") != runtime:
            raise IngestError(
                f"{manifest_path}: a capture set for {old.get('runtime', 'onnxruntime')}; write the {runtime} models to another folder"
            )
        for e in old["models"]:
            entries[e["name"]] = e
    if format != "onnx":
        names = [f"{_name(s)}_{precision}" for s in specs]
        for e in write_phone_models(specs, names, out, format, precision, threads):
            entries[e["name"]] = e
        doc = {
            "format": CAPTURE_FORMAT,
            "runtime": runtime,
            "threads": int(threads),
            "models": sorted(entries.values(), key=lambda e: e["name"]),
        }
        tmp = manifest_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc, indent=1))
        os.replace(tmp, manifest_path)
        return manifest_path
    paths = export_many(specs, cache_dir)
    for spec, src in zip(specs, paths, strict=True):
        name = _name(spec)
        dst = out / f"{name}.onnx"
        if not dst.is_file():
            tmp = dst.with_suffix(".tmp")
            shutil.copyfile(src, tmp)
            os.replace(tmp, dst)
        entries[name] = {
            "name": name,
            "onnx": dst.name,
            "spec": dict(spec.to_dict(), precision="fp32"),
            "input": {"name": "image", "dtype": "uint8", "shape": [1, 3, spec.resolution, spec.resolution]},
        }
    doc = {"format": CAPTURE_FORMAT, "models": sorted(entries.values(), key=lambda e: e["name"])}
    tmp = manifest_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=1))
    os.replace(tmp, manifest_path)
    return manifest_path


def _load_manifest(directory: Path) -> dict:
    p = directory / MANIFEST
    doc = load_format_json(
        p, CAPTURE_FORMAT, missing="no such file; a capture set is written by `edgespace export --out-dir DIR`"
    )
    models = doc.get("models")
    if not isinstance(models, list):
        raise IngestError(f"{p}: models: expected a list of {{name, onnx, spec}}")
    for i, e in enumerate(models):
        if not isinstance(e, dict) or not {"name", "spec"} <= e.keys():
            raise IngestError(f"{p}: models[{i}]: expected keys 'name' and 'spec', got {e!r}"[:300])
    return doc


def read_capture_set(directory: str | os.PathLike) -> CaptureSet:
    """Pair each model of the capture set in ``directory`` with its capture files (see the module
    docstring). A model with no capture files is listed in ``missing``; a capture file that
    cannot be read raises :class:`IngestError` naming it."""
    d = Path(directory)
    if not d.is_dir():
        raise IngestError(f"{d}: not a directory (a capture set directory with {MANIFEST} expected)")
    doc = _load_manifest(d)
    out = CaptureSet()
    threads_seen: set[int] = set()
    device = d / "device.json"
    if device.is_file():
        from edgespace.meters.tegrastats import parse_tegrastats

        try:
            dev = json.loads(read_input(device, IngestError))
            out.nvpmodel = str(dev.get("nvpmodel", ""))
            log_p = d / str(dev.get("tegrastats", "tegrastats.log"))
            interval = float(dev.get("interval_ms", 10)) / 1e3
        except (json.JSONDecodeError, UnicodeDecodeError, TypeError, ValueError) as exc:
            raise IngestError(
                f'{device}: expected {{"nvpmodel": ..., "tegrastats": LOG, "interval_ms": N}} ({exc})'
            ) from None
        if not log_p.is_file():
            raise IngestError(f"{device}: tegrastats: {log_p.name}: no such file in {d}")
        out.log = parse_tegrastats(log_p, interval_s=interval)
    for i, e in enumerate(doc["models"]):
        try:
            spec = ArchSpec(**e["spec"])
        except (TypeError, ValueError) as exc:
            raise IngestError(f"{d / MANIFEST}: models[{i}].spec: {exc}") from None
        name = str(e["name"])
        ort_p, trt_p, times_p = d / f"{name}.ort.json", d / f"{name}.profile.json", d / f"{name}.times.json"
        phone = phone_capture_files(d, name)
        if phone is not None:
            prof, e2e, how = read_phone_capture(phone[0], phone[1], d / f"{name}.latency.json", _read_latency)
            out.sources.append(phone[0])
            if isinstance(doc.get("threads"), int):
                threads_seen.add(doc["threads"])
        elif ort_p.is_file():
            prof: NodeProfile = read_ort_profile(ort_p)
            lat_p = d / f"{name}.latency.json"
            if lat_p.is_file():
                e2e, meta = _read_latency(lat_p)
                how = lat_p.name
                if isinstance(meta.get("threads"), int):
                    threads_seen.add(meta["threads"])
            elif prof.run_ms:
                e2e, how = (
                    float(np.median(prof.run_ms)),
                    f"{ort_p.name} (profiled runs: includes the profiler's overhead)",
                )
            else:
                e2e, how = None, "node total"
            out.sources.append("onnxruntime")
        elif trt_p.is_file():
            prof = read_trtexec_profile(trt_p)
            if times_p.is_file():
                e2e, how = read_trtexec_times(times_p)["latency_p50_ms"], times_p.name
            else:
                e2e, how = None, "node total"
            out.sources.append("tensorrt")
        else:
            out.missing.append(name)
            continue
        out.items.append((spec, prof, e2e))
        out.e2e_from.append(how)
        out.energy.append(_read_energy(d / f"{name}.energy.json", out.log))
    if len(threads_seen) > 1:
        raise IngestError(
            f"{d}: captures were timed with different thread counts {sorted(threads_seen)}; "
            "calibrate one thread count at a time (one directory each)"
        )
    out.threads = threads_seen.pop() if threads_seen else None
    return out


def _read_latency(p: Path) -> tuple[float, dict]:
    try:
        doc = json.loads(read_input(p, IngestError))
        value = float(doc["latency_ms"])
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError) as exc:
        raise IngestError(f'{p}: expected {{"latency_ms": <number>}} ({type(exc).__name__}: {exc})') from None
    if not (value > 0 and math.isfinite(value)):
        raise IngestError(f"{p}: latency_ms: {value!r}: expected a positive number of milliseconds")
    return value, doc


def _read_energy(p: Path, log) -> dict | None:
    """Energy per inference of one model from its metered window over the tegrastats log."""
    if not p.is_file():
        return None
    from edgespace.meters.tegrastats import window_energy

    try:
        doc = json.loads(read_input(p, IngestError))
        start, end, n = float(doc["window_start_s"]), float(doc["window_end_s"]), int(doc["inferences"])
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError) as exc:
        raise IngestError(
            f"{p}: expected window_start_s, window_end_s, inferences ({type(exc).__name__}: {exc})"
        ) from None
    if log is None:
        raise IngestError(f"{p}: a metered window but no device.json with the tegrastats log next to it")
    if not (end > start >= 0 and n >= 1):
        raise IngestError(
            f"{p}: window {start}-{end} s with {n} inferences: expected 0 <= start < end and >= 1 inference"
        )
    return window_energy(log, start, end, inferences=n)

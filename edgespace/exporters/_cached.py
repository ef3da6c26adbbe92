"""Phone-format files cached by spec, format and precision, exported in a child process when
missing, so that the converters (torch, litert-torch) never run in a timing process."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from edgespace._errors import SpecError, UnavailableError
from edgespace._spec import ArchSpec

__all__ = ["cached_phone_model", "cached_phone_models"]


def _cached_path(spec: ArchSpec, fmt: str, precision: str, calibration_data, cache_dir) -> Path:
    from edgespace.exporters import get_exporter

    exporter = get_exporter(fmt)
    if calibration_data is not None and not isinstance(calibration_data, (str, os.PathLike)):
        raise SpecError("calibration_data: the phone backends take an image folder or None (generated images)")
    key = dict(spec.to_dict(), precision=precision, format=fmt, calib=str(calibration_data or ""))
    key.pop("batch", None)
    digest = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:10]
    if cache_dir is None:
        from edgespace._cache import cache_dir as _cache_dir

        cache_dir = _cache_dir() / fmt
    return Path(cache_dir) / f"{spec.short_name()}_{precision}_{digest}{exporter.suffix}"


def cached_phone_model(
    spec: ArchSpec, fmt: str, precision: str, *, calibration_data=None, cache_dir: str | os.PathLike | None = None
) -> Path:
    """``spec`` exported to ``fmt`` at ``precision`` (cached; exported in a child process when missing).
    ``calibration_data`` for int8: ``None`` (generated images) or an image folder."""
    return cached_phone_models([spec], fmt, precision, calibration_data=calibration_data, cache_dir=cache_dir)[0]


def cached_phone_models(
    specs, fmt: str, precision: str, *, calibration_data=None, cache_dir: str | os.PathLike | None = None
) -> list[Path]:
    """:func:`cached_phone_model` for many specs: the missing ones are exported in one child process
    (LiteRT: in one run of its converter interpreter), so torch and the converter load once."""
    specs = list(specs)
    paths = [_cached_path(s, fmt, precision, calibration_data, cache_dir) for s in specs]
    todo = [(s, p) for s, p in zip(specs, paths, strict=True) if not p.is_file()]
    if not todo:
        return paths
    todo[0][1].parent.mkdir(parents=True, exist_ok=True)
    calib = calibration_data and str(calibration_data)
    if fmt == "litert":  # the converter runs in its own interpreter already
        from edgespace.exporters._litert import convert_many

        convert_many(todo, precision, calib)
    else:
        jobs = [{"spec": s.to_dict(), "path": str(p)} for s, p in todo]
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        code = (
            "import json,sys; from edgespace.exporters import export; from edgespace._spec import ArchSpec; "
            "j=json.loads(sys.stdin.read()); "
            "[export(ArchSpec(**x['spec']), x['path'], j['format'], j['precision'], calibration_data=j['calib']) for x in j['jobs']]"
        )
        job = {"jobs": jobs, "format": fmt, "precision": precision, "calib": calib}
        proc = subprocess.run(
            [sys.executable, "-c", code], input=json.dumps(job), text=True, capture_output=True, env=env
        )
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["(no output)"]
            raise UnavailableError(f"{fmt} export ({precision}) failed in the child process: {tail[0]}")
    for s, p in todo:
        if not p.is_file():
            raise UnavailableError(f"{fmt} export of {s.short_name()} ({precision}) wrote no file")
    return paths

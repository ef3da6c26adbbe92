"""ONNX files for specs, exported in a child process and cached by spec.

Timing must happen in a process that has not run torch: torch's OpenMP worker threads keep
spinning after an export and slow ONNX Runtime on a small machine by up to half. So exports run
in a separate Python process (one for a whole batch of specs: importing torch costs seconds) and
land in a cache keyed by the spec and the exporter settings; a cached file is reused.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from edgespace._errors import EdgespaceError
from edgespace._spec import ArchSpec

__all__ = ["onnx_cache_dir", "cached_onnx_path", "export_many", "ExportError", "OPSET"]

OPSET = 17


class ExportError(EdgespaceError, RuntimeError):
    """The export child process failed."""


def onnx_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir)
    from edgespace._cache import cache_dir

    return cache_dir() / "onnx"


def cached_onnx_path(spec: ArchSpec, cache_dir: str | os.PathLike | None = None) -> Path:
    """Where ``spec``'s fp32 ONNX file (uint8 NCHW input, preprocessing folded in) is cached.
    The precision and the batch are not part of the key: int8/fp16 variants are derived from this
    file, and its batch dimension is dynamic."""
    key = dict(spec.to_dict(), precision="fp32", opset=OPSET, layout="nchw", input_dtype="uint8")
    key.pop("batch", None)
    digest = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:10]
    return onnx_cache_dir(cache_dir) / f"{spec.family}_w{spec.width:g}_d{spec.depth:g}_r{spec.resolution}_{digest}.onnx"


def export_many(
    specs: list[ArchSpec], cache_dir: str | os.PathLike | None = None, *, timeout_s: float = 1800
) -> list[Path]:
    """ONNX paths for ``specs``, exporting the missing ones in one child process."""
    paths = [cached_onnx_path(s, cache_dir) for s in specs]
    todo = {str(p): s.to_dict() for s, p in zip(specs, paths, strict=True) if not p.is_file()}
    if todo:
        paths[0].parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        proc = subprocess.run(
            [sys.executable, "-m", "edgespace.runners._export"],
            input=json.dumps(todo),
            text=True,
            capture_output=True,
            env=env,
            timeout=timeout_s,
        )
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["(no output)"]
            raise ExportError(f"ONNX export failed in the child process: {tail[0]}")
    return paths


def _child() -> None:  # pragma: no cover - runs in the child process
    from edgespace._build import export_onnx

    todo = json.loads(sys.stdin.read())
    for path, spec in todo.items():
        tmp = Path(path).with_suffix(".tmp.onnx")
        export_onnx(ArchSpec(**spec), tmp, opset=OPSET)
        os.replace(tmp, path)  # atomic: a crashed export never leaves a half file in the cache


if __name__ == "__main__":  # pragma: no cover
    _child()

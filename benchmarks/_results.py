"""Where benchmarks store what they measured: one JSON file each under ``benchmarks/results/``,
with the date, the machine, the package versions and the command that produced it, so that a
figure quoted in the docs can be traced to (and checked against) a stored result."""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import sys
from importlib import metadata
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
_PACKAGES = ("edgespace", "numpy", "pandas", "scipy", "onnxruntime", "torch", "timm", "optuna")


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _script(path: str) -> str:
    """The script's path from the repository root (no machine-specific prefix)."""
    try:
        return Path(path).resolve().relative_to(RESULTS.parents[1]).as_posix()
    except ValueError:
        return Path(path).name


def provenance() -> dict:
    """Date (UTC), machine, versions and command of this run."""
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return {
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpu": _cpu(),
            "cores": os.cpu_count(),
            "system": f"{platform.system()} {platform.machine()}",
        },
        "versions": versions,
        "command": " ".join(["python", _script(sys.argv[0]), *sys.argv[1:]]),
    }


def write_result(name: str, doc: dict, path: str | os.PathLike | None = None) -> Path:
    """Write ``doc`` with its :func:`provenance` to ``path`` (default
    ``benchmarks/results/<name>.json``) and return the path."""
    out = Path(path) if path is not None else RESULTS / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"benchmark": name, **provenance(), **doc}, indent=1, default=float) + "\n")
    return out


def fill_defaults(args, defaults: dict) -> None:
    """Set each option left unset on the command line (None) to its full or ``--quick`` default:
    ``defaults`` maps the option's name to ``(full, quick)``."""
    for name, (full, quick) in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)

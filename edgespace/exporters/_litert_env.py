"""The LiteRT converter's own interpreter, created on first use and cached.

``litert-torch`` (the former ai-edge-torch) pulls about 1 GB of dependencies (jax, transformers)
and pins ``typing-extensions`` and ``pydantic`` below the versions edgespace needs, so it never
goes into the project's environment. Instead edgespace makes a virtual environment under its cache
directory that sees the project's torch and timm (through a ``.pth`` file placed *after* its own
site-packages, so the converter's own pins win inside it) and installs ``litert-torch`` there with
pip. Conversions then run in that interpreter, as the ONNX export already runs in a child process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

from edgespace._errors import UnavailableError

__all__ = ["LITERT_TORCH_REQUIREMENT", "converter_env_dir", "converter_python", "ensure_converter_python"]

#: What the converter environment installs (checked here: 0.10 converts timm models with torch 2.14.1).
LITERT_TORCH_REQUIREMENT = "litert-torch==0.10.*"
#: Set to a Python executable that already has litert-torch to skip the cached environment.
PYTHON_ENV = "EDGESPACE_LITERT_PYTHON"


def converter_env_dir() -> Path:
    from edgespace._cache import cache_dir

    return cache_dir() / "litert-converter-env"


def _env_python(root: Path) -> Path:
    return root / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def converter_python() -> Path | None:
    """The converter interpreter if it exists and is complete, else ``None`` (nothing is created)."""
    explicit = os.environ.get(PYTHON_ENV)
    if explicit:
        return Path(explicit)
    root = converter_env_dir()
    return _env_python(root) if (root / ".complete").is_file() else None


def _host_paths() -> list[str]:
    """The site-packages directories that hold the project's torch and timm (and edgespace itself)."""
    import timm
    import torch

    paths = [str(Path(m.__file__).resolve().parents[1]) for m in (torch, timm)]
    paths.append(str(Path(__file__).resolve().parents[2]))  # edgespace's source root
    paths.append(sysconfig.get_paths()["purelib"])
    return list(dict.fromkeys(paths))


def ensure_converter_python(*, timeout_s: float = 3600) -> Path:
    """The converter interpreter, creating the cached environment first if needed (minutes, ~1 GB).

    Raises :class:`UnavailableError` naming the step that failed and the pip output's last line.
    """
    found = converter_python()
    if found is not None:
        if not found.is_file():
            raise UnavailableError(
                f"${PYTHON_ENV}={str(found)!r} is not a file; unset it or point it at a Python with litert-torch"
            )
        return found
    root = converter_env_dir()
    from rich.console import Console

    console = Console(stderr=True)
    try:
        with console.status(f"Creating the LiteRT converter environment in {root} (once; several minutes, ~1 GB)"):
            venv.EnvBuilder(with_pip=True, clear=True).create(root)
            py = _env_python(root)
            site = subprocess.run(
                [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
            # "zz": read after the environment's own packages, so litert-torch's pins win inside it.
            Path(site, "zz_edgespace_host.pth").write_text("\n".join(_host_paths()) + "\n")
            proc = subprocess.run(
                [str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", LITERT_TORCH_REQUIREMENT],
                capture_output=True,
                text=True,
                timeout=timeout_s,
            )
            if proc.returncode != 0:
                tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["(no output)"]
                raise UnavailableError(
                    f"LiteRT export needs {LITERT_TORCH_REQUIREMENT} in its own environment ({root}), and pip could not install it: {tail[0]}"
                )
            check = subprocess.run([str(py), "-c", "import litert_torch"], capture_output=True, text=True)
            if check.returncode != 0:
                tail = check.stderr.strip().splitlines()[-1:] or ["(no output)"]
                raise UnavailableError(
                    f"the LiteRT converter environment ({root}) cannot import litert_torch: {tail[0]}"
                )
    except (OSError, subprocess.SubprocessError) as exc:
        raise UnavailableError(f"cannot create the LiteRT converter environment in {root}: {exc}") from None
    (root / ".complete").write_text(sys.version + "\n")
    console.print(f"LiteRT converter environment ready: {root}")
    return _env_python(root)

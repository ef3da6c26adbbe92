"""Finding profiles by name (reading and validating one file is :mod:`._parse`).

Search order for a name (first match wins, so a user can shadow a shipped profile):

1. each directory in the environment variable ``EDGESPACE_PROFILE_PATH`` (``os.pathsep``-
   separated, like ``PATH``), as ``<dir>/<name>.yaml`` (or ``.yml``);
2. the profiles shipped inside the package (``edgespace/hwprofiles/`` once installed, the
   repository's top-level ``hwprofiles/`` in a source checkout);
3. ``host``: this machine, measured by micro-benchmarks and cached (see ``_host``).

Every failure is a :class:`~edgespace.ProfileError` whose one-line message reads
``<file>: <field.path>: <value>: <what is allowed>``.
"""

from __future__ import annotations

import os
from pathlib import Path

from edgespace._errors import ProfileError
from edgespace.profiles._parse import (
    MAX_ALIASES,
    MAX_EXPANDED_NODES,
    MAX_PROFILE_BYTES,
    _load_file,
    load_profile_file,
    parse_profile,
    validate_profile,
)
from edgespace.profiles._profile import HardwareProfile

__all__ = [
    "PROFILE_PATH_ENV",
    "builtin_profile_dir",
    "list_profiles",
    "load_profile",
    "parse_profile",
    "profile_dirs",
    "validate_profile",
    "load_profile_file",
    "MAX_PROFILE_BYTES",
    "MAX_ALIASES",
    "MAX_EXPANDED_NODES",
]

#: Environment variable naming extra profile directories (os.pathsep-separated).
PROFILE_PATH_ENV = "EDGESPACE_PROFILE_PATH"
_SUFFIXES = (".yaml", ".yml")
HOST = "host"


def builtin_profile_dir() -> Path:
    """The directory of the shipped profiles, installed or in a source checkout."""
    here = Path(__file__).resolve().parent.parent  # .../edgespace
    installed = here / "hwprofiles"  # setuptools maps the top-level hwprofiles/ here
    if installed.is_dir():
        return installed
    return here.parent / "hwprofiles"  # source checkout run with PYTHONPATH=.


def profile_dirs() -> list[Path]:
    """Directories searched for ``<name>.yaml``, highest priority first."""
    dirs = [Path(p).expanduser() for p in os.environ.get(PROFILE_PATH_ENV, "").split(os.pathsep) if p.strip()]
    return [*dirs, builtin_profile_dir()]


def _profile_files() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for d in profile_dirs():
        if not d.is_dir():
            continue
        for f in sorted(d.iterdir()):
            if f.suffix in _SUFFIXES and f.is_file():
                found.setdefault(f.stem, f)
    return found


def list_profiles() -> list[str]:
    """Names that :func:`load_profile` accepts: shipped, user (``EDGESPACE_PROFILE_PATH``) and ``host``."""
    return sorted({*_profile_files(), HOST})


def load_profile(name_or_path: str | os.PathLike | HardwareProfile, *, remeasure: bool = False) -> HardwareProfile:
    """A validated :class:`HardwareProfile` by name (``list_profiles()``) or by path to a YAML file.

    ``host`` measures this machine on first use and caches the result (see
    :func:`edgespace.profiles.measure_host`); ``remeasure=True`` measures again.
    Raises :class:`~edgespace.ProfileError` for an unknown name or a bad file.
    """
    if isinstance(name_or_path, HardwareProfile):
        return name_or_path
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise ProfileError(
            f"profile: {name_or_path!r}: expected a profile name or a path to a .yaml file, "
            f"not {type(name_or_path).__name__}"
        )
    text = os.fspath(name_or_path)
    looks_like_path = isinstance(name_or_path, os.PathLike) or text.endswith(_SUFFIXES) or os.sep in text or "/" in text
    if looks_like_path:
        path = Path(text).expanduser()
        if not path.is_file():
            raise ProfileError(f"{path}: no such profile file")
        return _load_file(path)
    if text == HOST:
        from edgespace.profiles._host import host_profile

        return host_profile(remeasure=remeasure)
    files = _profile_files()
    if text not in files:
        raise ProfileError(
            f"profile: {text!r}: unknown profile name; known: {', '.join(list_profiles())} (or give a path to a .yaml file)"
        )
    profile = _load_file(files[text])
    if profile.name != text:
        raise ProfileError(f"{files[text]}: name: {profile.name!r}: must equal the file name {text!r}")
    return profile

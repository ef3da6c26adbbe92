"""Finding, reading and validating profile YAML files.

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

import functools
import os
import types
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from edgespace._errors import ProfileError
from edgespace.profiles._schema import HardwareProfile

__all__ = [
    "PROFILE_PATH_ENV",
    "builtin_profile_dir",
    "list_profiles",
    "load_profile",
    "parse_profile",
    "profile_dirs",
    "validate_profile",
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


def _load_file(path: Path) -> HardwareProfile:
    st = path.stat()
    return _load_cached(str(path.resolve()), st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=64)
def _load_cached(path: str, mtime_ns: int, size: int) -> HardwareProfile:  # noqa: ARG001 - cache key
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"{path}: cannot read: {exc}") from None
    return parse_profile(text, origin=path)


def parse_profile(text: str, *, origin: str = "<string>") -> HardwareProfile:
    """Parse and validate profile YAML text; ``origin`` names the file in error messages."""
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "?"
        problem = " ".join(str(x) for x in (exc.context, exc.problem) if x)
        raise ProfileError(f"{origin}: {where}: malformed YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise ProfileError(f"{origin}: malformed YAML: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    except RecursionError:
        raise ProfileError(f"{origin}: malformed YAML: nested too deeply") from None
    return validate_profile(data, origin=origin)


def validate_profile(data: Any, *, origin: str = "<data>") -> HardwareProfile:
    """Validate an already-parsed mapping (e.g. from JSON) into a :class:`HardwareProfile`."""
    if not isinstance(data, dict):
        raise ProfileError(
            f"{origin}: (top level): {_show(data)}: expected a mapping with name, device, kind, default_mode, standby, modes"
        )
    try:
        profile = HardwareProfile.model_validate(data)
    except ValidationError as exc:
        # one line whatever the input held (keys and values are quoted, this is the last guard)
        raise ProfileError(_format(origin, exc).replace("\n", "\\n")) from None
    except RecursionError:
        raise ProfileError(f"{origin}: (top level): nested too deeply") from None
    profile._origin = origin
    return profile


# -- YAML: safe, and strict about duplicate keys --------------------------------------------


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects a key written twice in one mapping (the second would silently
    win), while still allowing ``<<: *anchor`` merges to be overridden."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False):
    seen: dict[Any, yaml.Node] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=deep)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark, "found an unhashable key", key_node.start_mark
            ) from None
        if key in seen:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark, f"found duplicate key {key!r}", key_node.start_mark
            )
        seen[key] = key_node
    loader.flatten_mapping(node)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


# -- pydantic errors → one line --------------------------------------------------------------


def _format(origin: str, exc: ValidationError) -> str:
    errors = exc.errors(include_url=False)
    first = errors[0]
    loc = [p for p in first["loc"] if not _is_internal_loc(p)]
    # A key can hold any text (even newlines); quote odd ones so the message stays one line.
    path = ".".join(_key(p) for p in loc) or "(top level)"
    kind = first["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        msg = "unknown field" + (f"; allowed: {', '.join(allowed)}" if allowed else "")
    elif kind == "missing":
        msg = "required field is missing"
        value = "(missing)"
    else:
        msg = first["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if kind != "missing":
        value = _show(first.get("input"))
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    return f"{origin}: {path}: {value}: {msg}{more}"


def _is_internal_loc(part: Any) -> bool:
    # pydantic adds union-member and validator tags to locations ("function-after[...]", "Sourced")
    return isinstance(part, str) and ("[" in part or part[:1].isupper())


def _key(k: Any) -> str:
    """A mapping key for a one-line message: as written, or quoted when it holds odd characters."""
    text = str(k)
    return text if text.isprintable() and " " not in text else repr(text)


def _show(value: Any, limit: int = 60) -> str:
    if isinstance(value, dict) and "value" in value:
        value = value["value"]
    elif isinstance(value, dict):
        keys = ", ".join(map(_key, list(value)[:6]))
        return "{" + keys + (", ..." if len(value) > 6 else "") + "}"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _allowed_keys(loc: list) -> list[str]:
    """Field names of the model found at ``loc`` inside a HardwareProfile, for error messages."""
    tp: Any = HardwareProfile
    i = 0
    while i < len(loc):
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(str(loc[i]))
            if field is None:
                return []
            tp = field.annotation
            i += 1
            continue
        origin = typing.get_origin(tp)
        if origin is dict:
            tp = typing.get_args(tp)[1]
        elif origin is tuple:
            tp = typing.get_args(tp)[0]
        else:
            return []
        i += 1
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return list(tp.model_fields)
    return []


def _unwrap(tp: Any) -> Any:
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            tp = args[0]
        else:
            return tp

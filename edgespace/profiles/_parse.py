"""Reading and validating one profile: bounded, strict YAML 1.2 parsing and pydantic validation,
with one-line errors ``<file>: <field.path>: <value>: <what is allowed>``.

The bottom of the profiles package: :mod:`._host` (measuring this machine) and :mod:`._loader`
(finding profiles by name) both use it, and it imports neither.
"""

from __future__ import annotations

import functools
import itertools
import math
import os
import re
import types
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from edgespace._errors import ProfileError
from edgespace.profiles._profile import HardwareProfile

__all__ = [
    "MAX_ALIASES",
    "MAX_EXPANDED_NODES",
    "MAX_PROFILE_BYTES",
    "load_profile_file",
    "parse_profile",
    "validate_profile",
]

#: Largest profile file read (bytes). Shipped profiles are ~15 kB; a file this large is a mistake,
#: and YAML parsing is slow enough (seconds per MB) that it must be refused before parsing.
MAX_PROFILE_BYTES = 1_000_000
#: Most aliases (``*name``) in one profile, and most nodes the document holds once every alias is
#: expanded; together they stop an alias bomb (nested anchors, each used many times) before any
#: validation walks the expanded structure. Shipped profiles use tens of aliases, ~2 000 nodes.
MAX_ALIASES = 1_000
MAX_EXPANDED_NODES = 200_000


def _load_file(path: Path) -> HardwareProfile:
    try:
        st = path.stat()
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if st.st_size > MAX_PROFILE_BYTES:
        raise ProfileError(
            f"{path}: {st.st_size:,} bytes: too large for a profile; allowed: at most {MAX_PROFILE_BYTES:,} bytes"
        )
    return _load_cached(str(path.resolve()), st.st_mtime_ns, st.st_size)


def load_profile_file(source: str | os.PathLike | typing.TextIO) -> HardwareProfile:
    """A validated :class:`HardwareProfile` from one profile file, or from an open text stream
    (``sys.stdin``), read no further than :data:`MAX_PROFILE_BYTES` + 1 characters so that an
    oversized stream is refused before parsing. Unlike :func:`load_profile` a name is never
    looked up: the argument is always a file. Raises :class:`~edgespace.ProfileError`."""
    if hasattr(source, "read"):
        origin = getattr(source, "name", None) or "<stream>"
        return parse_profile(source.read(MAX_PROFILE_BYTES + 1), origin=str(origin))
    path = Path(os.fspath(source)).expanduser()
    if not path.is_file():
        what = (
            "is a directory, not a profile file"
            if path.is_dir()
            else "not a regular file (a device, pipe or socket)"
            if path.exists()
            else "no such file"
        )
        raise ProfileError(f"{path}: {what}")
    return _load_file(path)


@functools.lru_cache(maxsize=64)
def _load_cached(path: str, mtime_ns: int, size: int) -> HardwareProfile:  # noqa: ARG001 - cache key
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_PROFILE_BYTES + 1)  # the file may have grown since stat()
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"{path}: cannot read: {exc}") from None
    return parse_profile(text, origin=path)


class _TooLarge(Exception):
    """Raised inside the loader when the document would expand past the bounds."""


def parse_profile(text: str, *, origin: str = "<string>") -> HardwareProfile:
    """Parse and validate profile YAML text; ``origin`` names the file in error messages.

    The YAML is read with a YAML 1.2 core-schema resolver (``0100`` is one hundred, ``15:21``
    and ``yes`` are text, dates are text) and bounded: at most :data:`MAX_PROFILE_BYTES`
    characters, :data:`MAX_ALIASES` aliases and :data:`MAX_EXPANDED_NODES` nodes after alias
    expansion, checked before anything is constructed."""
    if not isinstance(text, str):
        raise ProfileError(f"{origin}: expected YAML text, not {type(text).__name__}")
    if len(text) > MAX_PROFILE_BYTES:
        raise ProfileError(
            f"{origin}: {len(text):,} characters: too large for a profile; allowed: at most {MAX_PROFILE_BYTES:,}"
        )
    try:
        loader = _StrictLoader(text)
        try:
            node = loader.get_single_node()
            _check_expansion(node)
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except _TooLarge as exc:
        raise ProfileError(f"{origin}: {exc}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "?"
        problem = " ".join(str(x) for x in (exc.context, exc.problem) if x)
        raise ProfileError(f"{origin}: {where}: malformed YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise ProfileError(
            f"{origin}: malformed YAML: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        ) from None
    except RecursionError:
        raise ProfileError(f"{origin}: malformed YAML: nested too deeply") from None
    return validate_profile(data, origin=origin)


def _check_expansion(root: yaml.Node | None) -> None:
    """Count the nodes of the document as if every alias were copied out (memoised per node,
    so the count itself is linear in the file); raise :class:`_TooLarge` past the bound."""
    if root is None:
        return
    size: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    on_path: set[int] = set()
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            if isinstance(node, yaml.MappingNode):
                children = [n for kv in node.value for n in kv]
            elif isinstance(node, yaml.SequenceNode):
                children = node.value
            else:
                children = []
            total = 1 + sum(size[id(c)] for c in children)
            size[key] = total
            if total > MAX_EXPANDED_NODES:
                raise _TooLarge(
                    f"line {node.start_mark.line + 1}: {total:,}+ values once aliases are expanded: too large for a "
                    f"profile; allowed: at most {MAX_EXPANDED_NODES:,} (is an anchor used inside itself, or many times over?)"
                )
            continue
        if key in size:
            continue
        if key in on_path:  # a recursive alias (an anchor used inside itself)
            raise _TooLarge(f"line {node.start_mark.line + 1}: an anchor is used inside itself (a recursive alias)")
        on_path.add(key)
        stack.append((node, True))
        if isinstance(node, yaml.MappingNode):
            stack.extend((c, False) for kv in node.value for c in kv if id(c) not in size)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((c, False) for c in node.value if id(c) not in size)


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


# -- YAML: safe, YAML 1.2 core schema, strict about duplicate keys -------------------------


class _Core12Resolver(yaml.resolver.BaseResolver):
    """Implicit types of the YAML 1.2 core schema: no octal ``0100`` (= 64 in YAML 1.1), no
    sexagesimal ``15:21`` (= 921), no ``yes``/``on`` booleans, no timestamps."""


_Core12Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Core12Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"), list("-+0123456789")
)
_Core12Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)
_Core12Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)
_Core12Resolver.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"^(?:<<)$"), ["<"])


class _StrictLoader(
    yaml.reader.Reader,
    yaml.scanner.Scanner,
    yaml.parser.Parser,
    yaml.composer.Composer,
    yaml.constructor.SafeConstructor,
    _Core12Resolver,
):
    """A safe loader (PyYAML's SafeLoader parts) with the YAML 1.2 core resolver, that rejects a
    key written twice in one mapping (the second would silently win), while still allowing
    ``<<: *anchor`` merges to be overridden, and counts aliases (:data:`MAX_ALIASES`)."""

    def __init__(self, stream) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        yaml.constructor.SafeConstructor.__init__(self)
        _Core12Resolver.__init__(self)
        self._aliases = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                mark = self.peek_event().start_mark
                raise _TooLarge(f"line {mark.line + 1}: more than {MAX_ALIASES:,} aliases: too many for a profile")
        return super().compose_node(parent, index)


class _HugeNumber(float):
    """A YAML integer too long for Python to convert (over ``sys.get_int_max_str_digits()``
    digits): kept as infinity, so validation refuses it naming the field, and shown by its
    length rather than its digits."""

    digits: int = 0

    def __repr__(self) -> str:
        return f"<a number of {self.digits:,} digits>"


def _construct_int(loader: _StrictLoader, node: yaml.ScalarNode):
    text = loader.construct_scalar(node)
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("+-")
    try:
        if body.startswith("0o"):
            return sign * int(body[2:], 8)
        if body.startswith("0x"):
            return sign * int(body[2:], 16)
        return sign * int(body, 10)  # decimal, leading zeros and all (YAML 1.2: 0100 is one hundred)
    except ValueError:  # longer than Python converts
        huge = _HugeNumber(sign * math.inf)
        huge.digits = len(body)
        return huge


def _construct_float(loader: _StrictLoader, node: yaml.ScalarNode):
    text = loader.construct_scalar(node).lower()
    if text.endswith(".inf"):
        return -math.inf if text.startswith("-") else math.inf
    if text == ".nan":
        return math.nan
    return float(text)


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
                "while constructing a mapping",
                node.start_mark,
                f"found duplicate key {_show(key)}",
                key_node.start_mark,
            )
        seen[key] = key_node
    loader.flatten_mapping(node)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_StrictLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_StrictLoader.add_constructor("tag:yaml.org,2002:float", _construct_float)


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
    """A value for a one-line message, at most ``limit`` characters; never ``repr()`` of a whole
    structure (an alias bomb holds billions of values) or of a huge number (Python refuses to
    convert ints over ~4300 digits to text)."""
    if isinstance(value, dict) and "value" in value and not isinstance(value["value"], (dict, list, tuple)):
        value = value["value"]
    if isinstance(value, dict):
        keys = ", ".join(_key(k)[:limit] for k in itertools.islice(value, 6))
        return "{" + keys + (", ..." if len(value) > 6 else "") + "}"  # bounded: 6 keys, each cut
    elif isinstance(value, (list, tuple)):  # the first few items; nested containers not opened
        items = (
            "[...]" if isinstance(v, (list, tuple)) else "{...}" if isinstance(v, dict) else _show(v, 20)
            for v in itertools.islice(value, 6)
        )
        text = "[" + ", ".join(items) + (", ..." if len(value) > 6 else "") + "]"
    elif isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 200:
        try:
            text = f"<a number of {len(str(abs(value))):,} digits>"
        except ValueError:  # past Python's int-to-text limit
            text = f"<a number of about {int(value.bit_length() * 0.30103):,} digits>"
    elif isinstance(value, (str, bytes)):
        text = repr(value[: limit + 1])
    else:
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

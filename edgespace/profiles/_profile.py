"""A hardware profile: its named power modes, the sources they cite, and the checks that hold
across modes (every cited key exists, every mode is self-contained)."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, Field, PrivateAttr, field_validator, model_validator

from edgespace._errors import ProfileError
from edgespace.profiles._mode import PowerMode, StandbySpec
from edgespace.profiles._schema import Sourced, _Model

__all__ = ["HardwareProfile"]


class HardwareProfile(_Model):
    """A device and its named power modes. Load with :func:`edgespace.load_profile`."""

    schema_version: Literal[1] = 1
    name: str
    device: str
    kind: Literal["jetson", "phone-soc", "sbc", "usb-accelerator", "server-gpu", "host"]
    description: str = ""
    references: dict[str, str] = Field(default_factory=dict)
    default_mode: str
    standby: StandbySpec
    modes: dict[str, PowerMode]
    notes: tuple[str, ...] = ()

    # where the profile was read from (set by the loader; not part of the YAML)
    _origin: str = PrivateAttr(default="")

    @property
    def origin(self) -> str:
        """The file this profile was read from ("" when built in code)."""
        return self._origin

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not re.fullmatch(r"[a-z0-9][a-z0-9._-]*", v):
            raise ValueError("use lower-case letters, digits, '.', '_' and '-' (e.g. jetson-orin-nano-8gb)")
        return v

    @model_validator(mode="before")
    @classmethod
    def _name_modes(cls, data: Any) -> Any:
        # ``_shared`` holds YAML anchors (blocks reused with ``<<: *name``); it is not data itself.
        if isinstance(data, dict) and "_shared" in data:
            data = {k: v for k, v in data.items() if k != "_shared"}
        # A mode knows its own name, so cost models that receive only a PowerMode can report it.
        if isinstance(data, dict) and isinstance(data.get("modes"), dict):
            modes = {}
            for key, mode in data["modes"].items():
                if isinstance(mode, dict) and "name" not in mode:
                    mode = {**mode, "name": str(key)}
                modes[key] = mode
            data = {**data, "modes": modes}
        return data

    @model_validator(mode="after")
    def _check(self) -> HardwareProfile:
        if not self.modes:
            raise ValueError("a profile needs at least one power mode under modes:")
        if self.default_mode not in self.modes:
            raise ValueError(f"default_mode {self.default_mode!r} is not a mode; modes: {', '.join(self.modes)}")
        for key, mode in self.modes.items():
            if mode.name != key:
                raise ValueError(f"modes.{key}.name is {mode.name!r}; it must equal its key {key!r} or be left out")
        cited = [(f"{path}.source", s.source) for path, s in self.sourced_values()]
        for key, mode in self.modes.items():
            for name, engine in mode.engines.items():
                cited.append((f"modes.{key}.engines.{name}.op_support.source", engine.op_support.source))
            if mode.slower_than is not None:
                cited.append((f"modes.{key}.slower_than.source", mode.slower_than.source))
                for other in mode.slower_than.modes:
                    if other not in self.modes:
                        raise ValueError(
                            f"modes.{key}.slower_than.modes: {other!r} is not a mode; modes: {', '.join(self.modes)}"
                        )
        for path, text in cited:
            for ref in _REF.findall(text or ""):
                if ref not in self.references:
                    known = ", ".join(self.references) or "(none)"
                    raise ValueError(f"{path} cites [{ref}], which is not in references; known: {known}")
        return self

    # -- accessors ------------------------------------------------------------------------
    def mode(self, name: str | None = None) -> PowerMode:
        """A power mode by name (default: ``default_mode``); ProfileError lists the modes."""
        key = self.default_mode if name is None else name
        try:
            return self.modes[key]
        except (KeyError, TypeError):  # TypeError: an unhashable name (a list, a dict)
            raise ProfileError(f"{self.name}: mode {key!r}: unknown; modes: {', '.join(self.modes)}") from None

    @property
    def mode_names(self) -> list[str]:
        return list(self.modes)

    @property
    def sleep_w(self) -> float:
        return self.standby.sleep_w.value

    def sourced_values(self) -> list[tuple[str, Sourced]]:
        """Every number in the profile with its dotted field path, for audits and reports."""
        out: list[tuple[str, Sourced]] = []
        _collect(self, "", out)
        return out

    def resolve_source(self, s: Sourced) -> str:
        """A value's provenance with every ``[key]`` it cites spelled out from ``references``."""
        keys = list(dict.fromkeys(_REF.findall(s.source or "")))
        if not keys:
            return s.provenance
        cited = "; ".join(f"[{k}] = {self.references[k]}" for k in keys)
        return f"{s.provenance} — {cited}"


#: A citation of the profile's ``references`` table inside a source text: ``[key]``.
_REF = re.compile(r"\[([a-z][a-z0-9_]*)\]")


def _collect(obj: Any, path: str, out: list) -> None:
    if isinstance(obj, Sourced):
        out.append((path, obj))
    elif isinstance(obj, BaseModel):
        for key in type(obj).model_fields:
            _collect(getattr(obj, key), f"{path}.{key}" if path else key, out)
    elif isinstance(obj, dict):
        for key, v in obj.items():
            _collect(v, f"{path}.{key}", out)
    elif isinstance(obj, tuple):
        for i, v in enumerate(obj):
            _collect(v, f"{path}.{i}", out)

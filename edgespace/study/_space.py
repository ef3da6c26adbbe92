"""Search spaces: discretised sets of design points (architecture × precision × batch × power mode × placement).

A space maps a flat dict of Optuna distributions to design points and back. Every dimension is
discrete (a step, or a list of categories), so the same space can be sampled by NSGA-II or TPE,
enumerated by the grid sampler, and screened exhaustively by :func:`~edgespace.study.screen`.
A union keeps its search space static: every member's parameters are sampled on every trial
(the ``space`` parameter picks which member is used), so NSGA-II's crossover sees one fixed
set of parameters rather than a conditional tree.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from edgespace._ops import PLACEMENTS
from edgespace._spec import BATCH_RANGE, PRECISIONS
from edgespace.study._errors import SearchError

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution

    from edgespace.profiles import HardwareProfile

__all__ = ["Space", "UnionSpace"]

_DECIMALS = 6


def _steps(
    name: str, lo: float, hi: float, step: float, allowed: tuple[float, float], integer: bool = False
) -> np.ndarray:
    for label, value in (("low", lo), ("high", hi), ("step", step)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise SearchError(f"{name}: {label}={value!r} is not a finite number")
    if step <= 0:
        raise SearchError(f"{name}: step={step!r} must be > 0")
    if not allowed[0] <= lo <= hi <= allowed[1]:
        raise SearchError(
            f"{name}: range ({lo!r}, {hi!r}) is not allowed; allowed: {allowed[0]} <= low <= high <= {allowed[1]}"
        )
    if integer and not all(float(v).is_integer() for v in (lo, hi, step)):
        raise SearchError(f"{name}: ({lo!r}, {hi!r}) step {step!r} must be whole pixels")
    n = int(math.floor((hi - lo) / step + 1e-9)) + 1
    values = np.round(lo + step * np.arange(n), _DECIMALS)
    return values.astype(np.int64) if integer else values


def _range(name: str, value) -> tuple[float, float]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value), float(value)
    try:
        lo, hi = value
    except (TypeError, ValueError):
        raise SearchError(f"{name}={value!r}: give a (low, high) pair or one number") from None
    return lo, hi


def _batches(name: str, values) -> tuple[int, ...]:
    """Batch sizes (images per call): whole numbers in BATCH_RANGE, each once, in the order given."""
    if isinstance(values, (int, np.integer)) and not isinstance(values, bool):
        values = (values,)
    try:
        values = tuple(dict.fromkeys(values))
    except TypeError:
        raise SearchError(f"{name}={values!r}: give batch sizes, e.g. (1, 8, 32)") from None
    lo, hi = BATCH_RANGE
    if not values:
        raise SearchError(f"{name}: empty; allowed: integers {lo} to {hi}")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not lo <= v <= hi:
            raise SearchError(f"{name}: {v!r} is not allowed; allowed: integers {lo} to {hi}")
    return tuple(int(v) for v in values)


def _choices(name: str, values, allowed: Sequence[str] | None) -> tuple[str, ...]:
    if isinstance(values, str):
        values = (values,)
    values = tuple(dict.fromkeys(values))
    if not values:
        raise SearchError(f"{name}: empty; allowed: {', '.join(allowed or ())}")
    if allowed is not None:
        bad = [v for v in values if v not in allowed]
        if bad:
            raise SearchError(f"{name}: {bad[0]!r} is not allowed; allowed: {', '.join(allowed)}")
    return values


class Space:
    """Base of all spaces. Subclasses define :meth:`_arch_params`, :meth:`_arch_decode` and
    :meth:`_arch_grid`; precision, batch, power mode and placement are added here. ``batches``:
    images per inference call (default ``(1,)``; a server or a multi-camera Jetson searches e.g.
    ``(1, 8, 32)``): a parameter only when there is more than one value, so batch-1 spaces keep
    their parameters and stored studies their names."""

    kind: str = "space"

    def __init__(
        self,
        *,
        precisions: Sequence[str] = PRECISIONS,
        modes: Sequence[str] | None = None,
        name: str | None = None,
        placements: Sequence[str] | None = None,
        batches: Sequence[int] = (1,),
    ):
        self.precisions = _choices(f"{type(self).__name__}(precisions)", precisions, PRECISIONS)
        self.batches = _batches(f"{type(self).__name__}(batches)", batches)
        self.modes = None if modes is None else _choices(f"{type(self).__name__}(modes)", modes, None)
        # None: every point is placed "auto" (the profile's primary engine) and no parameter is
        # sampled; otherwise ``placement`` is a search dimension (e.g. ("auto", "dla") on Orin).
        self.placements = (
            None if placements is None else _choices(f"{type(self).__name__}(placements)", placements, PLACEMENTS)
        )
        self.name = name or self.kind

    # -- to override
    def _arch_params(self) -> dict[str, BaseDistribution]:
        raise NotImplementedError

    def _arch_decode(self, params: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def _arch_grid(self) -> pd.DataFrame:
        raise NotImplementedError

    def _arch_dict(self) -> dict:
        raise NotImplementedError

    # -- shared
    def mode_names(self, profile: HardwareProfile) -> tuple[str, ...]:
        if self.modes is None:
            return tuple(profile.modes)
        bad = [m for m in self.modes if m not in profile.modes]
        if bad:
            raise SearchError(
                f"{self.name}: mode {bad[0]!r} is not a power mode of {profile.name}; allowed: {', '.join(profile.modes)}"
            )
        return self.modes

    def placement_names(self, profile: HardwareProfile) -> tuple[str, ...]:
        """The placements searched; each must exist in every searched mode (``dla`` needs a DLA)."""
        if self.placements is None:
            return ("auto",)
        for mode in self.mode_names(profile):
            allowed = profile.mode(mode).placement_names
            bad = [p for p in self.placements if p not in allowed]
            if bad:
                raise SearchError(
                    f"{self.name}: placement {bad[0]!r} is not available in {profile.name} mode {mode!r}; "
                    f"allowed: {', '.join(allowed)}"
                )
        return self.placements

    def distributions(self, profile: HardwareProfile) -> dict[str, BaseDistribution]:
        """Optuna distributions of every parameter (architecture, ``precision``, ``mode`` and,
        when placements are searched, ``placement``)."""
        from optuna.distributions import CategoricalDistribution

        out = {
            **self._arch_params(),
            "precision": CategoricalDistribution(self.precisions),
            "mode": CategoricalDistribution(self.mode_names(profile)),
        }
        if self.batches != (1,):
            out["batch"] = CategoricalDistribution(self.batches)
        if self.placements is not None:
            out["placement"] = CategoricalDistribution(self.placement_names(profile))
        return out

    def decode(self, params: dict[str, Any]) -> dict[str, Any]:
        """A design point (family, width, depth, resolution, precision, batch, mode, placement, ...) from parameters."""
        point = self._arch_decode(params)
        point["precision"] = params["precision"]
        point["batch"] = int(params.get("batch", self.batches[0]))
        point["mode"] = params["mode"]
        point["placement"] = params.get("placement", "auto")
        point["space"] = self.name
        return point

    def grid(self, profile: HardwareProfile) -> pd.DataFrame:
        """Every design point of the discretised space, one row each (architecture × precision ×
        batch × mode × placement)."""
        arch = self._arch_grid()
        combos = pd.DataFrame(
            list(
                itertools.product(
                    self.precisions, self.batches, self.mode_names(profile), self.placement_names(profile)
                )
            ),
            columns=["precision", "batch", "mode", "placement"],
        )
        out = arch.merge(combos, how="cross")
        out["space"] = self.name
        return out

    def size(self, profile: HardwareProfile) -> int:
        n = len(self._arch_grid()) * len(self.precisions) * len(self.batches) * len(self.mode_names(profile))
        return n * len(self.placement_names(profile))

    def to_dict(self) -> dict:
        out = {
            "kind": self.kind,
            "name": self.name,
            "precisions": list(self.precisions),
            "modes": None if self.modes is None else list(self.modes),
            **self._arch_dict(),
        }
        if self.placements is not None:  # absent for studies stored before placements existed
            out["placements"] = list(self.placements)
        if self.batches != (1,):  # likewise: batch-1 studies keep their stored definition and name
            out["batches"] = list(self.batches)
        return out

    def __or__(self, other: Space) -> UnionSpace:
        left = list(self.spaces) if isinstance(self, UnionSpace) else [self]
        right = list(other.spaces) if isinstance(other, UnionSpace) else [other]
        return UnionSpace(left + right)

    def __eq__(self, other) -> bool:
        return isinstance(other, Space) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(repr(self.to_dict()))

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items() if k != "kind")
        return f"{type(self).__name__}({fields})"


class UnionSpace(Space):
    """Several spaces searched together (``a | b``). Parameters: ``space`` (which member) and
    every member's parameters prefixed with ``<member name>.``; all are sampled on every trial
    so the search space stays static."""

    kind = "union"

    def __init__(self, spaces: Sequence[Space], *, name: str | None = None) -> None:
        spaces = list(spaces)
        if not spaces or not all(isinstance(s, Space) and not isinstance(s, UnionSpace) for s in spaces):
            raise SearchError("UnionSpace(spaces): give one or more EfficientNetSpace/MobileNetSpace objects")
        names = [s.name for s in spaces]
        if len(set(names)) != len(names):
            raise SearchError(f"UnionSpace: member names must differ, got {names}; pass name=... to a member")
        self.spaces = spaces
        self.name = name or "+".join(names)
        self.precisions = tuple(dict.fromkeys(p for s in spaces for p in s.precisions))
        self.batches = tuple(dict.fromkeys(b for s in spaces for b in s.batches))
        self.modes = None
        self.placements = None

    def member(self, name: str) -> Space:
        for s in self.spaces:
            if s.name == name:
                return s
        raise SearchError(f"{self.name}: no member space {name!r}; allowed: {', '.join(s.name for s in self.spaces)}")

    def distributions(self, profile):
        from optuna.distributions import CategoricalDistribution

        out: dict = {"space": CategoricalDistribution(tuple(s.name for s in self.spaces))}
        for s in self.spaces:
            out.update({f"{s.name}.{k}": v for k, v in s.distributions(profile).items()})
        return out

    def decode(self, params):
        s = self.member(params["space"])
        prefix = s.name + "."
        return s.decode({k[len(prefix) :]: v for k, v in params.items() if k.startswith(prefix)})

    def grid(self, profile):
        return pd.concat([s.grid(profile) for s in self.spaces], ignore_index=True)

    def size(self, profile):
        return sum(s.size(profile) for s in self.spaces)

    def to_dict(self):
        return {"kind": self.kind, "name": self.name, "spaces": [s.to_dict() for s in self.spaces]}

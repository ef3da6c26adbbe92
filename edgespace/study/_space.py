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
from edgespace._spec import BATCH_RANGE, DEPTH_RANGE, PRECISIONS, RESOLUTION_RANGE, WIDTH_RANGE
from edgespace.study._errors import SearchError

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution

    from edgespace.profiles import HardwareProfile

__all__ = [
    "Space",
    "EfficientNetSpace",
    "MobileNetSpace",
    "UnionSpace",
    "named_space",
    "space_from_dict",
    "SPACE_NAMES",
]

MOBILENET_FAMILIES = ("mobilenetv2", "mobilenetv3_large", "mobilenetv3_small")
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


class EfficientNetSpace(Space):
    """EfficientNet around the B0 base.

    Compound scaling (default): ``phi`` = (low, high) with ``phi_step``; depth α^φ, width β^φ,
    resolution 224·γ^φ rounded to a multiple of ``resolution_divisor`` (see
    :func:`edgespace.efficientnet`). Free scaling: pass ``phi=None`` and ranges for ``widths``,
    ``depths``, ``resolutions`` with their steps (resolution steps of 8 or 16 keep every stage's
    feature map a whole number of tiles).
    """

    kind = "efficientnet"

    def __init__(
        self,
        *,
        phi: tuple[float, float] | None = (-2.0, 4.0),
        phi_step: float = 0.25,
        alpha: float = 1.2,
        beta: float = 1.1,
        gamma: float = 1.15,
        resolution_divisor: int = 8,
        widths: tuple[float, float] = (0.5, 2.0),
        width_step: float = 0.05,
        depths: tuple[float, float] = (0.5, 3.0),
        depth_step: float = 0.1,
        resolutions: tuple[int, int] = (128, 512),
        resolution_step: int = 16,
        precisions: Sequence[str] = PRECISIONS,
        modes: Sequence[str] | None = None,
        name: str | None = None,
        placements: Sequence[str] | None = None,
        batches: Sequence[int] = (1,),
    ) -> None:
        super().__init__(precisions=precisions, modes=modes, name=name, placements=placements, batches=batches)
        self.compound = phi is not None
        if self.compound:
            lo, hi = _range("EfficientNetSpace(phi)", phi)
            self.phi_values = _steps("EfficientNetSpace(phi)", lo, hi, phi_step, (-4.0, 8.0))
            self.phi, self.phi_step = (float(lo), float(hi)), float(phi_step)
            self.alpha, self.beta, self.gamma, self.resolution_divisor = (
                float(alpha),
                float(beta),
                float(gamma),
                int(resolution_divisor),
            )
            from edgespace._spec import efficientnet

            try:  # validates alpha/beta/gamma and the extremes of the range
                for p in (self.phi_values[0], self.phi_values[-1]):
                    efficientnet(float(p), alpha, beta, gamma, resolution_divisor=resolution_divisor)
            except ValueError as exc:
                raise SearchError(f"EfficientNetSpace: {exc}") from None
        else:
            self.widths, self.width_step = _range("EfficientNetSpace(widths)", widths), float(width_step)
            self.depths, self.depth_step = _range("EfficientNetSpace(depths)", depths), float(depth_step)
            self.resolutions, self.resolution_step = (
                _range("EfficientNetSpace(resolutions)", resolutions),
                int(resolution_step),
            )
            self._w = _steps("EfficientNetSpace(widths)", *self.widths, width_step, WIDTH_RANGE)
            self._d = _steps("EfficientNetSpace(depths)", *self.depths, depth_step, DEPTH_RANGE)
            self._r = _steps(
                "EfficientNetSpace(resolutions)", *self.resolutions, resolution_step, RESOLUTION_RANGE, integer=True
            )

    def _arch_params(self):
        from optuna.distributions import FloatDistribution, IntDistribution

        if self.compound:
            return {"phi": FloatDistribution(self.phi[0], float(self.phi_values[-1]), step=self.phi_step)}
        return {
            "width": FloatDistribution(float(self._w[0]), float(self._w[-1]), step=self.width_step),
            "depth": FloatDistribution(float(self._d[0]), float(self._d[-1]), step=self.depth_step),
            "resolution": IntDistribution(int(self._r[0]), int(self._r[-1]), step=self.resolution_step),
        }

    def _compound(self, phi: float) -> dict[str, Any]:
        from edgespace._spec import efficientnet

        s = efficientnet(phi, self.alpha, self.beta, self.gamma, resolution_divisor=self.resolution_divisor)
        return {"family": "efficientnet", "width": s.width, "depth": s.depth, "resolution": s.resolution, "phi": phi}

    def _arch_decode(self, params):
        if self.compound:
            return self._compound(round(float(params["phi"]), _DECIMALS))
        return {
            "family": "efficientnet",
            "width": round(float(params["width"]), _DECIMALS),
            "depth": round(float(params["depth"]), _DECIMALS),
            "resolution": int(params["resolution"]),
        }

    def _arch_grid(self):
        if self.compound:
            return pd.DataFrame([self._compound(float(p)) for p in self.phi_values])
        w, d, r = np.meshgrid(self._w, self._d, self._r, indexing="ij")
        return pd.DataFrame({"family": "efficientnet", "width": w.ravel(), "depth": d.ravel(), "resolution": r.ravel()})

    def _arch_dict(self):
        if self.compound:
            return {
                "phi": list(self.phi),
                "phi_step": self.phi_step,
                "alpha": self.alpha,
                "beta": self.beta,
                "gamma": self.gamma,
                "resolution_divisor": self.resolution_divisor,
            }
        return {
            "phi": None,
            "widths": list(self.widths),
            "width_step": self.width_step,
            "depths": list(self.depths),
            "depth_step": self.depth_step,
            "resolutions": list(self.resolutions),
            "resolution_step": self.resolution_step,
        }


class MobileNetSpace(Space):
    """MobileNetV2/V3: ``families`` × width multipliers × input resolutions (depth 1.0)."""

    kind = "mobilenet"

    def __init__(
        self,
        *,
        families: Sequence[str] = MOBILENET_FAMILIES,
        widths: tuple[float, float] = (0.35, 1.5),
        width_step: float = 0.05,
        resolutions: tuple[int, int] = (96, 320),
        resolution_step: int = 16,
        precisions: Sequence[str] = PRECISIONS,
        modes: Sequence[str] | None = None,
        name: str | None = None,
        placements: Sequence[str] | None = None,
        batches: Sequence[int] = (1,),
    ) -> None:
        self.families = _choices("MobileNetSpace(families)", families, MOBILENET_FAMILIES)
        super().__init__(
            precisions=precisions,
            modes=modes,
            placements=placements,
            batches=batches,
            name=name or ("mobilenet" if len(self.families) > 1 else self.families[0]),
        )
        self.widths, self.width_step = _range("MobileNetSpace(widths)", widths), float(width_step)
        self.resolutions, self.resolution_step = (
            _range("MobileNetSpace(resolutions)", resolutions),
            int(resolution_step),
        )
        self._w = _steps("MobileNetSpace(widths)", *self.widths, width_step, WIDTH_RANGE)
        self._r = _steps(
            "MobileNetSpace(resolutions)", *self.resolutions, resolution_step, RESOLUTION_RANGE, integer=True
        )

    def _arch_params(self):
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        return {
            "family": CategoricalDistribution(self.families),
            "width": FloatDistribution(float(self._w[0]), float(self._w[-1]), step=self.width_step),
            "resolution": IntDistribution(int(self._r[0]), int(self._r[-1]), step=self.resolution_step),
        }

    def _arch_decode(self, params):
        return {
            "family": params["family"],
            "width": round(float(params["width"]), _DECIMALS),
            "depth": 1.0,
            "resolution": int(params["resolution"]),
        }

    def _arch_grid(self):
        f, w, r = zip(*itertools.product(self.families, self._w, self._r), strict=True)
        return pd.DataFrame(
            {
                "family": list(f),
                "width": np.array(w, dtype=float),
                "depth": 1.0,
                "resolution": np.array(r, dtype=np.int64),
            }
        )

    def _arch_dict(self):
        return {
            "families": list(self.families),
            "widths": list(self.widths),
            "width_step": self.width_step,
            "resolutions": list(self.resolutions),
            "resolution_step": self.resolution_step,
        }


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


_KINDS = {"efficientnet": EfficientNetSpace, "mobilenet": MobileNetSpace}


def space_from_dict(doc: dict) -> Space:
    """Rebuild a space from :meth:`Space.to_dict` (how a worker reconstructs a stored study)."""
    doc = dict(doc)
    kind = doc.pop("kind", None)
    if kind == "union":
        return UnionSpace([space_from_dict(d) for d in doc["spaces"]], name=doc.get("name"))
    if kind not in _KINDS:
        raise SearchError(f"stored space kind {kind!r} is unknown; allowed: union, {', '.join(_KINDS)}")
    if kind == "efficientnet" and doc.get("phi") is not None:
        doc = {
            k: v
            for k, v in doc.items()
            if k not in ("widths", "width_step", "depths", "depth_step", "resolutions", "resolution_step")
        }
    return _KINDS[kind](**{k: tuple(v) if isinstance(v, list) else v for k, v in doc.items()})


#: Names the CLI's ``--space`` takes.
SPACE_NAMES = ("efficientnet", *MOBILENET_FAMILIES, "mobilenet", "all")


def named_space(
    name: str,
    *,
    precisions: Sequence[str] = PRECISIONS,
    modes: Sequence[str] | None = None,
    placements: Sequence[str] | None = None,
    batches: Sequence[int] = (1,),
) -> Space:
    """The default space for a name: ``efficientnet`` (compound scaling, φ −2…4 in steps of
    0.25), one MobileNet family, ``mobilenet`` (all three), or ``all`` (EfficientNet | MobileNet).
    ``placements`` (e.g. ``["auto", "dla"]`` on Jetson Orin NX / AGX Orin) adds a placement dimension,
    ``batches`` (e.g. ``(1, 8, 32)``) a batch dimension."""
    kw = {"precisions": precisions, "modes": modes, "placements": placements, "batches": batches}
    if name == "efficientnet":
        return EfficientNetSpace(**kw)
    if name in MOBILENET_FAMILIES:
        return MobileNetSpace(families=(name,), **kw)
    if name == "mobilenet":
        return MobileNetSpace(**kw)
    if name == "all":
        return EfficientNetSpace(**kw) | MobileNetSpace(**kw)
    raise SearchError(f"space {name!r} is unknown; allowed: {', '.join(SPACE_NAMES)}")

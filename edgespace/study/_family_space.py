"""The spaces of one family each: EfficientNet (free width, depth and resolution, or compound
scaling by phi) and the MobileNets (width and resolution)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from edgespace._spec import COMPOUND_FAMILIES, DEPTH_RANGE, PRECISIONS, RESOLUTION_RANGE, WIDTH_RANGE
from edgespace.study._errors import SearchError
from edgespace.study._space import _DECIMALS, Space, _choices, _range, _steps

__all__ = ["EFFICIENTVIT_FAMILIES", "MOBILENET_FAMILIES", "MOBILENETV4_FAMILIES", "EfficientNetSpace", "MobileNetSpace"]


MOBILENET_FAMILIES = ("mobilenetv2", "mobilenetv3_large", "mobilenetv3_small")
#: MobileNetV4's convolutional and hybrid (Mobile MQA attention) families: width multiplier and
#: resolution, as the MobileNets.
MOBILENETV4_FAMILIES = (
    "mobilenetv4_conv_small",
    "mobilenetv4_conv_medium",
    "mobilenetv4_conv_large",
    "mobilenetv4_hybrid_medium",
    "mobilenetv4_hybrid_large",
)
#: EfficientViT (MIT) B0–B3: the width multiplier (edgespace's own knob) and resolution, as the
#: MobileNets.
EFFICIENTVIT_FAMILIES = ("efficientvit_b0", "efficientvit_b1", "efficientvit_b2", "efficientvit_b3")


class EfficientNetSpace(Space):
    """EfficientNet (``family="efficientnet"``) or EfficientNetV2 (``"efficientnetv2"``) around
    its B0 base.

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
        family: str = "efficientnet",
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
        self.family = _choices("EfficientNetSpace(family)", (family,), COMPOUND_FAMILIES)[0]
        super().__init__(
            precisions=precisions, modes=modes, name=name or self.family, placements=placements, batches=batches
        )
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
                    efficientnet(float(p), alpha, beta, gamma, resolution_divisor=resolution_divisor, family=family)
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

        s = efficientnet(
            phi, self.alpha, self.beta, self.gamma, resolution_divisor=self.resolution_divisor, family=self.family
        )
        return {"family": self.family, "width": s.width, "depth": s.depth, "resolution": s.resolution, "phi": phi}

    def _arch_decode(self, params):
        if self.compound:
            return self._compound(round(float(params["phi"]), _DECIMALS))
        return {
            "family": self.family,
            "width": round(float(params["width"]), _DECIMALS),
            "depth": round(float(params["depth"]), _DECIMALS),
            "resolution": int(params["resolution"]),
        }

    def _arch_grid(self):
        if self.compound:
            return pd.DataFrame([self._compound(float(p)) for p in self.phi_values])
        w, d, r = np.meshgrid(self._w, self._d, self._r, indexing="ij")
        return pd.DataFrame({"family": self.family, "width": w.ravel(), "depth": d.ravel(), "resolution": r.ravel()})

    def _arch_dict(self):
        if self.compound:
            return {
                "family": self.family,
                "phi": list(self.phi),
                "phi_step": self.phi_step,
                "alpha": self.alpha,
                "beta": self.beta,
                "gamma": self.gamma,
                "resolution_divisor": self.resolution_divisor,
            }
        return {
            "family": self.family,
            "phi": None,
            "widths": list(self.widths),
            "width_step": self.width_step,
            "depths": list(self.depths),
            "depth_step": self.depth_step,
            "resolutions": list(self.resolutions),
            "resolution_step": self.resolution_step,
        }


class MobileNetSpace(Space):
    """MobileNetV2/V3/V4 and EfficientViT: ``families`` × width multipliers × input resolutions
    (depth 1.0). Default: the three MobileNetV2/V3 families; MobileNetV4's
    (:data:`MOBILENETV4_FAMILIES`) and EfficientViT's (:data:`EFFICIENTVIT_FAMILIES`) are allowed
    too."""

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
        self.families = _choices(
            "MobileNetSpace(families)", families, MOBILENET_FAMILIES + MOBILENETV4_FAMILIES + EFFICIENTVIT_FAMILIES
        )
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

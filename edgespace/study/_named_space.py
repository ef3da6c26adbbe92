"""Spaces by name and from storage: the named spaces the CLI offers (``efficientnet``,
``efficientnetv2``, a MobileNet or EfficientViT family, ``mobilenet``, ``mobilenetv4``, ``efficientvit``,
``all``) and a space rebuilt from the dict a study stores."""

from __future__ import annotations

from collections.abc import Sequence

from edgespace._spec import COMPOUND_FAMILIES, PRECISIONS
from edgespace.study._errors import SearchError
from edgespace.study._family_space import (
    EFFICIENTVIT_FAMILIES,
    MOBILENET_FAMILIES,
    MOBILENETV4_FAMILIES,
    EfficientNetSpace,
    MobileNetSpace,
)
from edgespace.study._space import Space, UnionSpace

__all__ = ["space_from_dict", "SPACE_NAMES", "named_space"]


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
SPACE_NAMES = (
    *COMPOUND_FAMILIES,
    *MOBILENET_FAMILIES,
    *MOBILENETV4_FAMILIES,
    *EFFICIENTVIT_FAMILIES,
    "mobilenet",
    "mobilenetv4",
    "efficientvit",
    "all",
)


def named_space(
    name: str,
    *,
    precisions: Sequence[str] = PRECISIONS,
    modes: Sequence[str] | None = None,
    placements: Sequence[str] | None = None,
    batches: Sequence[int] = (1,),
) -> Space:
    """The default space for a name: ``efficientnet`` or ``efficientnetv2`` (compound scaling, φ
    −2…4 in steps of 0.25), one MobileNet family, ``mobilenet`` (MobileNetV2 and V3 Large/Small),
    ``mobilenetv4`` (MobileNetV4 Conv Small/Medium/Large and Hybrid Medium/Large), one EfficientViT
    family or ``efficientvit`` (EfficientViT B0–B3, width multiplier and resolution), or ``all``
    (EfficientNet | EfficientNetV2 | MobileNet | MobileNetV4 | EfficientViT).
    ``placements`` (e.g. ``["auto", "dla"]`` on Jetson Orin NX / AGX Orin) adds a placement dimension,
    ``batches`` (e.g. ``(1, 8, 32)``) a batch dimension."""
    kw = {"precisions": precisions, "modes": modes, "placements": placements, "batches": batches}
    if name in COMPOUND_FAMILIES:
        return EfficientNetSpace(family=name, **kw)
    if name in MOBILENET_FAMILIES + MOBILENETV4_FAMILIES + EFFICIENTVIT_FAMILIES:
        return MobileNetSpace(families=(name,), **kw)
    if name == "mobilenet":
        return MobileNetSpace(**kw)
    if name == "mobilenetv4":
        return MobileNetSpace(families=MOBILENETV4_FAMILIES, name="mobilenetv4", **kw)
    if name == "efficientvit":
        return MobileNetSpace(families=EFFICIENTVIT_FAMILIES, name="efficientvit", **kw)
    if name == "all":
        return (
            EfficientNetSpace(**kw)
            | EfficientNetSpace(family="efficientnetv2", **kw)
            | MobileNetSpace(**kw)
            | MobileNetSpace(families=MOBILENETV4_FAMILIES, name="mobilenetv4", **kw)
            | MobileNetSpace(families=EFFICIENTVIT_FAMILIES, name="efficientvit", **kw)
        )
    raise SearchError(f"space {name!r} is unknown; allowed: {', '.join(SPACE_NAMES)}")

"""The design point (first stage of the data flow): :class:`ArchSpec`, its constructors, and
what a spec may say and the frame columns that hold one (``ARCH_COLUMNS``, ``POINT_COLUMNS``): the precisions, the allowed ranges and the published EfficientNet and EfficientNetV2 presets.

The family definitions a spec names live in :mod:`edgespace.archs`.
"""

from __future__ import annotations

from edgespace._spec import (
    ARCH_COLUMNS,
    BYTES_PER_ELEMENT,
    DEPTH_RANGE,
    EFFICIENTNET_PRESETS,
    EFFICIENTNETV2_PRESETS,
    NUM_CLASSES_RANGE,
    POINT_COLUMNS,
    PRECISIONS,
    RESOLUTION_RANGE,
    WIDTH_RANGE,
    ArchSpec,
    efficientnet,
    efficientnet_preset,
    efficientnetv2_preset,
    mobilenet,
)

__all__ = [
    "ArchSpec",
    "ARCH_COLUMNS",
    "POINT_COLUMNS",
    "BYTES_PER_ELEMENT",
    "DEPTH_RANGE",
    "EFFICIENTNET_PRESETS",
    "EFFICIENTNETV2_PRESETS",
    "NUM_CLASSES_RANGE",
    "PRECISIONS",
    "RESOLUTION_RANGE",
    "WIDTH_RANGE",
    "efficientnet",
    "efficientnet_preset",
    "efficientnetv2_preset",
    "mobilenet",
]

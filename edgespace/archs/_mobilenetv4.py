"""MobileNetV4's convolutional and hybrid families, transcribed from timm's generator
(timm 1.0, ``timm/models/mobilenetv3.py::_gen_mobilenet_v4``; Qin et al., 2024,
https://arxiv.org/abs/2404.10518). tests/test_layers.py and tests/test_families.py check every
family against the module timm builds.

The generator exposes one knob, ``channel_multiplier``: no depth multiplier (``depth_knob``
False), a head of fixed width 1280 (pool → 1×1 conv → BN → act), and the stem left unscaled
for any multiplier below 1.0 (timm ``fix_stem = channel_multiplier < 1.0``).

The hybrids add Mobile MQA attention blocks (``mqa``) to the Medium/Large bodies and a learned
layer scale at the end of every UIB and attention block; Hybrid-Large uses GELU. The attention's
heads, key/value dimension and key/value stride are not scaled by the width multiplier (timm
scales only the block's output channels).
"""

from __future__ import annotations

from edgespace.archs._registry import FamilyDef, register_family

_TIMM = "timm.models.mobilenetv3:_gen_mobilenet_v4"

# Block strings: 'cn' conv+BN+act, 'er' fused inverted bottleneck, 'uir' the universal
# inverted bottleneck: a<k> depthwise before the expansion, k<k> between expansion and
# projection (k0: none). ExtraDW = a and k; IR = k only; ConvNeXt = a only; FFN = neither.
_CONV_SMALL = (
    ("cn_r1_k3_s2_e1_c32", "cn_r1_k1_s1_e1_c32"),
    ("cn_r1_k3_s2_e1_c96", "cn_r1_k1_s1_e1_c64"),
    ("uir_r1_a5_k5_s2_e3_c96", "uir_r4_a0_k3_s1_e2_c96", "uir_r1_a3_k0_s1_e4_c96"),
    (
        "uir_r1_a3_k3_s2_e6_c128",
        "uir_r1_a5_k5_s1_e4_c128",
        "uir_r1_a0_k5_s1_e4_c128",
        "uir_r1_a0_k5_s1_e3_c128",
        "uir_r2_a0_k3_s1_e4_c128",
    ),
    ("cn_r1_k1_s1_c960",),
)

_CONV_MEDIUM = (
    ("er_r1_k3_s2_e4_c48",),
    ("uir_r1_a3_k5_s2_e4_c80", "uir_r1_a3_k3_s1_e2_c80"),
    (
        "uir_r1_a3_k5_s2_e6_c160",
        "uir_r2_a3_k3_s1_e4_c160",
        "uir_r1_a3_k5_s1_e4_c160",
        "uir_r1_a3_k3_s1_e4_c160",
        "uir_r1_a3_k0_s1_e4_c160",
        "uir_r1_a0_k0_s1_e2_c160",
        "uir_r1_a3_k0_s1_e4_c160",
    ),
    (
        "uir_r1_a5_k5_s2_e6_c256",
        "uir_r1_a5_k5_s1_e4_c256",
        "uir_r2_a3_k5_s1_e4_c256",
        "uir_r1_a0_k0_s1_e4_c256",
        "uir_r1_a3_k0_s1_e4_c256",
        "uir_r1_a3_k5_s1_e2_c256",
        "uir_r1_a5_k5_s1_e4_c256",
        "uir_r2_a0_k0_s1_e4_c256",
        "uir_r1_a5_k0_s1_e2_c256",
    ),
    ("cn_r1_k1_s1_c960",),
)

_CONV_LARGE = (
    ("er_r1_k3_s2_e4_c48",),
    ("uir_r1_a3_k5_s2_e4_c96", "uir_r1_a3_k3_s1_e4_c96"),
    (
        "uir_r1_a3_k5_s2_e4_c192",
        "uir_r3_a3_k3_s1_e4_c192",
        "uir_r1_a3_k5_s1_e4_c192",
        "uir_r5_a5_k3_s1_e4_c192",
        "uir_r1_a3_k0_s1_e4_c192",
    ),
    (
        "uir_r4_a5_k5_s2_e4_c512",
        "uir_r1_a5_k0_s1_e4_c512",
        "uir_r1_a5_k3_s1_e4_c512",
        "uir_r2_a5_k0_s1_e4_c512",
        "uir_r1_a5_k3_s1_e4_c512",
        "uir_r1_a5_k5_s1_e4_c512",
        "uir_r3_a5_k0_s1_e4_c512",
    ),
    ("cn_r1_k1_s1_c960",),
)


_HYBRID_MEDIUM = (
    ("er_r1_k3_s2_e4_c48",),
    ("uir_r1_a3_k5_s2_e4_c80", "uir_r1_a3_k3_s1_e2_c80"),
    (
        "uir_r1_a3_k5_s2_e6_c160",
        "uir_r1_a0_k0_s1_e2_c160",
        "uir_r1_a3_k3_s1_e4_c160",
        "uir_r1_a3_k5_s1_e4_c160",
        "mqa_r1_k3_h4_s1_v2_d64_c160",
        "uir_r1_a3_k3_s1_e4_c160",
        "mqa_r1_k3_h4_s1_v2_d64_c160",
        "uir_r1_a3_k0_s1_e4_c160",
        "mqa_r1_k3_h4_s1_v2_d64_c160",
        "uir_r1_a3_k3_s1_e4_c160",
        "mqa_r1_k3_h4_s1_v2_d64_c160",
        "uir_r1_a3_k0_s1_e4_c160",
    ),
    (
        "uir_r1_a5_k5_s2_e6_c256",
        "uir_r1_a5_k5_s1_e4_c256",
        "uir_r2_a3_k5_s1_e4_c256",
        "uir_r1_a0_k0_s1_e2_c256",
        "uir_r1_a3_k5_s1_e2_c256",
        "uir_r1_a0_k0_s1_e2_c256",
        "uir_r1_a0_k0_s1_e4_c256",
        "mqa_r1_k3_h4_s1_d64_c256",
        "uir_r1_a3_k0_s1_e4_c256",
        "mqa_r1_k3_h4_s1_d64_c256",
        "uir_r1_a5_k5_s1_e4_c256",
        "mqa_r1_k3_h4_s1_d64_c256",
        "uir_r1_a5_k0_s1_e4_c256",
        "mqa_r1_k3_h4_s1_d64_c256",
        "uir_r1_a5_k0_s1_e4_c256",
    ),
    ("cn_r1_k1_s1_c960",),
)

_HYBRID_LARGE = (
    ("er_r1_k3_s2_e4_c48",),
    ("uir_r1_a3_k5_s2_e4_c96", "uir_r1_a3_k3_s1_e4_c96"),
    (
        "uir_r1_a3_k5_s2_e4_c192",
        "uir_r3_a3_k3_s1_e4_c192",
        "uir_r1_a3_k5_s1_e4_c192",
        "uir_r2_a5_k3_s1_e4_c192",
        "mqa_r1_k3_h8_s1_v2_d48_c192",
        "uir_r1_a5_k3_s1_e4_c192",
        "mqa_r1_k3_h8_s1_v2_d48_c192",
        "uir_r1_a5_k3_s1_e4_c192",
        "mqa_r1_k3_h8_s1_v2_d48_c192",
        "uir_r1_a5_k3_s1_e4_c192",
        "mqa_r1_k3_h8_s1_v2_d48_c192",
        "uir_r1_a3_k0_s1_e4_c192",
    ),
    (
        "uir_r4_a5_k5_s2_e4_c512",
        "uir_r1_a5_k0_s1_e4_c512",
        "uir_r1_a5_k3_s1_e4_c512",
        "uir_r2_a5_k0_s1_e4_c512",
        "uir_r1_a5_k3_s1_e4_c512",
        "uir_r1_a5_k5_s1_e4_c512",
        "mqa_r1_k3_h8_s1_d64_c512",
        "uir_r1_a5_k0_s1_e4_c512",
        "mqa_r1_k3_h8_s1_d64_c512",
        "uir_r1_a5_k0_s1_e4_c512",
        "mqa_r1_k3_h8_s1_d64_c512",
        "uir_r1_a5_k0_s1_e4_c512",
        "mqa_r1_k3_h8_s1_d64_c512",
        "uir_r1_a5_k0_s1_e4_c512",
    ),
    ("cn_r1_k1_s1_c960",),
)


def _mnv4(
    name: str, arch_def, stem_size: int, description: str, act: str = "relu", layer_scale: bool = False
) -> FamilyDef:
    return register_family(
        FamilyDef(
            name=name,
            arch_def=arch_def,
            stem_size=stem_size,
            num_features=1280,
            num_features_rule="fixed",
            act=act,
            head="pool_conv_norm",
            layer_scale=layer_scale,
            fix_stem_below_width=1.0,
            depth_knob=False,
            timm_generator=_TIMM,
            timm_variant=name,
            description=description,
        )
    )


MOBILENETV4_CONV_SMALL = _mnv4(
    "mobilenetv4_conv_small", _CONV_SMALL, 32, "MobileNetV4-Conv-Small (UIB blocks) with width multiplier"
)
MOBILENETV4_CONV_MEDIUM = _mnv4(
    "mobilenetv4_conv_medium", _CONV_MEDIUM, 32, "MobileNetV4-Conv-Medium (fused IB + UIB) with width multiplier"
)
MOBILENETV4_CONV_LARGE = _mnv4(
    "mobilenetv4_conv_large", _CONV_LARGE, 24, "MobileNetV4-Conv-Large (fused IB + UIB) with width multiplier"
)
MOBILENETV4_HYBRID_MEDIUM = _mnv4(
    "mobilenetv4_hybrid_medium",
    _HYBRID_MEDIUM,
    32,
    "MobileNetV4-Hybrid-Medium (UIB + Mobile MQA attention) with width multiplier",
    layer_scale=True,
)
MOBILENETV4_HYBRID_LARGE = _mnv4(
    "mobilenetv4_hybrid_large",
    _HYBRID_LARGE,
    24,
    "MobileNetV4-Hybrid-Large (UIB + Mobile MQA attention, GELU) with width multiplier",
    act="gelu",
    layer_scale=True,
)

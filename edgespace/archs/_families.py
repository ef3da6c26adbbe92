"""The shipped families, transcribed from timm's generators (timm 1.0,
``timm/models/efficientnet.py::_gen_efficientnet`` / ``_gen_mobilenet_v2`` and
``timm/models/mobilenetv3.py::_gen_mobilenet_v3``). tests/test_layers.py checks every
family against the module timm builds, so a drift in timm shows up as a failing test.
"""

from __future__ import annotations

from edgespace.archs._registry import FamilyDef, SEDef, register_family

# EfficientNet (Tan & Le, 2019, https://arxiv.org/abs/1905.11946), the B0 base network.
EFFICIENTNET = register_family(
    FamilyDef(
        name="efficientnet",
        arch_def=(
            ("ds_r1_k3_s1_e1_c16_se0.25",),
            ("ir_r2_k3_s2_e6_c24_se0.25",),
            ("ir_r2_k5_s2_e6_c40_se0.25",),
            ("ir_r3_k3_s2_e6_c80_se0.25",),
            ("ir_r3_k5_s1_e6_c112_se0.25",),
            ("ir_r4_k5_s2_e6_c192_se0.25",),
            ("ir_r1_k3_s1_e6_c320_se0.25",),
        ),
        stem_size=32,
        num_features=1280,
        num_features_rule="round",
        act="silu",
        head="conv_pool",
        se=SEDef(gate="sigmoid", act=None, rd_round="round", from_exp=False),
        timm_generator="timm.models.efficientnet:_gen_efficientnet",
        timm_variant="efficientnet_b0",
        description="EfficientNet-B0 base with compound width/depth/resolution scaling",
    )
)

# MobileNetV2 (Sandler et al., 2018, https://arxiv.org/abs/1801.04381).
MOBILENETV2 = register_family(
    FamilyDef(
        name="mobilenetv2",
        arch_def=(
            ("ds_r1_k3_s1_c16",),
            ("ir_r2_k3_s2_e6_c24",),
            ("ir_r3_k3_s2_e6_c32",),
            ("ir_r4_k3_s2_e6_c64",),
            ("ir_r3_k3_s1_e6_c96",),
            ("ir_r3_k3_s2_e6_c160",),
            ("ir_r1_k3_s1_e6_c320",),
        ),
        stem_size=32,
        num_features=1280,
        num_features_rule="max_round",
        act="relu6",
        head="conv_pool",
        timm_generator="timm.models.efficientnet:_gen_mobilenet_v2",
        timm_variant="mobilenetv2_100",
        description="MobileNetV2 with width multiplier (head kept at >= 1280 channels)",
    )
)

_MNV3_SE = SEDef(gate="hard_sigmoid", act="relu", rd_round="make_divisible", from_exp=True)

# MobileNetV3 (Howard et al., 2019, https://arxiv.org/abs/1905.02244).
MOBILENETV3_LARGE = register_family(
    FamilyDef(
        name="mobilenetv3_large",
        arch_def=(
            ("ds_r1_k3_s1_e1_c16_nre",),
            ("ir_r1_k3_s2_e4_c24_nre", "ir_r1_k3_s1_e3_c24_nre"),
            ("ir_r3_k5_s2_e3_c40_se0.25_nre",),
            ("ir_r1_k3_s2_e6_c80", "ir_r1_k3_s1_e2.5_c80", "ir_r2_k3_s1_e2.3_c80"),
            ("ir_r2_k3_s1_e6_c112_se0.25",),
            ("ir_r3_k5_s2_e6_c160_se0.25",),
            ("cn_r1_k1_s1_c960",),
        ),
        stem_size=16,
        num_features=1280,
        num_features_rule="fixed",
        act="hard_swish",
        head="pool_conv",
        se=_MNV3_SE,
        fix_stem_below_width=0.75,
        timm_generator="timm.models.mobilenetv3:_gen_mobilenet_v3",
        timm_variant="mobilenetv3_large_100",
        description="MobileNetV3-Large with width multiplier",
    )
)

MOBILENETV3_SMALL = register_family(
    FamilyDef(
        name="mobilenetv3_small",
        arch_def=(
            ("ds_r1_k3_s2_e1_c16_se0.25_nre",),
            ("ir_r1_k3_s2_e4.5_c24_nre", "ir_r1_k3_s1_e3.67_c24_nre"),
            ("ir_r1_k5_s2_e4_c40_se0.25", "ir_r2_k5_s1_e6_c40_se0.25"),
            ("ir_r2_k5_s1_e3_c48_se0.25",),
            ("ir_r3_k5_s2_e6_c96_se0.25",),
            ("cn_r1_k1_s1_c576",),
        ),
        stem_size=16,
        num_features=1024,
        num_features_rule="fixed",
        act="hard_swish",
        head="pool_conv",
        se=_MNV3_SE,
        fix_stem_below_width=0.75,
        timm_generator="timm.models.mobilenetv3:_gen_mobilenet_v3",
        timm_variant="mobilenetv3_small_100",
        description="MobileNetV3-Small with width multiplier",
    )
)

# EfficientNetV2 (Tan & Le, 2021, https://arxiv.org/abs/2104.00298), the B0 base network
# (timm/models/efficientnet.py::_gen_efficientnetv2_base): fused-MBConv ('er': dense 3×3
# expansion) in the early stages, MBConv with squeeze-excite later; channels rounded with
# round_limit 0. timm's tf_efficientnetv2_b* add TF "same" padding and BN eps 1e-3 to this
# generator: the same parameters and the same feature-map sizes (for these odd kernels).
EFFICIENTNETV2 = register_family(
    FamilyDef(
        name="efficientnetv2",
        arch_def=(
            ("cn_r1_k3_s1_e1_c16_skip",),
            ("er_r2_k3_s2_e4_c32",),
            ("er_r2_k3_s2_e4_c48",),
            ("ir_r3_k3_s2_e4_c96_se0.25",),
            ("ir_r5_k3_s1_e6_c112_se0.25",),
            ("ir_r8_k3_s2_e6_c192_se0.25",),
        ),
        stem_size=32,
        num_features=1280,
        num_features_rule="round",
        act="silu",
        head="conv_pool",
        se=SEDef(gate="sigmoid", act=None, rd_round="round", from_exp=False),
        round_limit=0.0,
        timm_generator="timm.models.efficientnet:_gen_efficientnetv2_base",
        timm_variant="tf_efficientnetv2_b0",
        description="EfficientNetV2-B0 base (fused-MBConv) with compound width/depth/resolution scaling",
    )
)

"""The int8 accuracy penalty, per family, from published quantization results.

fp16 inference costs no ImageNet accuracy in practice (the published fp16 GPU runs of
EfficientNet-Lite are the fp32 checkpoints), so only int8 carries a drop. Drops are in top-1
points at width 1.0; narrower networks lose more (see :data:`WIDTH_EXPONENT`).

Sources (every figure below is one of these, or is derived from them as the comment says):

* EfficientNet-Lite README (tensorflow/tpu models/official/efficientnet/lite/README.md): full
  int8 post-training quantization (PTQ) of ReLU6 inverted-residual networks without
  squeeze-excite: lite0–lite4 lose 0.7, 0.8, 0.6, 0.8, 1.3 points (mean 0.84). Rows in the
  shipped table.
* TensorFlow blog, "Higher accuracy on vision models with EfficientNet-Lite" (2020): the same
  TFLite PTQ on the swish variant of lite0 fell from about 75% to 46%, which is why Lite replaced
  swish with ReLU6 and dropped squeeze-excite: unbounded activations and SE gates quantize badly.
* tensorflow/models research/slim/nets/mobilenet/README.md: MobileNetV3 8-bit checkpoints,
  Large 75.2 → 73.9 (−1.3), Small 67.5 → 64.9 (−2.6), Large-minimalistic (ReLU, no SE)
  72.3 → 71.3 (−1.0). The README does not say how they were quantized. Rows in the table.
* tensorflow/models research/slim/nets/mobilenet_v1.md: 16 quantization-aware-trained (QAT)
  MobileNetV1 checkpoints next to their float twins; the drop grows as the width shrinks
  (about 1.0 at width 1.0, 1.8 at 0.25). Rows in the table; :data:`WIDTH_EXPONENT` is fitted to them.
* Krishnamoorthi, "Quantizing deep convolutional networks for efficient inference: A whitepaper"
  (arXiv:1806.08342), abstract: per-channel post-training int8 stays within 2% of float for a
  wide range of CNNs; quantization-aware training brings the gap to 1%. TFLite hosted models:
  MobileNetV2 1.0/224 QAT 70.8 vs float 71.8 (−1.0).
* Older TFLite weight-only ("hybrid") PTQ lost far more on depthwise networks (TFLite model
  optimization page, TF 1.x: MobileNetV2 71.9 → 63.7); edgespace models today's full-integer
  per-channel PTQ with a calibration set, not that path.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Int8Drop", "INT8_DROP", "QUANTIZATION_MODES", "WIDTH_EXPONENT_DEFAULT"]

QUANTIZATION_MODES = ("ptq", "qat")


@dataclass(frozen=True)
class Int8Drop:
    """Top-1 points lost at int8, width 1.0, and the 1-sigma uncertainty of that figure."""

    ptq: float
    ptq_std: float
    qat: float
    qat_std: float
    basis: str


#: QAT can start from the PTQ model, so its drop is taken as min(PTQ drop, 1.0): the whitepaper's
#: 1% QAT bound and the published MobileNetV1/V2 QAT checkpoints (−0.9 to −1.2 at width 1.0).
INT8_DROP: dict[str, Int8Drop] = {
    # ReLU6, no squeeze-excite: the same block and activation as EfficientNet-Lite, whose
    # published PTQ drops average 0.84 (0.6–1.3).
    "mobilenetv2": Int8Drop(
        0.8, 0.4, 0.8, 0.4, "EfficientNet-Lite int8 PTQ (ReLU6 inverted residuals, no SE), mean 0.84"
    ),
    # hard-swish + SE: the published 8-bit checkpoints.
    "mobilenetv3_large": Int8Drop(1.3, 0.6, 1.0, 0.5, "MobileNetV3-Large 8-bit checkpoint, 75.2 -> 73.9"),
    "mobilenetv3_small": Int8Drop(2.6, 1.0, 1.0, 0.5, "MobileNetV3-Small 8-bit checkpoint, 67.5 -> 64.9"),
    # SiLU (unbounded, like hard-swish) + SE in every block: no clean per-channel PTQ figure
    # for EfficientNet-B0 is published by its authors; it is put between MobileNetV3-Large and
    # -Small (same activation class and SE), with a wide uncertainty because naive TFLite PTQ
    # of a swish EfficientNet collapsed (75 -> 46, EfficientNet-Lite blog).
    "efficientnet": Int8Drop(
        2.0, 1.5, 1.0, 0.5, "between MobileNetV3-Large/-Small (SiLU/hard-swish + SE); see module doc"
    ),
    # The same activation (SiLU) and squeeze-excite in its MBConv stages, and the same B0-base
    # scaling: no int8 figure for EfficientNetV2-B0..B3 is published by its authors, so this is
    # EfficientNet's estimate, labelled as such.
    "efficientnetv2": Int8Drop(
        2.0, 1.5, 1.0, 0.5, "estimate: EfficientNet's (same SiLU + SE blocks); no published int8 figure"
    ),
    # MobileNetV4 Conv: ReLU and no squeeze-excite, the block class EfficientNet-Lite's published
    # PTQ drops describe (0.6-1.3, mean 0.84). timm's MobileNetV4 weights come with no int8
    # result, so this is an estimate from those, labelled as such.
    **{
        name: Int8Drop(
            0.8, 0.4, 0.8, 0.4, "estimate: EfficientNet-Lite int8 PTQ (ReLU, no SE), mean 0.84; no published figure"
        )
        for name in ("mobilenetv4_conv_small", "mobilenetv4_conv_medium", "mobilenetv4_conv_large")
    },
    # MobileNetV4 Hybrid: the Conv blocks above plus Mobile MQA attention, whose softmax output
    # and score matmul are the operands 8-bit PTQ handles worst in vision transformers (PTQ4ViT,
    # Yuan et al., ECCV 2022: twin-uniform quantisation needed for post-softmax and post-GELU
    # values); Hybrid-Large adds GELU. No int8 figure is published: a wider estimate.
    **{
        name: Int8Drop(
            1.5,
            1.0,
            1.0,
            0.5,
            "estimate: MobileNetV4 Conv's 0.8 plus attention softmax/matmul in 8 bits (PTQ4ViT); no published figure",
        )
        for name in ("mobilenetv4_hybrid_medium", "mobilenetv4_hybrid_large")
    },
    # EfficientViT B0-B3: hard-swish everywhere (MobileNetV3-Large's published 1.3) plus the
    # linear attention's kᵀv sums over every token and the division that normalises them, both in
    # 8 bits (the ranges PTQ handles worst in vision transformers, PTQ4ViT). No int8 figure is
    # published by its authors: a wide estimate.
    **{
        name: Int8Drop(
            2.0,
            1.5,
            1.0,
            0.5,
            "estimate: MobileNetV3-Large's 1.3 (hard-swish) plus linear attention sums and division in 8 bits; "
            "no published figure",
        )
        for name in ("efficientvit_b0", "efficientvit_b1", "efficientvit_b2", "efficientvit_b3")
    },
}

#: drop(width) = drop(1.0) * width ** -WIDTH_EXPONENT, fitted by :func:`fit_width_exponent` to
#: the MobileNetV1 QAT/float pairs; this default is that fit, used if the table lacks them.
WIDTH_EXPONENT_DEFAULT = 0.4

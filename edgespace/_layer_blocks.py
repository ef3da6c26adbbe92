"""Layer-table walkers for the block types added after the first four families.

Each walker takes the layer-table walk (``edgespace._layer_table._Walk``: ``conv``, ``bn``,
``squeeze_excite`` and the current channel count ``c``), the decoded block, its name, its
rounded output width and its activation, and emits the block's rows in the order timm's module
runs them, exactly as the walkers in ``_layer_table`` do.
"""

from __future__ import annotations

from edgespace.archs._arch_def import BlockSpec, make_divisible

__all__ = ["walk_er"]


def walk_er(walk, blk: BlockSpec, name: str, out_chs: int, act: str) -> None:
    """timm ``EdgeResidual`` (fused-MBConv, EfficientNetV2): dense k×k expand (stride here) →
    BN+act → [SE] → pw project → BN. The expansion conv is a full (groups = 1) convolution, the
    operator a phone NPU or GPU runs at higher utilisation than a depthwise one."""
    mid_chs = make_divisible(walk.c * blk.exp_ratio)
    walk.conv(f"{name}.conv_exp", mid_chs, blk.kernel_size, blk.stride)
    walk.bn(f"{name}.bn1", act)
    if blk.se_ratio:
        walk.squeeze_excite(f"{name}.se", blk.exp_ratio, blk.se_ratio, act)
    walk.conv(f"{name}.conv_pwl", out_chs, 1)
    walk.bn(f"{name}.bn2", None)

"""Architecture definitions as data: timm's arch-def string language, decoded without torch.

timm writes each network as a list of stages, each a list of block strings such as
``'ir_r2_k3_s2_e6_c24_se0.25'`` (``timm/models/_efficientnet_builder.py::_decode_block_str``).
This module decodes the subset the edgespace families use into frozen :class:`BlockSpec`
objects, and reproduces timm's channel rounding and per-stage depth scaling bit for bit, so
that the analytic layer table agrees exactly with the module timm builds. Unlike timm, an
unknown token is an error that quotes it, never silently skipped.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from edgespace._errors import SpecError

__all__ = [
    "BlockSpec",
    "decode_block_str",
    "decode_arch_def",
    "make_divisible",
    "round_channels",
    "scale_stage_depth",
]

#: Block types understood here: depthwise-separable, the same with an activation after the
#: pointwise conv, inverted residual (MBConv), edge residual (fused-MBConv: a dense k×k
#: expansion conv in place of 1×1 expand + depthwise, EfficientNetV2), plain conv + BN + act,
#: and the universal inverted residual (MobileNetV4's UIB: optional depthwise convs before the
#: expansion (``a``), between expansion and projection (``k``, 0 for none) and after the
#: projection (``p``)), and MobileNetV4's Mobile MQA attention block (``mqa``: ``h`` heads sharing
#: one key and one value of dimension ``d``, keys/values downsampled by a stride-``v`` depthwise
#: conv of kernel ``k``).
BLOCK_TYPES = ("ds", "dsa", "ir", "er", "cn", "uir", "mqa")

#: The ``n<act>`` token's activation names, as in timm's decoder.
ACT_TOKENS = {"re": "relu", "r6": "relu6", "hs": "hard_swish", "sw": "silu"}

_NUMERIC_KEYS = {
    "r": int,
    "k": int,
    "s": int,
    "e": float,
    "c": int,
    "se": float,
    "a": int,
    "p": int,
    "h": int,
    "v": int,
    "d": int,
}

#: Block types with an expansion ratio (the ``e`` token is required and used).
_EXPANDING = ("ir", "er", "uir")


@dataclass(frozen=True)
class BlockSpec:
    """One decoded block, before channel rounding.

    ``out_chs`` is the unscaled channel count from the arch-def; the width multiplier and
    timm's rounding are applied by the layer-table walk and by timm's builder alike.
    """

    block_type: str
    out_chs: int
    stride: int
    kernel_size: int
    exp_ratio: float = 1.0
    se_ratio: float = 0.0
    act: str | None = None
    noskip: bool = False
    force_skip: bool = False
    #: ``uir`` only: kernel of the depthwise conv before the expansion (``a``) and after the
    #: projection (``p``); 0 = none (``kernel_size`` 0 = no middle depthwise conv).
    start_kernel_size: int = 0
    end_kernel_size: int = 0
    #: ``mqa`` only: query heads, key/value stride (1 = no downsampling) and key (= value) dim.
    num_heads: int = 0
    kv_stride: int = 1
    key_dim: int = 0


def make_divisible(v: float, divisor: int = 8, min_value: int | None = None, round_limit: float = 0.9) -> int:
    """timm's ``make_divisible`` (``timm/layers/helpers.py``): nearest multiple of ``divisor``,
    at least ``min_value``, and never more than 10 % below ``v``."""
    min_value = min_value or divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < round_limit * v:
        new_v += divisor
    return new_v


def round_channels(channels: float, multiplier: float = 1.0, divisor: int = 8, round_limit: float = 0.9) -> int:
    """timm's ``round_channels``: scale by the width multiplier, then ``make_divisible``."""
    if not multiplier:
        return int(channels)
    return make_divisible(channels * multiplier, divisor, None, round_limit=round_limit)


def decode_block_str(block_str: str) -> tuple[BlockSpec, int]:
    """Decode one block string into ``(BlockSpec, repeats)``.

    Raises :class:`SpecError` naming the string and the offending token for an unknown block
    type, an unknown or malformed token, or a missing required token (``r``, ``k``, ``s``,
    ``c``, and ``e`` for ``ir``).
    """
    if not isinstance(block_str, str) or not block_str:
        raise SpecError(f"arch-def block string must be a non-empty str, got {block_str!r}")
    block_type, *tokens = block_str.split("_")
    if block_type not in BLOCK_TYPES:
        raise SpecError(f"arch-def {block_str!r}: unknown block type {block_type!r}; allowed: {', '.join(BLOCK_TYPES)}")
    values: dict[str, float | int] = {}
    act = None
    skip: bool | None = None
    for token in tokens:
        if token == "noskip":
            skip = False
            continue
        if token == "skip":
            skip = True
            continue
        if token.startswith("n") and token[1:] in ACT_TOKENS:
            act = ACT_TOKENS[token[1:]]
            continue
        match = re.fullmatch(r"([a-z]+)(\d.*)", token)
        if match is None or match.group(1) not in _NUMERIC_KEYS:
            raise SpecError(
                f"arch-def {block_str!r}: unknown token {token!r}; allowed: "
                f"r<int>, k<int>, s<int>, e<float>, c<int>, se<float>, a<int>, p<int>, h<int>, v<int>, d<int>, "
                f"n{{{','.join(ACT_TOKENS)}}}, skip, noskip"
            )
        key, number = match.groups()
        try:
            values[key] = _NUMERIC_KEYS[key](number)
        except ValueError:
            raise SpecError(f"arch-def {block_str!r}: token {token!r} is not {key}<number>") from None
    required = (
        ("r", "k", "s", "c")
        + (("e",) if block_type in _EXPANDING else ())
        + (("h", "d") if block_type == "mqa" else ())
    )
    missing = [k for k in required if k not in values]
    if missing:
        raise SpecError(f"arch-def {block_str!r}: missing token(s) {', '.join(missing)} for block type {block_type!r}")
    if values["s"] not in (1, 2):
        raise SpecError(f"arch-def {block_str!r}: stride s{values['s']} not allowed; allowed: s1, s2")
    if block_type == "cn" and values.get("se", 0.0):
        raise SpecError(f"arch-def {block_str!r}: 'cn' blocks take no squeeze-excite ('se') token")
    if block_type != "uir" and ("a" in values or "p" in values):
        raise SpecError(f"arch-def {block_str!r}: only 'uir' blocks take 'a'/'p' (extra depthwise) tokens")
    if block_type == "uir" and values["s"] > 1 and not (values["k"] or values.get("a") or values.get("p")):
        raise SpecError(f"arch-def {block_str!r}: a strided 'uir' block needs a depthwise conv (a, k or p > 0)")
    if block_type != "mqa" and any(k in values for k in ("h", "v", "d")):
        raise SpecError(f"arch-def {block_str!r}: only 'mqa' blocks take 'h'/'v'/'d' (attention) tokens")
    if block_type == "mqa" and (values["h"] < 1 or values["d"] < 1 or values.get("v", 1) not in (1, 2)):
        raise SpecError(f"arch-def {block_str!r}: 'mqa' needs h >= 1, d >= 1 and v1 or v2")
    if block_type == "mqa" and (values["s"] != 1 or values.get("se", 0.0)):
        raise SpecError(f"arch-def {block_str!r}: 'mqa' blocks take stride s1 and no squeeze-excite")
    if block_type != "uir" and values["k"] < 1:
        raise SpecError(f"arch-def {block_str!r}: kernel k{values['k']} not allowed; allowed: k >= 1")
    spec = BlockSpec(
        block_type=block_type,
        out_chs=int(values["c"]),
        stride=int(values["s"]),
        kernel_size=int(values["k"]),
        exp_ratio=float(values["e"]) if block_type in _EXPANDING else 1.0,
        se_ratio=float(values.get("se", 0.0)),
        act=act,
        # timm: 'dsa' never has a skip; 'cn' has one only when forced with 'skip'.
        noskip=(block_type == "dsa") or skip is False,
        force_skip=block_type == "cn" and skip is True,
        start_kernel_size=int(values.get("a", 0)),
        end_kernel_size=int(values.get("p", 0)),
        num_heads=int(values.get("h", 0)),
        kv_stride=int(values.get("v", 1)),
        key_dim=int(values.get("d", 0)),
    )
    return spec, int(values["r"])


def scale_stage_depth(blocks: Sequence[BlockSpec], repeats: Sequence[int], depth_multiplier: float) -> list[BlockSpec]:
    """timm's ``_scale_stage_depth`` with ``depth_trunc='ceil'``: the stage's total repeats are
    ``ceil(sum × depth_multiplier)``, spread over its block strings from the last one back
    (Python's ``round``, ties to even, as timm)."""
    num_repeat = sum(repeats)
    num_repeat_scaled = int(math.ceil(num_repeat * depth_multiplier))
    repeats_scaled = []
    for r in repeats[::-1]:
        rs = max(1, round(r / num_repeat * num_repeat_scaled))
        repeats_scaled.append(rs)
        num_repeat -= r
        num_repeat_scaled -= rs
    out: list[BlockSpec] = []
    for block, rep in zip(blocks, repeats_scaled[::-1], strict=True):
        out.extend([block] * rep)
    return out


def decode_arch_def(arch_def: Sequence[Sequence[str]], depth_multiplier: float = 1.0) -> list[list[BlockSpec]]:
    """Decode a whole arch-def (list of stages of block strings) with depth scaling applied.

    Within a stage only the first block keeps its stride, as timm's builder does.
    """
    stages: list[list[BlockSpec]] = []
    for stage in arch_def:
        decoded = [decode_block_str(s) for s in stage]
        blocks = scale_stage_depth([b for b, _ in decoded], [r for _, r in decoded], depth_multiplier)
        stages.append([b if i == 0 or b.stride == 1 else replace(b, stride=1) for i, b in enumerate(blocks)])
    return stages

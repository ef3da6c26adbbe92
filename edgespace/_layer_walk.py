"""The walk over a network's blocks that emits its layer-table rows: the walker state, one walker
per block type (``_BLOCK_WALKERS``) and per head style (``_HEAD_WALKERS``), as fvcore
dispatches on operator name. :mod:`edgespace._layer_table` drives it and assembles the table."""

from __future__ import annotations

from dataclasses import dataclass, field

from edgespace.archs import BlockSpec, FamilyDef, make_divisible

#: The layer table drives the walk; nothing else uses it.
__all__ = ["_BLOCK_WALKERS", "_HEAD_WALKERS", "_Walk", "_has_skip"]


@dataclass
class _Walk:
    """State carried through the walk, as timm's builder carries ``in_chs`` and stride."""

    family: FamilyDef
    num_classes: int
    c: int = 3
    level: int = 1
    last: int = -1  # row index of the tensor that is "current"; -1 = network input
    stage: int = -1
    block: str = "stem"
    rows: list = field(default_factory=list)  # rows walked in full
    level_defs: list = field(default_factory=list)
    # Final row order: for each final row, its position in ``rows`` (a repeated block's rows
    # point at its template's), and the repeated blocks as (start, first, end, old, new name).
    pos_of: list = field(default_factory=list)
    segments: list = field(default_factory=list)

    def _emit(
        self,
        name,
        is_module,
        op,
        act,
        out_c,
        out_level,
        kernel,
        stride,
        groups,
        params,
        macs_per_px,
        elem_ops_per_px,
        reads,
        extra_in_c=0,
        extra_in_level=0,
        tok_level=0,
        red_level=0,
    ) -> int:
        self.rows.append(
            (
                name,
                is_module,
                self.block,
                self.stage,
                op,
                act,
                self.c,
                out_c,
                kernel,
                stride,
                groups,
                params,
                macs_per_px,
                elem_ops_per_px,
                self.level,
                out_level,
                extra_in_c,
                extra_in_level,
                reads,
                tok_level,
                red_level,
            )
        )
        self.c, self.level = out_c, out_level
        self.pos_of.append(len(self.rows) - 1)
        self.last = len(self.pos_of) - 1
        return self.last

    def conv(self, name: str, out_c: int, kernel: int, stride: int = 1, groups: int = 1, bias: bool = False) -> int:
        in_c = self.c
        if groups > 1 and groups == in_c == out_c:
            op = "depthwise"
        elif kernel == 1 and groups == 1:
            op = "pointwise"
        else:
            op = "conv"
        level = self.level
        if stride != 1 or kernel % 2 == 0:  # the map changes size: a new level
            self.level_defs.append((level, kernel, stride))
            level = len(self.level_defs) + 1
        weights = out_c * (in_c // groups) * kernel * kernel
        return self._emit(
            name,
            True,
            op,
            "",
            out_c,
            level,
            kernel,
            stride,
            groups,
            weights + (out_c if bias else 0),
            weights,
            0,
            (self.last,),
        )

    def bn(self, name: str, act: str | None) -> int:
        idx = self._emit(name, True, "bn", "", self.c, self.level, 1, 1, 1, 2 * self.c, 0, 2 * self.c, (self.last,))
        if act:
            self.act(f"{name}.act", act)
        return idx

    def act(self, name: str, act: str) -> int:
        return self._emit(name, True, "act", act, self.c, self.level, 1, 1, 1, 0, 0, self.c, (self.last,))

    def pool(self, name: str, is_module: bool = True) -> int:
        # Global average pool: kernel = the whole map (recorded as 0 = "global"); the per-pixel
        # count is per *input* pixel, fixed up in _frame_from_skeleton.
        return self._emit(name, is_module, "pool", "", self.c, 0, 0, 1, 1, 0, 0, self.c, (self.last,))

    def binary(self, name: str, op: str, other: int, is_module: bool) -> int:
        """``mul`` (SE scale: current × gate row ``other``) or ``add`` (residual: current + row
        ``other``); the output has the current tensor's shape."""
        o_c, o_level = (self.rows[self.pos_of[other]][7], self.rows[self.pos_of[other]][15]) if other >= 0 else (3, 1)
        return self._emit(
            name,
            is_module,
            op,
            "",
            self.c,
            self.level,
            1,
            1,
            1,
            0,
            0,
            self.c,
            (self.last, other),
            extra_in_c=o_c,
            extra_in_level=o_level,
        )

    def linear(self, name: str, out_features: int) -> int:
        in_f = self.c  # the input is pooled to 1×1 in every shipped head
        return self._emit(
            name,
            True,
            "linear",
            "",
            out_features,
            0,
            1,
            1,
            1,
            in_f * out_features + out_features,
            in_f * out_features,
            0,
            (self.last,),
        )

    def scale(self, name: str) -> int:
        """timm ``LayerScale2d``: the current tensor times a learned per-channel vector (C
        parameters, one multiply per element); a deployed graph folds it into the conv before."""
        c = self.c
        return self._emit(name, True, "mul", "", c, self.level, 1, 1, 1, c, 0, c, (self.last,))

    def transpose(self, name: str, tok_level: int = 0) -> int:
        """A layout change of the current tensor (attention's head split and merge): every
        element moved, no arithmetic, no parameters. ``tok_level``: see :meth:`matmul`."""
        return self._emit(
            name, False, "transpose", "", self.c, self.level, 1, 1, 1, 0, 0, 0, (self.last,), tok_level=tok_level
        )

    def matmul(self, name: str, other: int, out_c: int, macs_per_px: int, tok_level: int, red_level: int) -> int:
        """Attention's batched product of the current tensor and row ``other``'s output. The
        output holds ``out_c`` values per pixel of the current level times the pixels of
        ``tok_level`` (0: none), and each output value costs ``macs_per_px / out_c`` MACs times
        the pixels of ``red_level`` (the summed token axis; 0: none): scores = Q·Kᵀ have
        ``tok_level`` = the key/value level, context = softmax·V has ``red_level`` = it."""
        o_c, o_level = self.rows[self.pos_of[other]][7], self.rows[self.pos_of[other]][15]
        return self._emit(
            name,
            False,
            "matmul",
            "",
            out_c,
            self.level,
            1,
            1,
            1,
            0,
            macs_per_px,
            0,
            (self.last, other),
            extra_in_c=o_c,
            extra_in_level=o_level,
            tok_level=tok_level,
            red_level=red_level,
        )

    def softmax(self, name: str, tok_level: int) -> int:
        """Softmax over the token axis of the current tensor (scores): max, subtract, exp, sum
        and divide, 5 element operations per value."""
        c = self.c
        return self._emit(
            name, False, "softmax", "", c, self.level, 1, 1, 1, 0, 0, 5 * c, (self.last,), tok_level=tok_level
        )

    def reshape(self, name: str) -> int:
        return self._emit(name, True, "reshape", "", self.c, self.level, 1, 1, 1, 0, 0, 0, (self.last,))

    def repeat(self, first: int, end: int, old_name: str, new_name: str) -> None:
        """Repeat final rows ``first:end`` (a whole block whose input was row ``first - 1``) as
        block ``new_name`` reading the current tensor. Deep networks repeat the same block many
        times per stage; the copy is recorded, not walked again, and expanded in
        :func:`layer_skeleton` with vector operations."""
        start = len(self.pos_of)
        self.segments.append((start, first, end, old_name, new_name))
        self.pos_of.extend(self.pos_of[first:end])
        self.last = len(self.pos_of) - 1

    def squeeze_excite(self, prefix: str, exp_ratio: float, se_ratio: float, block_act: str) -> None:
        se = self.family.se
        x = self.last
        chs = self.c
        # timm (EfficientNetBuilder._make_block): without se_from_exp the ratio is divided by
        # the expansion ratio, so the reduction is taken of the block input's width.
        rd_ratio = se_ratio if se.from_exp else se_ratio / exp_ratio
        rd = make_divisible(chs * rd_ratio) if se.rd_round == "make_divisible" else round(chs * rd_ratio)
        x_level = self.level
        self.pool(f"{prefix}.mean", is_module=False)
        self.conv(f"{prefix}.conv_reduce", rd, 1, bias=True)
        self.act(f"{prefix}.act1", se.act or block_act)
        self.conv(f"{prefix}.conv_expand", chs, 1, bias=True)
        gate = self.act(f"{prefix}.gate", se.gate)
        # The product has x's shape: x is the current tensor again, the gate the other operand.
        self.c, self.level, self.last = chs, x_level, x
        self.binary(prefix, "mul", gate, is_module=True)


def _walk_ds(walk: _Walk, blk: BlockSpec, name: str, out_chs: int, act: str) -> None:
    """timm ``DepthwiseSeparableConv``: dw → BN+act → [SE] → pw → BN (+act for 'dsa')."""
    in_chs = walk.c
    walk.conv(f"{name}.conv_dw", in_chs, blk.kernel_size, blk.stride, groups=in_chs)
    walk.bn(f"{name}.bn1", act)
    if blk.se_ratio:
        walk.squeeze_excite(f"{name}.se", 1.0, blk.se_ratio, act)
    walk.conv(f"{name}.conv_pw", out_chs, 1)
    walk.bn(f"{name}.bn2", act if blk.block_type == "dsa" else None)


def _walk_ir(walk: _Walk, blk: BlockSpec, name: str, out_chs: int, act: str) -> None:
    """timm ``InvertedResidual``: pw expand → BN+act → dw → BN+act → [SE] → pw project → BN."""
    in_chs = walk.c
    mid_chs = make_divisible(in_chs * blk.exp_ratio)
    walk.conv(f"{name}.conv_pw", mid_chs, 1)
    walk.bn(f"{name}.bn1", act)
    walk.conv(f"{name}.conv_dw", mid_chs, blk.kernel_size, blk.stride, groups=mid_chs)
    walk.bn(f"{name}.bn2", act)
    _se_and_project(walk, blk, name, out_chs, act, "bn3")


def _walk_cn(walk: _Walk, blk: BlockSpec, name: str, out_chs: int, act: str) -> None:
    """timm ``ConvBnAct``: conv → BN+act."""
    walk.conv(f"{name}.conv", out_chs, blk.kernel_size, blk.stride)
    walk.bn(f"{name}.bn1", act)


def _walk_er(walk: _Walk, blk: BlockSpec, name: str, out_chs: int, act: str) -> None:
    """timm ``EdgeResidual`` (fused-MBConv, EfficientNetV2): dense k×k expand (stride here) →
    BN+act → [SE] → pw project → BN. The expansion conv is a full (groups = 1) convolution, the
    operator a phone NPU or GPU runs at higher utilisation than a depthwise one."""
    mid_chs = make_divisible(walk.c * blk.exp_ratio)
    walk.conv(f"{name}.conv_exp", mid_chs, blk.kernel_size, blk.stride)
    walk.bn(f"{name}.bn1", act)
    _se_and_project(walk, blk, name, out_chs, act, "bn2")


def _se_and_project(walk: _Walk, blk: BlockSpec, name: str, out_chs: int, act: str, bn_name: str) -> None:
    """The tail timm's InvertedResidual and EdgeResidual share: [SE] → pw project (conv_pwl) → BN."""
    if blk.se_ratio:
        walk.squeeze_excite(f"{name}.se", blk.exp_ratio, blk.se_ratio, act)
    walk.conv(f"{name}.conv_pwl", out_chs, 1)
    walk.bn(f"{name}.{bn_name}", None)


def _walk_uir(walk: _Walk, blk: BlockSpec, name: str, out_chs: int, act: str) -> None:
    """timm ``UniversalInvertedResidual`` (MobileNetV4's UIB): [dw_start k=a → BN] → pw_exp →
    BN+act → [dw_mid k → BN+act] → [SE] → pw_proj → BN → [dw_end k=p → BN]. The stride sits on
    the first depthwise conv that exists among mid, start, end (timm's order of preference)."""
    in_chs = walk.c
    start, mid, end = blk.start_kernel_size, blk.kernel_size, blk.end_kernel_size
    if start:
        walk.conv(f"{name}.dw_start.conv", in_chs, start, 1 if mid else blk.stride, groups=in_chs)
        walk.bn(f"{name}.dw_start.bn", None)
    mid_chs = make_divisible(in_chs * blk.exp_ratio)
    walk.conv(f"{name}.pw_exp.conv", mid_chs, 1)
    walk.bn(f"{name}.pw_exp.bn", act)
    if mid:
        walk.conv(f"{name}.dw_mid.conv", mid_chs, mid, blk.stride, groups=mid_chs)
        walk.bn(f"{name}.dw_mid.bn", act)
    if blk.se_ratio:
        walk.squeeze_excite(f"{name}.se", blk.exp_ratio, blk.se_ratio, act)
    walk.conv(f"{name}.pw_proj.conv", out_chs, 1)
    walk.bn(f"{name}.pw_proj.bn", None)
    if end:
        walk.conv(f"{name}.dw_end.conv", out_chs, end, 1 if (start or mid) else blk.stride, groups=out_chs)
        walk.bn(f"{name}.dw_end.bn", None)
    if walk.family.layer_scale:
        walk.scale(f"{name}.layer_scale")


def _walk_mqa(walk: _Walk, blk: BlockSpec, name: str, out_chs: int, act: str) -> None:
    """timm ``MobileAttention`` with ``MultiQueryAttention2d`` (MobileNetV4's Mobile MQA): norm
    (BN) → query 1×1 conv to heads·d; key and value each [stride-v depthwise k×k → BN] → 1×1 conv
    to d (one key and one value shared by all heads); scores = Q·Kᵀ (heads × queries × keys),
    softmax over the keys, context = softmax·V; heads merged → 1×1 output conv → [layer scale].

    The transposes are the ones the exported graph keeps as kernels of their own: queries split
    into heads, keys and values laid out as tokens, heads merged back (the 1/√d scale and Kᵀ
    are folded into the score matmul, as fused attention kernels and ONNX Runtime's MatMul
    fusions do)."""
    chs, level = walk.c, walk.level
    heads, dim = blk.num_heads, blk.key_dim
    attn = f"{name}.attn"
    normed = walk.bn(f"{name}.norm", None)
    walk.conv(f"{attn}.query.proj", heads * dim, 1)
    q_level = walk.level
    q = walk.transpose(f"{attn}.query_heads")

    def key_or_value(branch: str) -> tuple[int, int]:
        walk.c, walk.level, walk.last = chs, level, normed
        if blk.kv_stride > 1:
            walk.conv(f"{attn}.{branch}.down_conv", chs, blk.kernel_size, blk.kv_stride, groups=chs)
            walk.bn(f"{attn}.{branch}.norm", None)
        walk.conv(f"{attn}.{branch}.proj", dim, 1)
        return walk.transpose(f"{attn}.{branch}_tokens"), walk.level

    k, kv_level = key_or_value("key")
    v, _ = key_or_value("value")
    walk.c, walk.level, walk.last = heads * dim, q_level, q
    walk.matmul(f"{attn}.scores", k, heads, heads * dim, tok_level=kv_level, red_level=0)
    walk.softmax(f"{attn}.softmax", tok_level=kv_level)
    walk.matmul(f"{attn}.context", v, heads * dim, heads * dim, tok_level=0, red_level=kv_level)
    walk.transpose(f"{attn}.merge_heads")
    walk.conv(f"{attn}.output.proj", out_chs, 1)
    if walk.family.layer_scale:
        walk.scale(f"{name}.layer_scale")


_BLOCK_WALKERS = {
    "ds": _walk_ds,
    "dsa": _walk_ds,
    "ir": _walk_ir,
    "er": _walk_er,
    "cn": _walk_cn,
    "uir": _walk_uir,
    "mqa": _walk_mqa,
}


def _has_skip(blk: BlockSpec, in_chs: int, out_chs: int) -> bool:
    same = blk.stride == 1 and in_chs == out_chs
    if blk.block_type == "cn":
        return blk.force_skip and same
    return same and not blk.noskip


def _head_conv_pool(walk: _Walk, num_features: int) -> None:
    """EfficientNet / MobileNetV2 head: conv_head → bn2(+act) → global_pool → classifier."""
    walk.conv("conv_head", num_features, 1)
    walk.bn("bn2", walk.family.act)
    walk.pool("global_pool")
    walk.linear("classifier", walk.num_classes)


def _head_pool_conv(walk: _Walk, num_features: int) -> None:
    """MobileNetV3 head: global_pool → conv_head (bias) → act2 → flatten → classifier."""
    walk.pool("global_pool")
    walk.conv("conv_head", num_features, 1, bias=True)
    walk.act("act2", walk.family.act)
    walk.reshape("flatten")
    walk.linear("classifier", walk.num_classes)


def _head_pool_conv_norm(walk: _Walk, num_features: int) -> None:
    """MobileNetV4 head (timm ``head_norm=True``): global_pool → conv_head (no bias) →
    norm_head (BN+act) → flatten → classifier."""
    walk.pool("global_pool")
    walk.conv("conv_head", num_features, 1)
    walk.bn("norm_head", walk.family.act)
    walk.reshape("flatten")
    walk.linear("classifier", walk.num_classes)


_HEAD_WALKERS = {"conv_pool": _head_conv_pool, "pool_conv": _head_pool_conv, "pool_conv_norm": _head_pool_conv_norm}

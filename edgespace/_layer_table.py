"""ArchSpec → layer table, analytically: timm's arch-def decoded and walked as timm's
``EfficientNetBuilder`` walks it, one row per operator, with no torch module built.

The walk dispatches on block type through a table of walkers (``_BLOCK_WALKERS``) and on head
style through ``_HEAD_WALKERS``, as fvcore dispatches on operator name. Counting rules:

* conv-like rows (``conv``, ``depthwise``, ``pointwise``, ``linear``): ``macs`` = out elements ×
  (in_c / groups) × k², which is what fvcore counts for ``aten::_convolution`` / ``aten::linear``;
  ``params`` = weights (+ bias where the module has one).
* ``bn``: 2·C parameters (scale, shift; running statistics are buffers), 2 element ops per
  output element before it is folded into the preceding conv at deployment.
* ``act``, ``mul``, ``add``: 1 element op per output element; ``pool`` (global average): 1 per
  input element; ``reshape``: none.
* bytes at the spec's precision: ``weight_bytes`` = params × element size, ``input_bytes`` =
  every tensor read (both operands for ``mul``/``add``), ``output_bytes`` = the tensor written.
* ``reads``: indices of the rows whose outputs this row reads; ``-1`` is the network input.
  A residual ``add`` reads the block input, so liveness keeps it alive across the block.
* batch (``spec.batch`` = B images per call): ``macs``, ``elem_ops``, ``input_bytes`` and
  ``output_bytes`` are B times the batch-1 values (every image is computed and every activation
  exists B times); ``params`` and ``weight_bytes`` are not (one call reads the weights once).
  Spatial columns stay per image.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from edgespace._errors import SpecError, SpecTypeError
from edgespace._ops import ACTIVATIONS, CONV_OPS, OP_CLASSES
from edgespace._spec import ArchSpec
from edgespace.archs import BlockSpec, FamilyDef, decode_arch_def, get_family, make_divisible, round_channels

__all__ = ["layer_table", "layer_skeleton", "LayerSkeleton", "LAYER_COLUMNS", "CONV_OPS", "table_totals"]


LAYER_COLUMNS = (
    "name",
    "is_module",
    "block",
    "stage",
    "op",
    "act",
    "in_c",
    "in_h",
    "in_w",
    "out_c",
    "out_h",
    "out_w",
    "kernel",
    "stride",
    "groups",
    "macs",
    "params",
    "elem_ops",
    "weight_bytes",
    "input_bytes",
    "output_bytes",
    "reads",
)


@dataclass(frozen=True, eq=False)  # identity hash: skeletons are memoised and used as cache keys
class LayerSkeleton:
    """The resolution-free part of a layer table: one entry per row, as numpy arrays.

    Spatial sizes are indices into a small list of *levels*: level 0 is 1×1 (after global
    pooling), level 1 the input resolution, and each strided conv opens a new level computed
    from its parent with timm's padding. Counts that scale with the feature map are stored
    per output pixel (``macs_per_px``, ``elem_ops_per_px``), so a whole table for any
    resolution, or for many resolutions at once, is a handful of vector operations.
    """

    name: np.ndarray
    is_module: np.ndarray
    block: np.ndarray
    stage: np.ndarray
    op: np.ndarray
    act: np.ndarray
    in_c: np.ndarray
    out_c: np.ndarray
    kernel: np.ndarray
    stride: np.ndarray
    groups: np.ndarray
    params: np.ndarray
    macs_per_px: np.ndarray
    elem_ops_per_px: np.ndarray
    in_level: np.ndarray
    out_level: np.ndarray
    extra_in_c: np.ndarray
    extra_in_level: np.ndarray
    reads: np.ndarray
    #: (parent level, kernel, stride) for levels 2, 3, ...
    level_defs: tuple[tuple[int, int, int], ...]

    def level_sizes(self, resolution: int | np.ndarray) -> np.ndarray:
        """Side length of every level, for one resolution (shape ``(L,)``) or an array of
        them (shape ``(N, L)``)."""
        res = np.asarray(resolution, dtype=np.int64)
        sizes = [np.ones_like(res), res]
        for parent, kernel, stride in self.level_defs:
            pad = ((stride - 1) + (kernel - 1)) // 2
            sizes.append((sizes[parent] + 2 * pad - kernel) // stride + 1)
        return np.stack(sizes, axis=-1)

    def __len__(self) -> int:
        return len(self.name)


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
    if blk.se_ratio:
        walk.squeeze_excite(f"{name}.se", blk.exp_ratio, blk.se_ratio, act)
    walk.conv(f"{name}.conv_pwl", out_chs, 1)
    walk.bn(f"{name}.bn3", None)


def _walk_cn(walk: _Walk, blk: BlockSpec, name: str, out_chs: int, act: str) -> None:
    """timm ``ConvBnAct``: conv → BN+act."""
    walk.conv(f"{name}.conv", out_chs, blk.kernel_size, blk.stride)
    walk.bn(f"{name}.bn1", act)


_BLOCK_WALKERS = {"ds": _walk_ds, "dsa": _walk_ds, "ir": _walk_ir, "cn": _walk_cn}


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


_HEAD_WALKERS = {"conv_pool": _head_conv_pool, "pool_conv": _head_pool_conv}


def _num_features(family: FamilyDef, width: float) -> int:
    scaled = round_channels(family.num_features, width, family.channel_divisor)
    return {"round": scaled, "max_round": max(family.num_features, scaled), "fixed": family.num_features}[
        family.num_features_rule
    ]


@functools.lru_cache(maxsize=4096)
def _decoded(family_name: str, depth: float) -> list[list[BlockSpec]]:
    """The decoded, depth-scaled arch-def: a pure function of (family, depth), memoised
    (the walk never mutates it: BlockSpecs are frozen)."""
    return decode_arch_def(get_family(family_name).arch_def, depth)


@functools.lru_cache(maxsize=2048)
def layer_skeleton(family: str, width: float, depth: float, num_classes: int = 1000) -> LayerSkeleton:
    """The resolution- and precision-free structure of a network (see :class:`LayerSkeleton`).

    Memoised: a search revisits the same (family, width, depth) at many resolutions and
    precisions. The arrays are read-only; :func:`layer_table` hands out copies."""
    fam = get_family(family)
    walk = _Walk(fam, num_classes)
    stem = (
        fam.stem_size if width < fam.fix_stem_below_width else round_channels(fam.stem_size, width, fam.channel_divisor)
    )
    walk.conv("conv_stem", stem, 3, 2)
    walk.bn("bn1", fam.act)
    for stage_idx, stage in enumerate(_decoded(fam.name, depth)):
        walk.stage = stage_idx
        template = None  # (key, first row, end row, name) of the last block walked in full
        for block_idx, blk in enumerate(stage):
            name = f"blocks.{stage_idx}.{block_idx}"
            walk.block = name
            key = (blk, walk.c, walk.level)
            if template is not None and template[0] == key:
                # A repeat of the block before (same spec, same input): same rows, renamed.
                walk.repeat(template[1], template[2], template[3], name)
                continue
            first = len(walk.pos_of)
            in_chs, block_in = walk.c, walk.last
            out_chs = round_channels(blk.out_chs, width, fam.channel_divisor)
            _BLOCK_WALKERS[blk.block_type](walk, blk, name, out_chs, blk.act or fam.act)
            if _has_skip(blk, in_chs, out_chs):
                walk.binary(f"{name}.skip_add", "add", block_in, is_module=False)
            template = (key, first, len(walk.pos_of), name)
    walk.stage, walk.block = -1, "head"
    _HEAD_WALKERS[fam.head](walk, _num_features(fam, width))

    cols = list(zip(*walk.rows, strict=True))
    walked = len(walk.rows)
    pos = np.array(walk.pos_of, dtype=np.int64)
    n = len(pos)

    def ints(i: int) -> np.ndarray:
        return np.fromiter(cols[i], dtype=np.int64, count=walked)[pos]

    names = np.array(cols[0], dtype=object)[pos]
    blocks = np.array(cols[2], dtype=object)[pos]
    # Operands: a repeated block's rows read its template's rows shifted by the distance.
    read_a = np.array([r[0] for r in cols[18]], dtype=np.int64)[pos]
    read_b = np.array([r[1] if len(r) > 1 else -2 for r in cols[18]], dtype=np.int64)[pos]
    offset = np.zeros(n, dtype=np.int64)
    for start, first, end, old, new in walk.segments:
        stop = start + end - first
        offset[start:stop] = start - first
        cut = len(old)
        names[start:stop] = [new + t[cut:] for t in names[start:stop]]
        blocks[start:stop] = new
    read_a = np.where(read_a >= 0, read_a + offset, read_a)
    read_b = np.where(read_b >= 0, read_b + offset, read_b)
    reads = np.empty(n, dtype=object)
    reads[:] = [(a,) if b == -2 else (a, b) for a, b in zip(read_a.tolist(), read_b.tolist(), strict=True)]

    # Every row speaks the one operator vocabulary (edgespace._ops) that profiles and cost
    # models use; a family with an activation no profile can describe is refused here.
    unknown_ops = sorted(set(cols[4]) - set(OP_CLASSES))
    unknown_acts = sorted(set(cols[5]) - set(ACTIVATIONS) - {""})
    if unknown_ops or unknown_acts:
        bad = ", ".join(map(repr, unknown_ops + unknown_acts))
        raise SpecError(
            f"family {walk.family.name!r}: operator/activation {bad} not in the operator vocabulary; "
            f"allowed ops: {', '.join(OP_CLASSES)}; activations: {', '.join(ACTIVATIONS)}"
        )

    def strings(values) -> pd.api.extensions.ExtensionArray:
        # Converted once here: pandas' str dtype conversion is a large share of a frame's cost.
        return pd.array(values, dtype="str")

    skeleton = LayerSkeleton(
        name=strings(names),
        is_module=np.fromiter(cols[1], dtype=bool, count=walked)[pos],
        block=strings(blocks),
        stage=ints(3),
        op=strings(np.array(cols[4], dtype=object)[pos]),
        act=strings(np.array(cols[5], dtype=object)[pos]),
        in_c=ints(6),
        out_c=ints(7),
        kernel=ints(8),
        stride=ints(9),
        groups=ints(10),
        params=ints(11),
        macs_per_px=ints(12),
        elem_ops_per_px=ints(13),
        in_level=ints(14),
        out_level=ints(15),
        extra_in_c=ints(16),
        extra_in_level=ints(17),
        reads=reads,
        level_defs=tuple(walk.level_defs),
    )
    for value in vars(skeleton).values():
        if isinstance(value, np.ndarray):
            value.flags.writeable = False
    return skeleton


def layer_table(spec: ArchSpec) -> pd.DataFrame:
    """One row per operator of ``spec``'s network, in execution order (see the module docstring
    for the columns and counting rules). Computed from the arch-def alone: no torch import."""
    if not isinstance(spec, ArchSpec):
        raise SpecTypeError(
            f"layer_table() takes an ArchSpec, got {type(spec).__name__}; build one with "
            "edgespace.ArchSpec(...), edgespace.efficientnet(phi) or edgespace.mobilenet(...)"
        )
    sk = layer_skeleton(spec.family, spec.width, spec.depth, spec.num_classes)
    sizes = sk.level_sizes(spec.resolution)
    in_hw = sizes[sk.in_level]
    out_hw = sizes[sk.out_level]
    in_px = in_hw * in_hw
    out_px = out_hw * out_hw
    is_pool = sk.kernel == 0
    # Global pooling reads every input pixel; its "kernel" is the whole input map.
    batch = spec.batch
    elem_ops = sk.elem_ops_per_px * np.where(is_pool, in_px, out_px) * batch
    extra_hw = sizes[sk.extra_in_level]
    bpe = spec.bytes_per_element
    frame = pd.DataFrame(
        {
            "name": sk.name.copy(),
            "is_module": sk.is_module.copy(),
            "block": sk.block.copy(),
            "stage": sk.stage.copy(),
            "op": sk.op.copy(),
            "act": sk.act.copy(),
            "in_c": sk.in_c.copy(),
            "in_h": in_hw,
            "in_w": in_hw.copy(),
            "out_c": sk.out_c.copy(),
            "out_h": out_hw,
            "out_w": out_hw.copy(),
            "kernel": np.where(is_pool, in_hw, sk.kernel),
            "stride": sk.stride.copy(),
            "groups": sk.groups.copy(),
            "macs": sk.macs_per_px * out_px * batch,
            "params": sk.params.copy(),
            "elem_ops": elem_ops,
            "weight_bytes": sk.params * bpe,
            "input_bytes": (sk.in_c * in_px + sk.extra_in_c * extra_hw * extra_hw) * (bpe * batch),
            "output_bytes": sk.out_c * out_px * (bpe * batch),
            "reads": sk.reads.copy(),
        },
        copy=False,
    )
    frame.attrs["spec"] = spec.to_dict()
    return frame


def table_totals(table: pd.DataFrame) -> dict:
    """Whole-network totals of a layer table: conv-like MACs, params, weight megabytes."""
    conv_like = table["op"].isin(CONV_OPS).to_numpy()
    return {
        "macs": int(table["macs"].to_numpy()[conv_like].sum()),
        "params": int(table["params"].sum()),
        "weight_mb": float(table["weight_bytes"].sum()) / 1e6,
        "rows": int(len(table)),
    }

"""ArchSpec → layer table, analytically: timm's arch-def decoded and walked as timm's
``EfficientNetBuilder`` walks it, one row per operator, with no torch module built.

The walk (``_layer_walk``) dispatches on block type through a table of walkers (``_BLOCK_WALKERS``) and on head
style through ``_HEAD_WALKERS``, as fvcore dispatches on operator name. Counting rules:

* conv-like rows (``conv``, ``depthwise``, ``pointwise``, ``linear``): ``macs`` = out elements ×
  (in_c / groups) × k², which is what fvcore counts for ``aten::_convolution`` / ``aten::linear``;
  ``params`` = weights (+ bias where the module has one).
* ``bn``: 2·C parameters (scale, shift; running statistics are buffers), 2 element ops per
  output element before it is folded into the preceding conv at deployment.
* ``matmul`` (attention): ``macs`` = out elements × the length of the summed axis (key/value
  dim for the scores, the key/value token count for the context), what fvcore counts for
  ``aten::matmul``; the scores hold heads × queries × keys values, so their work and size grow with
  the square of the token count.
* ``act``, ``mul``, ``add``: 1 element op per output element; ``softmax``: 5 (max, subtract, exp,
  sum, divide); ``pool`` (global average): 1 per input element; ``reshape``, ``transpose``,
  ``concat``, ``pad``: none (all but a reshape move their bytes). EfficientViT's linear attention
  (``_layer_walk_vit``): ``div`` (its normaliser) 1 per value plus 1 per denominator;
  ``layernorm``: 5 per element (fvcore's count), 2·C parameters.
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
from dataclasses import dataclass

import numpy as np
import pandas as pd

from edgespace._errors import SpecError, SpecTypeError
from edgespace._layer_walk import _BLOCK_WALKERS, _HEAD_WALKERS, _has_skip, _Walk
from edgespace._layer_walk_vit import walk_efficientvit
from edgespace._ops import ACTIVATIONS, CONV_OPS, MAC_OPS, OP_CLASSES
from edgespace._spec import ArchSpec
from edgespace.archs import BlockSpec, FamilyDef, decode_arch_def, get_family, round_channels

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

    Attention rows carry a second pixel count: ``tok_level`` (0 for every other row) multiplies
    a row's output elements, MACs and element ops by that level's pixel count (the scores hold
    heads × queries × keys values), ``red_level`` multiplies only its MACs (the context sums over
    the keys), and ``in_tok_level`` (the ``tok_level`` of the row read) its input elements.
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
    tok_level: np.ndarray
    red_level: np.ndarray
    in_tok_level: np.ndarray
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

    def px_factors(self, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per row, for level sizes ``sizes`` (``(L,)`` or ``(N, L)``): output pixels × token
        pixels (what output elements and element ops scale with), the same × reduced pixels
        (what MACs scale with), and input pixels × input token pixels."""
        px = (sizes * sizes).astype(np.float64)
        take = (lambda lv: px[..., lv]) if px.ndim > 1 else (lambda lv: px[lv])
        out = take(self.out_level) * take(self.tok_level)
        return out, out * take(self.red_level), take(self.in_level) * take(self.in_tok_level)

    def __len__(self) -> int:
        return len(self.name)


def _num_features(family: FamilyDef, width: float) -> int:
    scaled = round_channels(family.num_features, width, family.channel_divisor, family.round_limit)
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
    if fam.efficientvit is not None:
        walk_efficientvit(walk, width)
    else:
        _walk_blocks(walk, fam, width, depth)
    return _skeleton_of(walk)


def _walk_blocks(walk: _Walk, fam: FamilyDef, width: float, depth: float) -> None:
    """An arch-def family: stem, the decoded blocks (a repeat of the block before recorded, not
    walked again), the head."""
    stem = (
        fam.stem_size
        if width < fam.fix_stem_below_width
        else round_channels(fam.stem_size, width, fam.channel_divisor, fam.round_limit)
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
            out_chs = round_channels(blk.out_chs, width, fam.channel_divisor, fam.round_limit)
            _BLOCK_WALKERS[blk.block_type](walk, blk, name, out_chs, blk.act or fam.act)
            if _has_skip(blk, in_chs, out_chs):
                walk.binary(f"{name}.skip_add", "add", block_in, is_module=False)
            template = (key, first, len(walk.pos_of), name)
    walk.stage, walk.block = -1, "head"
    _HEAD_WALKERS[fam.head](walk, _num_features(fam, width))


def _skeleton_of(walk: _Walk) -> LayerSkeleton:
    """The walked rows as a :class:`LayerSkeleton`, repeated blocks expanded."""
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
    tok_level = ints(19)
    in_tok_level = np.where(read_a >= 0, tok_level[np.maximum(read_a, 0)], 0)

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
        tok_level=tok_level,
        red_level=ints(20),
        in_tok_level=in_tok_level,
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
    out_px, mac_px, in_px = (v.astype(np.int64) for v in sk.px_factors(sizes))
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
            "macs": sk.macs_per_px * mac_px * batch,
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
    """Whole-network totals of a layer table: MACs (conv-like and attention matmul rows), params,
    weight megabytes."""
    conv_like = table["op"].isin(MAC_OPS).to_numpy()
    return {
        "macs": int(table["macs"].to_numpy()[conv_like].sum()),
        "params": int(table["params"].sum()),
        "weight_mb": float(table["weight_bytes"].sum()) / 1e6,
        "rows": int(len(table)),
    }

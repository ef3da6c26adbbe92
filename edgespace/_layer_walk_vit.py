"""The walk over an EfficientViT (MIT) B-series network (timm ``EfficientVit``), emitting its
layer-table rows in timm's module names: a stem (conv, residual DSConvs), two MBConv stages, two
stages of EfficientViT blocks (multi-scale ReLU linear attention, ``LiteMLA``, then an MBConv, each
with a residual), and the classifier head (1×1 conv, pool, linear, LayerNorm, hard-swish, linear).

``LiteMLA`` over a C-channel map of N = H·W tokens, with h = C // d heads of dimension d and
T = h·d, as the exported graph runs it:

* ``qkv.conv``: 1×1 conv C → 3T; ``aggreg.0.0``: 5×5 depthwise conv on the 3T channels;
  ``aggreg.0.1``: grouped 1×1 conv (3h groups): the second, aggregated scale of q, k and v.
* ``concat`` (``concat``): both scales joined, 6T channels: every element copied.
* ``tokens`` (``transpose``): laid out as 2h heads × N tokens × 3d; q, k and v are slices of it
  (no rows of their own: a compiler reads them in place; ONNX Runtime copies them in ``Slice``
  kernels, a cost this table leaves out).
* ``kernel_q`` / ``kernel_k`` (``act`` ReLU): the linear attention's kernel function, one op per
  value, kernels of their own (they follow a transpose, not a conv).
* ``value_pad`` (``pad``): v with a column of ones appended (ONNX ``Pad``), 2h × N × (d+1):
  the product with it carries the normaliser's sums.
* ``key_transpose`` (``transpose``): kᵀ for the first product.
* ``kv`` (``matmul``): kᵀ·v, 2h × d × (d+1) values, each a sum over the N tokens; its size does
  not grow with the map (``out_level`` 0), its work does (``red_level``: the token level).
* ``context`` (``matmul``): q·(kᵀv), 2h × N × (d+1), d MACs each: linear in N, where softmax
  attention's scores are quadratic.
* ``normalize`` (``div``): the first d columns divided by the last one plus ε: 2T + 2h element
  ops per token (one divide per value, one add per denominator).
* ``merge_heads`` (``transpose``), then ``proj``: 1×1 conv 2T → C and BN, and the residual add.

fvcore counts the convs and both matmuls; the ReLUs, the concat and pad, the transposes and the
normaliser are not fvcore operators (tests/test_efficientvit.py counts them on the traced graph).
"""

from __future__ import annotations

from edgespace._layer_walk import _Walk
from edgespace.archs import efficientvit_widths

__all__ = ["walk_efficientvit"]

#: LayerNorm element operations per value: mean, centre, variance, normalise and the affine
#: scale/shift, what fvcore counts for ``aten::layer_norm`` with an affine.
LAYERNORM_OPS = 5


def _op(walk: _Walk, name: str, op: str, out_c: int, elem_ops: int, *, act: str = "", out_level=None, **kw) -> int:
    """An operator-less row (no module, no parameters) of class ``op`` reading the current tensor."""
    level = walk.level if out_level is None else out_level
    macs = kw.pop("macs_per_px", 0)
    reads = kw.pop("reads", (walk.last,))
    return walk._emit(name, False, op, act, out_c, level, 1, 1, 1, 0, macs, elem_ops, reads, **kw)


def _conv_norm_act(walk: _Walk, prefix: str, out_c: int, kernel: int, stride: int = 1, *, groups: int = 1, **kw):
    """timm's ``ConvNormAct``: conv [with bias] → [BN] → [act]."""
    walk.conv(f"{prefix}.conv", out_c, kernel, stride, groups=groups, bias=kw.get("bias", False))
    if kw.get("norm", True):
        walk.bn(f"{prefix}.norm", None)
    if kw.get("act"):
        walk.act(f"{prefix}.act", kw["act"])


def _mbconv(walk: _Walk, prefix: str, out_c: int, stride: int, expand: float, act: str, fewer_norm: bool):
    """timm ``MBConv``: 1×1 expand → k3 depthwise (stride) → 1×1 project + BN; ``fewer_norm``
    (attention stages): the first two convs with bias and no BN."""
    mid = round(walk.c * expand)
    first = {"bias": True, "norm": False} if fewer_norm else {}
    _conv_norm_act(walk, f"{prefix}.inverted_conv", mid, 1, act=act, **first)
    _conv_norm_act(walk, f"{prefix}.depth_conv", mid, 3, stride, groups=mid, act=act, **first)
    _conv_norm_act(walk, f"{prefix}.point_conv", out_c, 1)


def _residual(walk: _Walk, name: str, block_in: int) -> None:
    walk.binary(f"{name}.add", "add", block_in, is_module=False)


def _lite_mla(walk: _Walk, prefix: str, dim: int) -> None:
    """timm ``LiteMLA`` with one aggregation scale (5): see the module docstring."""
    chs, level = walk.c, walk.level
    heads = chs // dim
    t = heads * dim
    qkv = walk.conv(f"{prefix}.qkv.conv", 3 * t, 1)
    walk.conv(f"{prefix}.aggreg.0.0", 3 * t, 5, groups=3 * t)
    walk.conv(f"{prefix}.aggreg.0.1", 3 * t, 1, groups=3 * heads)
    walk.last = _op(
        walk, f"{prefix}.concat", "concat", 6 * t, 0, reads=(walk.last, qkv), extra_in_c=3 * t, extra_in_level=level
    )
    tok = walk.transpose(f"{prefix}.tokens")

    def from_tokens() -> None:  # q, k and v are each a third of the token tensor
        walk.c, walk.level, walk.last = 2 * t, level, tok

    from_tokens()
    q = _op(walk, f"{prefix}.kernel_q", "act", 2 * t, 2 * t, act="relu")
    from_tokens()
    _op(walk, f"{prefix}.kernel_k", "act", 2 * t, 2 * t, act="relu")
    kt = walk.transpose(f"{prefix}.key_transpose")
    from_tokens()
    v1 = 2 * heads * (dim + 1)
    v = _op(walk, f"{prefix}.value_pad", "pad", v1, 0)
    walk.c, walk.last = 2 * t, kt
    kv_c = 2 * heads * dim * (dim + 1)
    kv = _op(
        walk,
        f"{prefix}.kv",
        "matmul",
        kv_c,
        0,
        out_level=0,
        macs_per_px=kv_c,
        reads=(kt, v),
        extra_in_c=v1,
        extra_in_level=level,
        red_level=level,
    )
    walk.c, walk.level, walk.last = 2 * t, level, q
    _op(walk, f"{prefix}.context", "matmul", v1, 0, macs_per_px=v1 * dim, reads=(q, kv), extra_in_c=kv_c)
    _op(walk, f"{prefix}.normalize", "div", 2 * t, 2 * t + 2 * heads)
    walk.transpose(f"{prefix}.merge_heads")
    _conv_norm_act(walk, f"{prefix}.proj", chs, 1)


def walk_efficientvit(walk: _Walk, width: float) -> None:
    """Every row of the EfficientViT network of ``walk.family`` at width multiplier ``width``."""
    fam = walk.family
    vit = fam.efficientvit
    widths = efficientvit_widths(fam, width)
    act = fam.act
    walk.conv("stem.in_conv.conv", widths[0], 3, 2)
    walk.bn("stem.in_conv.norm", None)
    walk.act("stem.in_conv.act", act)
    for i in range(vit.depths[0]):
        name = f"stem.res{i}"
        walk.block, block_in = name, walk.last
        _conv_norm_act(walk, f"{name}.main.depth_conv", walk.c, 3, groups=walk.c, act=act)
        _conv_norm_act(walk, f"{name}.main.point_conv", widths[0], 1)
        _residual(walk, name, block_in)
    for s, (out_c, depth) in enumerate(zip(widths[1:], vit.depths[1:], strict=True)):
        walk.stage = s
        vit_stage = s >= 2
        walk.block = f"stages.{s}.blocks.0"
        _mbconv(walk, f"stages.{s}.blocks.0.main", out_c, 2, vit.expand_ratio, act, vit_stage)
        for j in range(1, depth + 1 if vit_stage else depth):
            name = f"stages.{s}.blocks.{j}"
            walk.block = name
            if vit_stage:
                block_in = walk.last
                _lite_mla(walk, f"{name}.context_module.main", vit.head_dim)
                _residual(walk, f"{name}.context_module", block_in)
                block_in = walk.last
                _mbconv(walk, f"{name}.local_module.main", out_c, 1, vit.expand_ratio, act, True)
                _residual(walk, f"{name}.local_module", block_in)
            else:
                block_in = walk.last
                _mbconv(walk, f"{name}.main", out_c, 1, vit.expand_ratio, act, False)
                _residual(walk, name, block_in)
    walk.stage, walk.block = -1, "head"
    hidden, features = vit.head_widths
    _conv_norm_act(walk, "head.in_conv", hidden, 1, act=act)
    walk.pool("head.global_pool")
    walk._emit(
        "head.classifier.0",
        True,
        "linear",
        "",
        features,
        0,
        1,
        1,
        1,
        hidden * features,
        hidden * features,
        0,
        (walk.last,),
    )
    walk._emit(
        "head.classifier.1",
        True,
        "layernorm",
        "",
        features,
        0,
        1,
        1,
        1,
        2 * features,
        0,
        LAYERNORM_OPS * features,
        (walk.last,),
    )
    walk.act("head.classifier.2", act)
    walk.linear("head.classifier.4", walk.num_classes)

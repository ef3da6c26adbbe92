"""The torch-free arch-def decoder reproduces timm's decoder, rounding and depth scaling."""

import itertools

import pytest
from timm.layers import make_divisible as timm_make_divisible
from timm.models._efficientnet_builder import decode_arch_def as timm_decode_arch_def
from timm.models._efficientnet_builder import round_channels as timm_round_channels

from edgespace import SpecError
from edgespace.archs import get_family, list_families
from edgespace.archs._arch_def import decode_arch_def, decode_block_str, make_divisible, round_channels


def test_make_divisible_and_round_channels_match_timm():
    for value in [x / 4 for x in range(1, 8000)]:
        assert make_divisible(value) == timm_make_divisible(value)
    for chs, mult in itertools.product(
        [16, 24, 32, 40, 80, 112, 192, 320, 960, 1280], [0.35, 0.5, 0.75, 1.0, 1.1, 1.4, 1.8, 2.0, 3.3]
    ):
        assert round_channels(chs, mult) == timm_round_channels(chs, mult)


@pytest.mark.parametrize("family", list_families())
@pytest.mark.parametrize("depth", [0.5, 1.0, 1.1, 1.4, 1.8, 2.2, 2.6, 3.1, 4.0])
def test_decode_matches_timm(family, depth):
    arch_def = [list(stage) for stage in get_family(family).arch_def]
    ours = decode_arch_def(arch_def, depth)
    theirs = timm_decode_arch_def(arch_def, depth)
    assert [len(s) for s in ours] == [len(s) for s in theirs]
    for our_stage, their_stage in zip(ours, theirs, strict=True):
        for i, (ours_b, theirs_b) in enumerate(zip(our_stage, their_stage, strict=True)):
            assert ours_b.block_type == theirs_b["block_type"]
            assert ours_b.out_chs == theirs_b["out_chs"]
            # timm's builder keeps the stride only on a stage's first block; our decoder does it.
            assert ours_b.stride == (theirs_b["stride"] if i == 0 else 1)
            assert ours_b.se_ratio == theirs_b.get("se_ratio", 0.0)
            if ours_b.block_type == "ir":
                assert ours_b.exp_ratio == theirs_b["exp_ratio"]
                assert ours_b.kernel_size == theirs_b["dw_kernel_size"]
            if ours_b.block_type == "uir":
                assert ours_b.exp_ratio == theirs_b["exp_ratio"]
                assert (ours_b.start_kernel_size, ours_b.kernel_size, ours_b.end_kernel_size) == (
                    theirs_b["dw_kernel_size_start"],
                    theirs_b["dw_kernel_size_mid"],
                    theirs_b["dw_kernel_size_end"],
                )


def test_decode_tokens():
    block, repeats = decode_block_str("ir_r3_k5_s2_e6_c40_se0.25_nre")
    assert repeats == 3
    assert (block.block_type, block.kernel_size, block.stride, block.exp_ratio, block.out_chs) == ("ir", 5, 2, 6.0, 40)
    assert block.se_ratio == 0.25 and block.act == "relu" and not block.noskip
    assert decode_block_str("ds_r1_k3_s1_c16_noskip")[0].noskip
    assert decode_block_str("dsa_r1_k3_s1_c16")[0].noskip  # timm: dsa never has a skip
    assert decode_block_str("cn_r1_k1_s1_c960_skip")[0].force_skip
    uib, repeats = decode_block_str("uir_r2_a5_k0_s1_e4_c512")  # MobileNetV4 "ConvNeXt" UIB
    assert repeats == 2 and (uib.start_kernel_size, uib.kernel_size, uib.end_kernel_size) == (5, 0, 0)
    assert uib.exp_ratio == 4.0 and not uib.noskip


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("xx_r1_k3_s1_c16", "unknown block type 'xx'"),
        ("ir_r1_k3_s1_e6_c16_q7", "unknown token 'q7'"),
        ("ir_r1_k3_s1_e6_c16_nzz", "unknown token 'nzz'"),
        ("ir_r1_k3_s1_c16", "missing token(s) e"),
        ("ir_r1_k3_s3_e6_c16", "stride s3 not allowed"),
        ("ir_r1_a3_k3_s1_e6_c16", "only 'uir' blocks take 'a'/'p'"),
        ("uir_r1_a0_k0_s2_e4_c16", "a strided 'uir' block needs a depthwise conv"),
        ("uir_r1_a3_k3_s1_c16", "missing token(s) e"),
        ("ir_r1_k0_s1_e6_c16", "kernel k0 not allowed"),
        ("ir_r1_k3_s1_e6_cX", "unknown token 'cX'"),
        ("ir_r1_k3_s1_e6.5.5_c16", "'e6.5.5' is not e<number>"),
        ("", "non-empty"),
    ],
)
def test_decode_errors_quote_the_token(text, fragment):
    with pytest.raises(SpecError) as info:
        decode_block_str(text)
    assert fragment in str(info.value)
    if text:
        assert repr(text) in str(info.value)

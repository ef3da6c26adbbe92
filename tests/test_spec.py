import itertools

import pytest

from edgespace import ArchSpec, SpecError, efficientnet, mobilenet
from edgespace.spec import EFFICIENTNET_PRESETS, efficientnet_preset


def test_defaults_and_normalisation():
    spec = ArchSpec("mobilenetv2", width=1, depth=1, resolution=224.0)
    assert spec.width == 1.0 and isinstance(spec.width, float)
    assert spec.resolution == 224 and isinstance(spec.resolution, int)
    assert spec.precision == "fp32" and spec.num_classes == 1000
    assert spec.bytes_per_element == 4
    assert ArchSpec("mobilenetv2", precision="int8").bytes_per_element == 1
    with pytest.raises(AttributeError):
        spec.width = 2.0  # frozen


@pytest.mark.parametrize(
    "kwargs, field, fragment",
    [
        (dict(family="resnet50"), "family", "allowed: efficientnet, efficientnetv2, efficientvit_b0"),
        (dict(width=0.0), "width", "allowed: 0.1 to 4.0"),
        (dict(width=35), "width", "35"),
        (dict(width=float("nan")), "width", "finite"),
        (dict(depth=-1.0), "depth", "allowed: 0.1 to 6.0"),
        (dict(resolution=2.24), "resolution", "integer"),
        (dict(resolution=4096), "resolution", "allowed: 32 to 1024"),
        (dict(precision="bf16"), "precision", "allowed: fp32, fp16, int8"),
        (dict(num_classes=0), "num_classes", "allowed: 1 to 100000"),
        (dict(width="1.0"), "width", "'1.0'"),
    ],
)
def test_bad_values_name_field_value_and_range(kwargs, field, fragment):
    args = dict(family="efficientnet") | kwargs
    with pytest.raises(SpecError) as info:
        ArchSpec(**args)
    message = str(info.value)
    assert field in message and fragment in message
    assert isinstance(info.value, ValueError)


def test_compound_scaling_formula_and_rounding():
    base = efficientnet(0)
    assert (base.width, base.depth, base.resolution) == (1.0, 1.0, 224)
    for phi in (0.5, 1, 2, 3.5, 7):
        spec = efficientnet(phi)
        assert spec.depth == pytest.approx(1.2**phi, abs=5e-5)
        assert spec.width == pytest.approx(1.1**phi, abs=5e-5)
        assert spec.resolution % 8 == 0
        assert abs(spec.resolution - 224 * 1.15**phi) <= 4
    # The unrounded resolution is available, and other coefficients are honoured.
    assert efficientnet(1, resolution_divisor=1).resolution == round(224 * 1.15)
    spec = efficientnet(2, alpha=1.1, beta=1.05, gamma=1.1, precision="fp16")
    assert spec.depth == pytest.approx(1.21) and spec.width == pytest.approx(1.1025, abs=1e-4)
    assert spec.precision == "fp16"
    # The paper's constraint alpha * beta^2 * gamma^2 ~ 2: the default coefficients roughly double
    # the network's MACs per phi step (measured on the analytic layer table, not by arithmetic;
    # channel and depth rounding and the resolution rounded to 8 move each step by up to ~15%).
    from edgespace import layer_table
    from edgespace.layers import table_totals

    macs = [table_totals(layer_table(efficientnet(phi)))["macs"] for phi in range(5)]
    steps = [b / a for a, b in itertools.pairwise(macs)]
    assert all(1.7 <= r <= 2.3 for r in steps), steps
    assert sum(steps) / len(steps) == pytest.approx(1.2 * 1.1**2 * 1.15**2, rel=0.1)
    # other coefficients change the growth the same way: a smaller alpha grows depth, and MACs, less
    slow = [table_totals(layer_table(efficientnet(phi, alpha=1.05)))["macs"] for phi in (0, 4)]
    assert slow[1] < macs[4] and slow[0] == macs[0]


def test_compound_scaling_bad_input():
    with pytest.raises(SpecError, match="phi"):
        efficientnet(float("inf"))
    with pytest.raises(SpecError, match=r"alpha=0.9.*1.0 to 2.0"):
        efficientnet(1, alpha=0.9)
    with pytest.raises(SpecError, match="phi=20"):
        efficientnet(20)


def test_published_presets():
    assert set(EFFICIENTNET_PRESETS) == {f"b{i}" for i in range(8)}
    b3 = efficientnet_preset("B3")
    assert (b3.width, b3.depth, b3.resolution) == (1.2, 1.4, 300)
    assert efficientnet_preset("efficientnet-b7").resolution == 600
    with pytest.raises(SpecError, match="b9.*allowed: b0"):
        efficientnet_preset("b9")


def test_mobilenet_constructor():
    spec = mobilenet("mobilenetv3_small", 0.75, 160, precision="int8")
    assert spec == ArchSpec("mobilenetv3_small", 0.75, 1.0, 160, "int8")
    with pytest.raises(SpecError, match="efficientnet.*not a MobileNet family"):
        mobilenet("efficientnet", 1.0, 224)


def test_short_name_and_dict_round_trip():
    spec = ArchSpec("efficientnet", 1.1, 1.2, 260, "fp16")
    assert spec.short_name() == "efficientnet_w1.1_d1.2_r260_fp16"
    assert ArchSpec(**spec.to_dict()) == spec
    assert hash(ArchSpec(**spec.to_dict())) == hash(spec)  # usable as a dict / cache key

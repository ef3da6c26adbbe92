import json

import pytest

from edgespace import ArchSpec
from edgespace.cli import main
from edgespace.cost import estimate


def test_estimate_table_over_all_modes(capsys):
    assert (
        main(["estimate", "--profile", "jetson-orin-nano-8gb", "--family", "mobilenetv2", "--precision", "int8"]) == 0
    )
    out = capsys.readouterr().out
    for mode in ("7W", "15W", "25W", "MAXN_SUPER"):
        assert mode in out
    e = estimate(ArchSpec("mobilenetv2", precision="int8"), "jetson-orin-nano-8gb", "15W")
    assert f"{e.latency_ms:.3f}" in out and f"{e.energy_mj:.2f}" in out


def test_estimate_json_one_mode(capsys):
    argv = [
        "estimate",
        "--profile",
        "snapdragon-8-gen-3",
        "--mode",
        "sustained",
        "--family",
        "mobilenetv3_large",
        "--width",
        "0.75",
        "--resolution",
        "192",
        "--precision",
        "int8",
        "--json",
        "--ambient-c",
        "30",
    ]
    assert main(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    e = estimate(ArchSpec("mobilenetv3_large", 0.75, 1.0, 192, "int8"), "snapdragon-8-gen-3", ambient_c=30)
    assert doc["mode"] == "sustained" and doc["latency_ms"] == pytest.approx(e.latency_ms)
    assert doc["fallback_ops"] == list(e.fallback_ops)


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (
            ["estimate", "--profile", "jetson-orin-nano-8gb", "--mode", "9W", "--family", "efficientnet"],
            "mode '9W': unknown",
        ),
        (["estimate", "--profile", "no-such-device", "--family", "efficientnet"], "no-such-device"),
        (["estimate", "--profile", "jetson-orin-nano-8gb", "--family", "efficientnet", "--precision", "int4"], "int4"),
        (["estimate", "--family", "efficientnet"], "--profile"),
    ],
)
def test_estimate_bad_input(capsys, argv, fragment):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fragment in err[0]

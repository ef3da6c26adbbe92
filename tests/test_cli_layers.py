import json
import subprocess
import sys

import pytest

from edgespace import ArchSpec, layer_table
from edgespace.cli import main
from edgespace.layers import table_totals


def test_layers_prints_table_and_totals(capsys):
    assert main(["layers", "--family", "mobilenetv2", "--width", "0.5", "--resolution", "160"]) == 0
    out = capsys.readouterr().out
    totals = table_totals(layer_table(ArchSpec("mobilenetv2", 0.5, 1.0, 160)))
    assert "conv_stem" in out and "classifier" in out
    assert f"{totals['macs'] / 1e6:,.1f} M MACs" in out
    assert f"{totals['params'] / 1e6:,.3f} M params" in out


def test_layers_json(capsys):
    assert main(["layers", "--preset", "b1", "--precision", "int8", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["spec"] == {
        "family": "efficientnet",
        "width": 1.0,
        "depth": 1.1,
        "resolution": 240,
        "precision": "int8",
        "num_classes": 1000,
    }
    assert doc["totals"]["rows"] == len(doc["layers"])
    assert sum(r["weight_bytes"] for r in doc["layers"]) == doc["totals"]["params"]  # 1 byte each at int8
    assert doc["layers"][0]["reads"] == [-1]


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["layers", "--family", "resnet"], "family='resnet' is not registered"),
        (["layers", "--family", "efficientnet", "--width", "7"], "ArchSpec.width=7.0 is out of range"),
        (["layers", "--family", "efficientnet", "--resolution", "abc"], "invalid int value: 'abc'"),
        (["layers"], "pass --family"),
        (["nonsense"], "invalid choice: 'nonsense'"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, argv, fragment):
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0] and lines[0].startswith("edgespace: error:")


def test_console_script_has_no_traceback():
    proc = subprocess.run(
        [sys.executable, "-m", "edgespace", "layers", "--family", "efficientnet", "--precision", "fp64"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "precision='fp64'" in proc.stderr and "allowed: fp32, fp16, int8" in proc.stderr

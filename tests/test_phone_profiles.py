"""Per-operator times from the phone runtimes' own tools: LiteRT's benchmark_model output (real
samples from public repositories) and ExecuTorch's ETDump (real dumps of edgespace's exports),
mapped onto layer rows by operator order, and read from a phone capture set into a calibration.
tests/data/phone/SOURCES.md says where each file came from."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from edgespace import ArchSpec, CalibrationError, layer_table
from edgespace.calibration import IngestError, map_ordered_ops, read_capture_set
from edgespace.calibration._mapping import INPUT_SEGMENT, segment_ids
from edgespace.runners import read_benchmark_model

DATA = Path(__file__).parent / "data" / "phone"
ETDUMPS = {
    "etdump_mobilenetv3_small_w0.35_d0.5_r64.etdp": ArchSpec("mobilenetv3_small", 0.35, 0.5, 64),
    "etdump_mobilenetv2_w0.35_d0.5_r64.etdp": ArchSpec("mobilenetv2", 0.35, 0.5, 64),
    "etdump_efficientnet_w0.35_d0.5_r64.etdp": ArchSpec("efficientnet", 0.35, 0.5, 64),
}


def test_tflite_benchmark_model_run_order_is_read_in_order():
    p = read_benchmark_model(DATA / "benchmark_model_tflite_readme.txt")
    assert len(p.nodes) == 31  # "Number of nodes executed: 31"
    kinds = [n.op_type for n in p.nodes]
    assert kinds.count("CONV_2D") == 15 and kinds.count("DEPTHWISE_CONV_2D") == 13  # as its summary says
    assert p.nodes[0].name == "[MobilenetV1/MobilenetV1/Conv2d_0/Relu6]" and p.nodes[0].time_us == pytest.approx(4269)
    assert kinds[-1] == "SOFTMAX" and p.nodes[-1].time_us == pytest.approx(29)  # times called 0: one call
    assert p.meta["latency_ms"] == pytest.approx(79.7609) and p.meta["latency_from"] == "Inference timings in us"


def test_litert2_benchmark_output_keeps_operators_not_runtime_rows():
    p = read_benchmark_model(DATA / "benchmark_model_litert2_fc.txt")
    assert [n.op_type for n in p.nodes] == ["Static Reshape (NC)", "Fully Connected (NC, PF32) GEMM"]
    assert [n.time_us for n in p.nodes] == pytest.approx([3, 382])  # avg ms x times called, in µs
    assert p.meta["latency_ms"] == pytest.approx(0.46) and p.meta["latency_from"] == "Inference (avg)"


def test_benchmark_model_table_with_spaces_for_tabs_is_read_alike(tmp_path):
    # synthetic: the real LiteRT sample with its tabs expanded to spaces, as logs often keep it
    text = (DATA / "benchmark_model_litert2_fc.txt").read_text()
    spaced = tmp_path / "spaced.txt"
    spaced.write_text(text.expandtabs(4))
    a, b = read_benchmark_model(DATA / "benchmark_model_litert2_fc.txt"), read_benchmark_model(spaced)
    assert [(n.name, n.op_type, n.time_us) for n in a.nodes] == [(n.name, n.op_type, n.time_us) for n in b.nodes]


def test_benchmark_model_output_without_profiling_or_with_a_broken_row_is_refused(tmp_path):
    text = (DATA / "benchmark_model_litert2_fc.txt").read_text()
    plain = tmp_path / "plain.txt"
    plain.write_text(text.split("INFO: [./litert/tools/benchmark_litert_model.h:179]")[0])
    with pytest.raises(IngestError, match=r"no 'Run Order' table.*--enable_op_profiling=true"):
        read_benchmark_model(plain)
    broken = tmp_path / "broken.txt"
    broken.write_text(text.replace("    0.382\t", "    n/a\t", 1))
    with pytest.raises(IngestError, match=r"broken.txt: line \d+: not a Run Order row"):
        read_benchmark_model(broken)
    with pytest.raises(IngestError, match="no such file"):
        read_benchmark_model(tmp_path / "missing.txt")


@pytest.fixture(scope="module")
def etdumps():
    pytest.importorskip("executorch", reason="reading an ETDump needs the phone extra (pip install 'edgespace[phone]')")
    from edgespace.runners import read_etdump

    return {name: read_etdump(DATA / name) for name in ETDUMPS}


@pytest.mark.parametrize("name", sorted(ETDUMPS))
def test_etdump_operators_map_one_to_one_onto_the_layer_tables_segments(etdumps, name):
    prof, spec = etdumps[name], ETDUMPS[name]
    table = layer_table(spec)
    mapped = map_ordered_ops(list(prof.nodes), table)
    assert prof.runs == 5 and prof.meta["latency_ms"] > 0  # Method::execute, 5 executions
    assert not any(n.name.startswith(("DELEGATE_CALL", "OPERATOR_CALL", "Method::")) for n in prof.nodes)
    # every segment of the table is started by exactly one convolution-like operator ...
    conv = mapped[mapped["anchor"] >= 0]
    assert sorted(conv["segment"]) == sorted(set(segment_ids(table)))
    # ... and the frame's cast, scale/shift and NCHW->NHWC transpose come before the first
    pre = mapped[mapped["segment"] == INPUT_SEGMENT]["op_type"].tolist()
    assert pre[-3:] == ["Multiply (ND)", "Add (ND)", "Transpose (ND, X32)"] and "_to_dim_order_copy.out" in pre
    assert mapped["time_us"].sum() == pytest.approx(prof.node_total_ms * 1e3)


def test_etdump_of_another_network_is_refused_naming_the_counts(etdumps):
    prof = etdumps["etdump_mobilenetv2_w0.35_d0.5_r64.etdp"]
    with pytest.raises(
        CalibrationError, match=r"convolution-like operators, but the layer table has \d+ conv-like rows"
    ):
        map_ordered_ops(list(prof.nodes), layer_table(ArchSpec("mobilenetv2", 0.35, 1.0, 64)))


def test_phone_capture_set_calibrates_from_the_cli(etdumps, tmp_path, capsys):
    from edgespace.cli import main
    from edgespace.cost import load_calibration

    d = tmp_path / "captures"
    d.mkdir()
    models = []
    for name, spec in ETDUMPS.items():  # the manifest as write_capture_set(format="executorch") writes it
        stem = f"{spec.short_name().replace('_fp32', '')}_fp32"
        models.append({"name": stem, "model": f"{stem}.pte", "spec": spec.to_dict()})
        shutil.copyfile(DATA / name, d / f"{stem}.etdp")
    doc = {"format": "edgespace-captures/1", "runtime": "executorch", "threads": 1, "models": models}
    (d / "manifest.json").write_text(json.dumps(doc))
    found = read_capture_set(d)
    assert found.sources == ["executorch"] * 3 and found.threads == 1 and not found.missing
    assert all("Method::execute" in how for how in found.e2e_from)
    out = tmp_path / "phone.json"
    assert main(["calibrate", "--profile", "google-tensor-g3", "--from", str(d), "--out", str(out), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["provenance"]["runtime"] == "executorch (captured on the device)" and rep["provenance"]["threads"] == 1
    cal = load_calibration(out)
    assert cal.profile == "google-tensor-g3" and "segment_times" not in cal.provenance  # per-operator, not split
    # segment times measured per operator (XNNPACK reports whole µs: at 64 px some segments read 0 and are left out)
    assert (cal.samples.groupby("run")["segment"].nunique() >= 15).all()
    assert (cal.samples[cal.samples["segment"] == INPUT_SEGMENT].groupby("run").size() == 1).all()
    # a dump that is not an ETDump: exit 2, naming the file
    (d / f"{models[0]['name']}.etdp").write_bytes(b"not a flatbuffer")
    assert main(["calibrate", "--profile", "google-tensor-g3", "--from", str(d), "--out", str(out)]) == 2
    assert "not an ETDump" in capsys.readouterr().err


def test_committed_litert_model_runs_and_shows_its_int8_coverage():
    """The LiteRT runtime path on a .tflite made by edgespace's converter (no converter needed)."""
    pytest.importorskip("ai_edge_litert", reason="the phone extra is not installed (pip install 'edgespace[phone]')")
    from edgespace.exporters._coverage_litert import _rows
    from edgespace.runners import TimingPlan, get_runner

    path = DATA / "litert_mobilenetv3_small_w0.35_d0.5_r64_c10_int8.tflite"
    spec = ArchSpec("mobilenetv3_small", 0.35, 0.5, 64, "int8", 10)
    m = get_runner("litert").measure(path, spec, precision="int8", threads=1, timing=TimingPlan(runs=20, rounds=2))
    assert m.provider == "XNNPACK" and 0 < m.latency_min_ms <= m.latency_p50_ms and len(m.round_medians_ms) == 2
    assert m.node_profile is None and any("no per-operator profile" in n for n in m.notes)
    rows = _rows(str(path), "xnnpack")
    left = {r.op for r in rows if not r.delegated}
    assert "HARD_SWISH" in left and any(r.delegated and r.op == "CONV_2D" for r in rows)
    # the order rule holds for the converter's programs: its operators, in execution order (times
    # left at 0: benchmark_model's come from a phone), start every segment of the layer table once
    from edgespace.runners import NodeTime

    ops = [NodeTime(str(i), r.op, 0.0) for i, r in enumerate(rows)]
    mapped = map_ordered_ops(ops, layer_table(spec))
    assert sorted(mapped.loc[mapped["anchor"] >= 0, "segment"]) == sorted(set(segment_ids(layer_table(spec))))
    assert mapped["op_type"].iloc[0] == "CAST" and mapped["segment"].iloc[0] == INPUT_SEGMENT


def test_operators_merged_across_delegate_partitions_are_refused_for_calibration(tmp_path):
    # synthetic: the real LiteRT sample with one row's times-called edited to 2, as benchmark_model
    # prints a name repeated over several XNNPACK partitions (int8 networks with builtin hard-swish)
    from edgespace.calibration import calibrate

    text = (DATA / "benchmark_model_litert2_fc.txt").read_text()
    merged = tmp_path / "merged.txt"
    merged.write_text(
        text.replace(
            "     0.000\t        1\tDelegate/Fully Connected", "     0.000\t        2\tDelegate/Fully Connected", 1
        )
    )
    prof = read_benchmark_model(merged)
    assert prof.meta["times_called"] == [1, 2] and prof.nodes[1].time_us == pytest.approx(764)  # avg x calls
    spec = ArchSpec("mobilenetv3_small", 0.35, 0.5, 64)
    with pytest.raises(CalibrationError, match="merged same-named operators"):
        calibrate("host", [(spec, prof, 1.0)] * 3)

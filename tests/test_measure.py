"""Real ONNX Runtime runs on tiny networks, the profiler-node → layer-row mapping, calibration,
ingest of captured profiles, power meters, and ``edgespace calibrate``.

All networks are exported once, in one child process, into a per-session cache (the timing
process stays free of torch work)."""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import edgespace as es
from edgespace._liveness import ORT_CPU_UNFUSED_ACTS, live_bytes, peak_activation_bytes
from edgespace._precision import fp16_supported
from edgespace.calibration import (
    IngestError,
    calibrate,
    draw_specs,
    map_nodes,
    read_trtexec_profile,
    read_trtexec_times,
)
from edgespace.calibration._calibrate import CalibrationError
from edgespace.calibration._mapping import module_path, segment_ids
from edgespace.cli import main
from edgespace.cost import load_calibration
from edgespace.layers import table_totals
from edgespace.meters import NullMeter, RaplMeter, get_meter
from edgespace.runners import Fp16UnavailableError, TimingPlan, confirm, read_ort_profile
from edgespace.runners._export import export_many
from edgespace.runners.common import torch_never_imported

DATA = Path(__file__).resolve().parent / "data"
TINY = es.ArchSpec("mobilenetv3_small", 0.35, 1.0, 64)
#: one tiny network per family: the mapping rule is checked on each family's real export
FAMILY_TINY = [
    TINY,
    es.ArchSpec("efficientnet", 0.35, 0.5, 64),
    es.ArchSpec("mobilenetv2", 0.35, 0.5, 64),
    es.ArchSpec("mobilenetv3_large", 0.35, 0.5, 64),
    es.ArchSpec("efficientnetv2", 0.35, 0.5, 64),
    es.ArchSpec("mobilenetv4_conv_small", 0.35, 1.0, 64),  # UIB IR/ExtraDW/ConvNeXt, cn blocks
    es.ArchSpec("mobilenetv4_conv_medium", 0.35, 1.0, 64),  # UIB FFN, fused IB, normed head
]
#: what `edgespace calibrate --samples 3 --families mobilenetv3_small --seed 0` draws, and more
CAL_SPECS = draw_specs(6, families=("mobilenetv3_small",), seed=0, ranges={"resolution": (64, 128)})
CONV_LIKE = ("conv", "depthwise", "pointwise", "linear")


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    root = tmp_path_factory.mktemp("edgespace-cache")
    mp = pytest.MonkeyPatch()
    mp.setenv("EDGESPACE_CACHE_DIR", str(root))
    export_many(FAMILY_TINY + CAL_SPECS)  # one child process for all of them
    yield root
    mp.undo()


@pytest.fixture(scope="module")
def tiny_run(cache):
    return confirm(TINY, threads=1, warmup=3, runs=30, rounds=3, profile_runs=3)


def test_confirm_real_run_is_sane_and_never_invents_energy(tiny_run):
    m = tiny_run
    assert 0 < m.latency_min_ms <= m.latency_p50_ms <= m.latency_p90_ms <= m.latency_p99_ms
    assert m.runs == 30 and m.rounds == 3 and m.threads == 1 and m.precision == "fp32"
    assert m.throughput_fps > 0 and m.latency_robust_ms > 0 and m.latency_spread_pct >= 0
    if not RaplMeter.is_available():  # no meter here: None plus the reason, never a number
        assert m.energy_mj is None and m.avg_power_w is None
        assert m.energy_unavailable_reason and "RAPL" in m.energy_unavailable_reason
    # The flag tells the truth: in a full test run other tests have imported torch already.
    assert m.clean_process == torch_never_imported()
    assert m.clean_process or any("torch is loaded" in note for note in m.notes)
    # memory from ORT's own accounting equals liveness over the layer table
    pred = peak_activation_bytes(es.layer_table(TINY), unfused_acts=ORT_CPU_UNFUSED_ACTS)
    assert m.peak_activation_bytes == pytest.approx(pred, rel=0.2)
    assert "onnxruntime profiler" in m.memory_source
    d = m.to_dict()
    json.dumps(d)
    assert d["spec"]["family"] == "mobilenetv3_small" and d["energy_mj"] is None


def test_clean_process_is_true_only_where_torch_was_never_imported(tiny_run, monkeypatch):
    import subprocess
    import types

    from edgespace.runners.ort import OnnxRuntimeRunner

    code = (
        "from edgespace.runners.common import torch_never_imported as t\n"
        "before = t()\nimport torch.nn\nprint(before, t())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    assert out.stdout.split() == ["True", "False"]
    # a torch submodule alone is enough to make the process not clean
    monkeypatch.setitem(sys.modules, "torch._labels_probe", types.ModuleType("torch._labels_probe"))
    m = OnnxRuntimeRunner().measure(
        tiny_run.model_path, TINY, timing=TimingPlan(runs=3, warmup=1, profile=False), meter=NullMeter()
    )
    assert m.clean_process is False
    from edgespace.runners import Measurement

    assert Measurement.__dataclass_fields__["clean_process"].default is False  # never claimed by default


def test_duration_run_reports_throughput_over_time(cache):
    m = confirm(TINY, threads=1, warmup=2, runs=None, duration_s=1.0, profile=False)
    assert m.duration_s >= 1.0 and len(m.throughput_series) >= 2
    assert m.peak_fps >= m.sustained_fps > 0
    assert m.peak_activation_bytes is None and "not profiled" in m.memory_source


def test_int8_static_qdq_runs_and_has_quantize_nodes(cache):
    import onnx

    m = confirm(TINY, precision="int8", threads=1, warmup=2, runs=10, profile=False)
    graph = onnx.load(m.model_path).graph
    assert sum(n.op_type == "QuantizeLinear" for n in graph.node) > 10
    assert m.precision == "int8" and m.latency_p50_ms > 0 and any("QDQ" in n for n in m.notes)


def test_fp16_on_cpu_gives_a_clear_error(cache):
    if fp16_supported("CPUExecutionProvider"):
        pytest.skip("this CPU's ONNX Runtime computes Conv in fp16")
    with pytest.raises(Fp16UnavailableError, match="fp16 unsupported on CPUExecutionProvider.*use fp32 or int8"):
        confirm(TINY, precision="fp16", runs=1)


def test_confirm_rejects_bad_arguments():
    with pytest.raises(ValueError, match="exactly one of runs"):
        confirm(TINY, runs=None, duration_s=None)
    with pytest.raises(ValueError, match="runs=0: allowed: an integer >= 1"):
        confirm(TINY, runs=0)
    with pytest.raises(ValueError, match="warmup=-1: allowed: an integer >= 0"):
        TimingPlan(warmup=-1)
    with pytest.raises(ValueError, match="duration_s=0: allowed: 0 < seconds"):
        TimingPlan(runs=None, duration_s=0)
    with pytest.raises(ValueError, match="precision='bf16'"):
        confirm(TINY, precision="bf16")
    with pytest.raises(ValueError, match="backend='nope'"):
        confirm(TINY, backend="nope")


def test_module_path_rule():
    assert (
        module_path("/model/blocks/blocks.1/blocks.1.0/conv_dw/Conv_output_0_nchwc_kernel_time")
        == "blocks.1.0.conv_dw.Conv_output_0"
    )
    assert module_path("/model/bn1/act/Mul/QuickGeluFusion/_kernel_time") == "bn1.act.Mul.QuickGeluFusion"
    assert (
        module_path("/model/blocks/blocks.2/blocks.2.1/se/gate/HardSigmoid_output_0_nchwc")
        == "blocks.2.1.se.gate.HardSigmoid_output_0"
    )
    assert module_path("/Cast_kernel_time") == ""  # the folded preprocessing
    assert module_path("ReorderInput_token_13_kernel_time") is None  # a layout node ORT inserted
    assert module_path("Reformatting CopyNode for Input Tensor 0 to /model/conv_stem/Conv") is None


@pytest.mark.parametrize("spec", FAMILY_TINY, ids=lambda s: s.family)
def test_profiler_nodes_cover_every_conv_like_row_of_a_real_export(cache, spec):
    from edgespace.runners.ort import OnnxRuntimeRunner

    path = export_many([spec])[0]
    prof = OnnxRuntimeRunner().profile(path, spec, threads=1, runs=1)
    table = es.layer_table(spec)
    mapped = map_nodes(list(prof.nodes), table)
    covered = {i for rows in mapped["rows"] for i in rows}
    conv_rows = set(np.flatnonzero(table["op"].isin(CONV_LIKE).to_numpy()))
    assert conv_rows <= covered, [table["name"].iat[i] for i in sorted(conv_rows - covered)]
    assert covered == set(range(len(table)))  # and, in fact, every row
    model_nodes = mapped[mapped["path"].fillna("").str.len() > 0]
    assert (model_nodes["anchor"] >= 0).all()  # every /model/ node lands on a row
    assert mapped["time_us"].sum() == pytest.approx(prof.node_total_ms * 1e3)
    seg = segment_ids(table)
    for _, node in mapped.iterrows():  # a node's rows all lie in its segment
        assert all(seg[r] == node["segment"] for r in node["rows"])
    # the fused stem: conv + bn (+ act when fused) is one node's group
    stem = mapped[mapped["rows"].apply(lambda r: 0 in r)].iloc[0]
    assert {0, 1} <= set(stem["rows"])


def test_liveness_keeps_the_residual_input_alive():
    # input(100) -> a(400) -> b(100) -> add(b, input)(100): the input lives across the block
    t = pd.DataFrame(
        {
            "name": ["a", "b", "add"],
            "op": ["pointwise", "pointwise", "add"],
            "act": ["", "", ""],
            "input_bytes": [100, 400, 200],
            "output_bytes": [400, 100, 100],
            "reads": [(-1,), (0,), (1, -1)],
        }
    )
    assert list(live_bytes(t)) == [500, 600, 300]
    assert peak_activation_bytes(t) == 600
    no_skip = t.assign(reads=[(-1,), (0,), (1,)])
    assert peak_activation_bytes(no_skip) == 500


def test_liveness_narrow_skip_needs_less_than_a_wide_one():
    spec = es.ArchSpec("mobilenetv2", 1.0, 1.0, 224)
    t = es.layer_table(spec)
    peak = peak_activation_bytes(t)
    # the skip on the expanded middle: every residual add also reads the expanded tensor
    wide = t.copy()
    reads = list(wide["reads"])
    for i in np.flatnonzero(wide["op"].to_numpy() == "add"):
        block = wide["block"].iat[i]
        dw = [j for j in range(i) if wide["block"].iat[j] == block and wide["op"].iat[j] == "depthwise"][0]
        reads[i] = reads[i] + (dw - 1,)
    wide["reads"] = reads
    adds = wide["op"].to_numpy() == "add"
    assert (live_bytes(wide)[adds] > live_bytes(t)[adds]).all()
    assert peak_activation_bytes(wide) >= peak


@pytest.fixture(scope="module")
def cal_measurements(cache):
    from edgespace.calibration._loop import collect

    return collect(CAL_SPECS, threads=1, rounds=5, round_s=0.02, profile_runs=5)


def test_interleaved_measurements_are_paired_with_the_reference(cal_measurements):
    from edgespace.runners import REFERENCE_SPEC

    for m in cal_measurements:
        assert m.reference == REFERENCE_SPEC.short_name() and len(m.round_medians_ms) == m.rounds == 5
        # the paired latency is a typical level of this network's runs. It is the ratio to the
        # reference times the reference's median over the whole measurement, so when the cores
        # change speed (by up to ~40% second to second here) it may sit a little outside the
        # network's own extremes; a broken pairing (ratio of the wrong runs, ms vs s) is far off.
        assert m.latency_min_ms * 0.6 <= m.latency_paired_ms <= m.latency_p99_ms * 1.5
        assert m.latency_calibration_ms == m.latency_paired_ms
    m = cal_measurements[0]
    unpaired = dataclasses.replace(m, latency_paired_ms=None)
    assert unpaired.latency_calibration_ms == pytest.approx(float(np.median(m.round_medians_ms)))


def test_calibration_predicts_a_held_out_spec_and_round_trips(cal_measurements, tmp_path):
    # hold out the network in the middle by MACs: interpolation, as a calibration is used
    macs = [table_totals(es.layer_table(m.spec))["macs"] for m in cal_measurements]
    mid = int(np.argsort(macs)[len(macs) // 2])
    held = cal_measurements[mid]
    train = [m for i, m in enumerate(cal_measurements) if i != mid]
    cal = calibrate("host", train, threads=1)
    pred = cal.predict_latency_ms(held.spec)
    # a loose bound: five tiny networks, timed for a fraction of a second on a shared machine
    assert pred == pytest.approx(held.latency_calibration_ms, rel=0.5)
    prov = cal.provenance
    assert prov["networks"] == 5 and prov["threads"] == 1 and prov["runtime"].startswith("onnxruntime ")
    assert prov["date"] and prov["segments"] > 100 and prov["families"] == ["mobilenetv3_small"]
    path = cal.save(tmp_path / "host-1t.json")
    back = load_calibration(path)
    assert back.provenance == prov
    # the model is refitted on load: refits agree exactly with each other, but the first fit in
    # a process has been seen to differ from them by up to 0.1% (float rounding amplified by the
    # trees' split choices); the id, runs and samples round-trip exactly
    assert back.predict_latency_ms(held.spec) == pytest.approx(pred, rel=5e-3)
    assert back.id == cal.id


def test_calibration_draw_covers_the_corners_and_spreads_each_knob():
    fams = ("efficientnet", "mobilenetv2", "mobilenetv3_small")
    ranges = {"width": (0.35, 1.3), "depth": (0.5, 1.4), "resolution": (96, 256)}
    specs = draw_specs(36, families=fams, seed=5, ranges=ranges, cover=True)
    assert len(specs) == len(set(specs)) == 36
    for fam in fams:
        mine = [s for s in specs if s.family == fam]
        assert len(mine) == 12
        assert es.ArchSpec(fam, 0.35, 0.5, 96) in mine and es.ArchSpec(fam, 1.3, 1.4, 256) in mine
        # Latin hypercube: the other 10 points fall in 10 different tenths of the width range
        inner = [s for s in mine if s.resolution not in (96, 256) or s.width not in (0.35, 1.3)]
        tenths = {min(int((s.width - 0.35) / 0.95 * 10), 9) for s in inner}
        assert len(tenths) >= 8  # grid snapping (0.05 steps) can merge neighbouring tenths
    # the uniform draw (test sets) is unchanged by the option's existence and never a corner set
    assert draw_specs(6, families=fams, seed=5, ranges=ranges) != specs[:6]


def _synthetic_segments(specs, run0=0):
    """Segment features of real layer tables with times from a known additive law: a power law
    in MACs and output bytes for the conv-like kernel plus a per-byte cost for stand-alone hard-swish
    and multiply passes (what ONNX Runtime runs outside the conv), ±3% noise."""
    from edgespace.calibration._model import _ACTS, segment_features

    rng = np.random.default_rng(run0)
    frames, runs = [], []
    hswish = _ACTS.index("hard_swish")
    for k, spec in enumerate(specs):
        f = segment_features(es.layer_table(spec))
        conv = 0.05 * (f["macs"] + 1) ** 0.75 * (f["output_bytes"] + 1) ** 0.15
        elem = 4e-4 * f["act_bytes"] * (f["act_code"] == hswish) + 2e-4 * f["mul_bytes"]
        f["time_us"] = (conv + elem) * rng.lognormal(0.0, 0.03, len(f))
        f["run"] = run0 + k
        frames.append(f.reset_index())
        runs.append({"run": run0 + k, "e2e_ms": f["time_us"].sum() / 1e3})
    return pd.concat(frames, ignore_index=True), pd.DataFrame(runs).set_index("run")


def test_additive_segment_model_extrapolates_to_a_family_never_seen():
    from edgespace.calibration._model import SegmentLatencyModel

    # calibrate on narrow MobileNetV3-Small and MobileNetV2 ...
    train = draw_specs(24, families=("mobilenetv3_small", "mobilenetv2"), seed=3, ranges={"width": (0.35, 0.9)})
    samples, runs = _synthetic_segments(train)
    model = SegmentLatencyModel().fit(samples, runs)
    # ... predict wide MobileNetV3-Large, whose hard-swish layers are far wider than any seen
    test = draw_specs(8, families=("mobilenetv3_large",), seed=4, ranges={"width": (1.0, 1.3)})
    t_samples, t_runs = _synthetic_segments(test, run0=100)
    truth = t_runs["e2e_ms"].to_numpy()
    pred = np.array([model.predict_latency_ms(es.layer_table(s)) for s in test])
    rel = np.abs(pred - truth) / truth
    assert rel.max() < 0.05, rel
    # the SE gate's multiply (its bytes are the block's feature map, not the conv's 1x1 output,
    # so the fit can tell them apart) is recovered as a cost per byte
    from edgespace.calibration._model import _ACTS

    per_byte = model.elem_coef_us_ / model.elem_scale_
    assert per_byte[len(_ACTS) + 1] == pytest.approx(2e-4, rel=0.15)


def test_calibration_rejects_bad_input(tmp_path, cal_measurements):
    with pytest.raises(CalibrationError, match="need at least 3"):
        calibrate(None, cal_measurements[:2])
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(CalibrationError, match="format: 'something-else'"):
        load_calibration(bad)
    with pytest.raises(CalibrationError, match="no such calibration file"):
        load_calibration(tmp_path / "missing.json")


def test_ingest_ort_profile_fixture():
    prof = read_ort_profile(DATA / "ort_profile_mnv3s_w035_r64.json")
    assert prof.runs == 1 and len(prof.run_ms) == 1 and len(prof.nodes) > 50
    assert prof.peak_memory_bytes == peak_activation_bytes(es.layer_table(TINY), unfused_acts=ORT_CPU_UNFUSED_ACTS)
    mapped = map_nodes(list(prof.nodes), es.layer_table(TINY))
    assert set(range(len(es.layer_table(TINY)))) == {i for r in mapped["rows"] for i in r}


def test_ingest_trtexec_profile_and_times_fixtures():
    prof = read_trtexec_profile(DATA / "trtexec_profile_mnv3s_w035_r64.json")
    assert prof.runs == 200 and prof.nodes[0].name.startswith("Reformatting CopyNode")
    table = es.layer_table(TINY)
    mapped = map_nodes(list(prof.nodes), table)
    fused = mapped[mapped["node"].str.contains(r" \+ ")]
    assert len(fused) > 5 and (fused["anchor"] >= 0).all()
    conv_rows = set(np.flatnonzero(table["op"].isin(CONV_LIKE).to_numpy()))
    assert conv_rows <= {i for r in mapped["rows"] for i in r}
    times = read_trtexec_times(DATA / "trtexec_times_mnv3s_w035_r64.json")
    assert times["runs"] == 20 and times["latency_p50_ms"] <= times["latency_p99_ms"]
    assert times["compute_p50_ms"] < times["latency_p50_ms"]
    # calibrating a device from captured files: (spec, node profile, end-to-end ms) triples
    items = [(TINY, prof, times["latency_p50_ms"])] * 3
    cal = calibrate(None, items, threads=None, precision="fp16")
    assert cal.provenance["runtime"].startswith("unknown") and cal.predict_latency_ms(TINY) > 0


def test_ingest_rejects_other_files(tmp_path):
    f = tmp_path / "x.json"
    f.write_text("[1, 2]")
    with pytest.raises(IngestError, match="list of trace events"):
        read_ort_profile(f)
    with pytest.raises(IngestError, match=r'starting with \{"count": N\}'):
        read_trtexec_profile(f)
    f.write_text("not json")
    with pytest.raises(IngestError, match="not JSON"):
        read_trtexec_times(f)
    with pytest.raises(IngestError, match="no such file"):
        read_ort_profile(tmp_path / "nope.json")


def test_capture_set_timed_by_the_capture_script_calibrates_from_the_cli(cache, tmp_path, capsys):
    from edgespace.calibration._captures import read_capture_set, write_capture_set
    from edgespace.calibration.capture import capture

    d = tmp_path / "captures"
    specs = CAL_SPECS[:3]
    manifest = write_capture_set(specs, d)
    doc = json.loads(manifest.read_text())
    assert doc["format"] == "edgespace-captures/1" and len(doc["models"]) == 3
    assert all((d / e["onnx"]).is_file() for e in doc["models"])
    assert read_capture_set(d).missing == sorted(e["name"] for e in doc["models"])  # nothing timed yet
    capture(d, threads=1, rounds=2, round_s=0.01, profile_runs=2, out=sys.stderr)
    found = read_capture_set(d)
    assert not found.missing and found.sources == ["onnxruntime"] * 3 and found.threads == 1
    assert {s.short_name() for s, _, _ in found.items} == {s.short_name() for s in specs}
    assert all(e2e > 0 and prof.nodes for _, prof, e2e in found.items)
    out = tmp_path / "device.json"
    assert main(["calibrate", "--profile", "host", "--from", str(d), "--out", str(out), "--json"]) == 0
    prov = json.loads(capsys.readouterr().out)["provenance"]
    assert prov["networks"] == 3 and prov["threads"] == 1 and "onnxruntime" in prov["runtime"]
    assert "latency.json" in prov["note"]
    assert load_calibration(out).predict_latency_ms(CAL_SPECS[3]) > 0


def test_capture_set_pairs_trtexec_files_and_rejects_bad_sets(cache, tmp_path, capsys):
    import shutil

    from edgespace.calibration._captures import read_capture_set, write_capture_set

    d = tmp_path / "trt"
    write_capture_set([TINY], d)
    name = json.loads((d / "manifest.json").read_text())["models"][0]["name"]
    shutil.copy(DATA / "trtexec_profile_mnv3s_w035_r64.json", d / f"{name}.profile.json")
    shutil.copy(DATA / "trtexec_times_mnv3s_w035_r64.json", d / f"{name}.times.json")
    found = read_capture_set(d)
    assert found.sources == ["tensorrt"] and found.threads is None and found.e2e_from == [f"{name}.times.json"]
    assert found.items[0][2] == read_trtexec_times(DATA / "trtexec_times_mnv3s_w035_r64.json")["latency_p50_ms"]
    # one captured model is too few: exit 2, one line, naming the directory and what is needed
    assert main(["calibrate", "--from", str(d)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "1 captured model(s); need at least 3" in err
    (d / "manifest.json").write_text(json.dumps({"format": "edgespace-captures/1", "models": [{"name": "x"}]}))
    with pytest.raises(IngestError, match=r"models\[0\]: expected keys 'name' and 'spec'"):
        read_capture_set(d)
    assert main(["calibrate", "--from", str(tmp_path / "empty-dir-that-is-missing")]) == 2
    assert "not a directory" in capsys.readouterr().err
    (tmp_path / "nomanifest").mkdir()
    assert main(["calibrate", "--from", str(tmp_path / "nomanifest")]) == 2
    assert "manifest.json: no such file; a capture set is written by `edgespace export" in capsys.readouterr().err


def test_cli_export_writes_a_capture_set_and_says_how_to_capture(cache, tmp_path, capsys):
    d = tmp_path / "set"
    argv = ["export", "--family", "mobilenetv3_small", "--width", "0.35", "--resolution", "64", "--capture-set", str(d)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "trtexec --onnx=" in out and f"edgespace calibrate --profile PROFILE --from {d}" in out
    models = json.loads((d / "manifest.json").read_text())["models"]
    assert [m["spec"] for m in models] == [TINY.to_dict()]
    # a second export extends the set; nothing already written is lost
    assert (
        main(
            [
                "export",
                "--family",
                "efficientnet",
                "--width",
                "0.35",
                "--depth",
                "0.5",
                "--resolution",
                "64",
                "--capture-set",
                str(d),
            ]
        )
        == 0
    )
    assert len(json.loads((d / "manifest.json").read_text())["models"]) == 2
    for bad, needle in (
        (["export", "--capture-set", str(d)], "either --samples N"),
        (["export", "--samples", "2", "--capture-set", str(d)], "--samples 2"),
        (["export", "--samples", "3", "--families", "resnet", "--capture-set", str(d)], "unknown ['resnet']"),
    ):
        assert main(bad) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and needle in err


def test_meters_fall_back_to_null_and_rapl_reads_a_fake_powercap(tmp_path):
    assert isinstance(get_meter("none"), NullMeter)
    w = NullMeter("because").end_window(NullMeter().begin_window())
    assert w.energy_mj is None and w.energy_unavailable_reason == "because" and w.avg_power_w is None
    dom = tmp_path / "intel-rapl:0"
    dom.mkdir()
    (dom / "energy_uj").write_text("999000000")
    (dom / "max_energy_range_uj").write_text("1000000000")
    assert RaplMeter.is_available(root=tmp_path)
    meter = RaplMeter(root=tmp_path)
    token = meter.begin_window()
    (dom / "energy_uj").write_text("2000000")  # wrapped: 1 J to the top, then 2 J
    time.sleep(0.002)  # longer than RAPL's 1 ms update period
    assert meter.end_window(token).energy_mj == pytest.approx(3000.0)
    assert not RaplMeter.is_available(root=tmp_path / "missing")
    with pytest.raises(ValueError, match="meter='x'"):
        get_meter("x")


def test_cli_calibrate_runs_the_loop(cache, tmp_path, capsys):
    out = tmp_path / "cal.json"
    rc = main(
        ["calibrate", "--samples", "3", "--families", "mobilenetv3_small", "--rounds", "2", "--out", str(out), "--json"]
    )
    assert rc == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["path"] == str(out) and printed["provenance"]["networks"] == 3
    assert load_calibration(out).provenance["threads"] == 1


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["calibrate", "--samples", "2"], "samples=2"),
        (["calibrate", "--samples", "x"], "--samples: invalid int value: 'x'"),
        (["calibrate", "--threads", "0"], "--threads 0"),
        (["calibrate", "--families", "resnet"], "unknown ['resnet']"),
        (["calibrate", "--profile", "no-such-device", "--samples", "3"], "no-such-device"),
    ],
)
def test_cli_calibrate_bad_input_exits_2_with_one_line(argv, needle, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and needle in err


def test_public_names_are_lazy():
    import subprocess
    import sys

    code = (
        "import sys, edgespace; assert 'onnxruntime' not in sys.modules; "
        "edgespace.confirm, edgespace.calibrate, edgespace.estimate; "
        "assert 'torch' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parent.parent)

"""Real runs on the phone runtimes (LiteRT and ExecuTorch, XNNPACK on this CPU) through confirm()."""

from __future__ import annotations

import pytest

from edgespace import ArchSpec, SpecError, confirm

pytest.importorskip("executorch", reason="the phone extra is not installed (pip install 'edgespace[phone]')")

SPEC = ArchSpec("mobilenetv3_small", 0.5, 1.0, 96)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A fresh cache directory; the LiteRT converter interpreter, where one is cached, is kept."""
    from edgespace.exporters._litert_env import converter_python

    found = converter_python()
    mp = pytest.MonkeyPatch()
    if found is not None:
        mp.setenv("EDGESPACE_LITERT_PYTHON", str(found))
    mp.setenv("EDGESPACE_CACHE_DIR", str(tmp_path_factory.mktemp("edgespace-cache")))
    yield found
    mp.undo()


@pytest.mark.parametrize("backend", ["executorch", "litert"])
@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_confirm_on_a_phone_runtime_measures_latency(cache, backend, precision, request):
    if backend == "litert":
        request.getfixturevalue("litert_converter")  # skips (or, in CI, fails) without the converter
    m = confirm(SPEC, backend=backend, precision=precision, threads=1, runs=30, rounds=3)
    assert m.backend == backend and m.provider == "XNNPACK" and m.precision == precision and m.threads == 1
    assert m.runs == 30 and m.rounds == 3 and len(m.round_medians_ms) == 3
    assert 0 < m.latency_min_ms <= m.latency_p50_ms <= m.latency_p99_ms
    assert m.latency_robust_ms == min(m.round_medians_ms)
    assert m.runtime_version.startswith("executorch" if backend == "executorch" else "ai-edge-litert")
    assert m.model_path.endswith(".pte" if backend == "executorch" else ".tflite")
    assert m.peak_activation_bytes is None and "not reported" in m.memory_source
    assert (m.energy_mj is None) == (m.energy_unavailable_reason is not None)


def test_phone_backends_refuse_what_they_cannot_run(cache):
    with pytest.raises(SpecError, match="allowed for backend 'litert'; allowed: fp32, int8"):
        confirm(SPEC, backend="litert", precision="fp16")
    with pytest.raises(SpecError, match="model= is not supported"):
        confirm(SPEC, backend="executorch", model=object())
    with pytest.raises(SpecError, match="image folder or None"):
        confirm(SPEC, backend="executorch", precision="int8", calibration_data=[1, 2])


def test_executorch_confirm_profiles_operators_and_calibrates_per_segment(cache):
    # the event tracer's per-operator times (XNNPACK's own) come with the timed run, and the
    # calibration door places them on the layer table's segments instead of splitting a total
    from edgespace import layer_table
    from edgespace.calibration import map_ordered_ops
    from edgespace.calibration._e2e import is_e2e_only

    m = confirm(SPEC, backend="executorch", threads=1, runs=20, rounds=2, profile_runs=3)
    prof = m.node_profile
    assert prof is not None and prof.meta["tool"] == "etdump" and prof.runs == 3
    assert any(n.op_type.startswith("Convolution (NHWC, F32)") for n in prof.nodes)
    assert any("per-operator times: etdump" in n for n in m.notes) and not is_e2e_only(m)
    mapped = map_ordered_ops(list(prof.nodes), layer_table(SPEC))
    assert (mapped["anchor"] >= 0).sum() == layer_table(SPEC)["op"].isin(
        ["conv", "depthwise", "pointwise", "linear"]
    ).sum()


def test_phone_capture_set_round_trip_on_this_cpu(cache, tmp_path, capsys):
    # write the capture set with the CLI, "capture" it as the phone would (ExecuTorch's runtime
    # with its event tracer, here), and read the ETDump back next to its spec
    import json

    import numpy as np
    import torch
    from executorch.extension.pybindings.portable_lib import _load_for_executorch

    from edgespace.calibration import read_capture_set
    from edgespace.cli import main

    d = tmp_path / "phone"
    argv = ["export", "--capture-set", str(d), "--format", "executorch", "--family", SPEC.family]
    argv += ["--width", str(SPEC.width), "--depth", str(SPEC.depth), "--resolution", str(SPEC.resolution)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    doc = json.loads((d / "manifest.json").read_text())
    (entry,) = doc["models"]
    assert doc["runtime"] == "executorch" and entry["model"].endswith(".pte") and (d / entry["model"]).is_file()
    assert f"--etdump_path={entry['name']}.etdp" in entry["capture"]["command"] and "executor_runner" in out
    assert read_capture_set(d).missing == [entry["name"]]  # nothing captured yet
    module = _load_for_executorch(str(d / entry["model"]), enable_etdump=True, debug_buffer_size=0)
    frame = torch.from_numpy(np.zeros((1, 3, SPEC.resolution, SPEC.resolution), dtype=np.uint8))
    for _ in range(3):
        module.forward([frame])
    module.write_etdump_result_to_file(str(d / f"{entry['name']}.etdp"))
    found = read_capture_set(d)
    ((spec, prof, e2e),) = found.items
    assert spec == SPEC and found.sources == ["executorch"] and e2e == prof.meta["latency_ms"] > 0
    # a capture set holds one runtime; a bad format is refused with the allowed ones
    assert main(["export", "--capture-set", str(d), "--format", "onnx", "--family", SPEC.family]) == 2
    assert "capture set for executorch" in capsys.readouterr().err
    assert main(["export", "--capture-set", str(d), "--format", "coreml", "--family", SPEC.family]) == 2
    assert "allowed: onnx, litert, executorch" in capsys.readouterr().err

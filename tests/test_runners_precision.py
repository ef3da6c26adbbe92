"""The fp16 probe says what went wrong when it cannot run, instead of answering "unsupported"."""

from __future__ import annotations

import json

import pytest

from edgespace import UnavailableError
from edgespace._precision import fp16_supported


def test_a_probe_on_a_missing_provider_says_so_instead_of_answering_for_the_cpu():
    # ONNX Runtime itself would fall back to the CPU with a warning; the probe must not
    with pytest.raises(
        UnavailableError,
        match="fp16 probe on NoSuchExecutionProvider: the provider is not available here; available: .*CPUExecutionProvider",
    ):
        fp16_supported("NoSuchExecutionProvider")


def test_a_probe_that_breaks_raises_the_real_error(monkeypatch):
    import onnxruntime as ort

    def broken(*args, **kwargs):
        raise RuntimeError("kernel registry corrupted")

    monkeypatch.setattr(ort, "InferenceSession", broken)
    with pytest.raises(
        UnavailableError,
        match="fp16 probe on CPUExecutionProvider: could not run: RuntimeError: kernel registry corrupted",
    ):
        fp16_supported("CPUExecutionProvider")


class _ProfiledSession:
    """A session whose profile reports the probe Conv with the given input type (synthetic
    events in ONNX Runtime's profile format)."""

    def __init__(self, tmp_path, input_type: str | None):
        self.path, self.input_type = tmp_path / "probe.json", input_type

    def run(self, *args):
        return None

    def end_profiling(self):
        events = [{"cat": "Session", "name": "model_run", "args": {}}]
        if self.input_type is not None:
            shape = [{input_type: [1, 8, 8, 8]} for input_type in (self.input_type, self.input_type)]
            events.append(
                {
                    "cat": "Node",
                    "name": "probe_conv_kernel_time",
                    "args": {"op_name": "Conv", "input_type_shape": shape},
                }
            )
        self.path.write_text(json.dumps(events))
        return str(self.path)


@pytest.mark.parametrize("input_type, answer", [("float16", True), ("float", False)])
def test_the_probe_answers_by_the_type_the_conv_kernel_ran_on(monkeypatch, tmp_path, input_type, answer):
    import edgespace._ort_session as ort_runner

    monkeypatch.setattr(ort_runner, "make_session", lambda *a, **k: _ProfiledSession(tmp_path, input_type))
    assert fp16_supported("CPUExecutionProvider") is answer


def test_a_cpu_profile_without_conv_kernels_is_not_fp16_support(monkeypatch, tmp_path):
    import edgespace._ort_session as ort_runner

    monkeypatch.setattr(ort_runner, "make_session", lambda *a, **k: _ProfiledSession(tmp_path, None))
    assert fp16_supported("CPUExecutionProvider") is False


def test_the_real_cpu_probe_agrees_with_the_fp16_conversion(tmp_path):
    """The real answer here decides what convert_fp16 does: a copy, or the reason it refuses."""
    from onnx import TensorProto, helper, save

    from edgespace._precision import Fp16UnavailableError, convert_fp16

    supported = fp16_supported("CPUExecutionProvider")
    assert isinstance(supported, bool)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 4, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    w = helper.make_tensor("w", TensorProto.FLOAT, [4, 4, 1, 1], [1.0] * 16)
    g = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"])], "g", [x], [y], [w])
    path = tmp_path / "conv.onnx"
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    if supported:
        assert convert_fp16(path, "CPUExecutionProvider").exists()
    else:
        with pytest.raises(Fp16UnavailableError):
            convert_fp16(path, "CPUExecutionProvider")

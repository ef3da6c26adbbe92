"""The fp16 probe says what went wrong when it cannot run, instead of answering "unsupported"."""

from __future__ import annotations

import pytest

from edgespace import UnavailableError
from edgespace.runners._precision import fp16_supported


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


def test_the_cpu_probe_answers():
    assert fp16_supported("CPUExecutionProvider") in (True, False)  # runs without raising here

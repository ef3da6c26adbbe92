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
def test_confirm_on_a_phone_runtime_measures_latency(cache, backend, precision):
    if backend == "litert" and cache is None:
        pytest.skip("the LiteRT converter environment is not cached here (export(format='litert') creates it, ~1 GB)")
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

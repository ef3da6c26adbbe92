"""Phone exports (ExecuTorch .pte, LiteRT .tflite, Core ML .mlpackage) with the preprocessing in the
graph, checked against the torch model with the same preprocessing done in numpy.

Tolerances, relative to the largest reference logit magnitude: fp32 5e-4 (float reassociation in
XNNPACK's kernels); int8 by the correlation of the logits with the reference's, at least 0.9
(random-weight networks have nearly flat logits, so their ranks are not a usable check).
"""

from __future__ import annotations

import numpy as np
import pytest

from edgespace import ArchSpec, SpecError, UnavailableError, mobilenet
from edgespace.archs import get_family, list_families

pytest.importorskip("executorch", reason="the phone extra is not installed (pip install 'edgespace[phone]')")

SPECS = {
    "mobilenetv3_large": mobilenet("mobilenetv3_large", 1.0, 224),
    "efficientnet_b0": ArchSpec("efficientnet", 1.0, 1.0, 224),
}
FP32_RTOL = 5e-4


def trained(name: str, tmp_path_factory):
    """A spec, a checkpoint of one random-weight module, that module, and a frame to compare on."""
    import torch

    from edgespace import build

    spec = SPECS[name]
    torch.manual_seed(0)
    model = build(spec)
    # Random weights with BatchNorm's default statistics make EfficientNet's activations vanish
    # (logits ~1e-5, all alike), which no int8 model can reproduce; batch statistics from a few
    # frames give the activation ranges a trained network has.
    model.train()
    with torch.no_grad():
        for _ in range(4):
            model(torch.randn(8, 3, spec.resolution, spec.resolution))
    model.eval()
    ckpt = tmp_path_factory.mktemp(name) / "weights.pt"
    torch.save(model.state_dict(), ckpt)
    frame = np.random.default_rng(1).integers(0, 256, (1, 3, spec.resolution, spec.resolution), dtype=np.uint8)
    return spec, ckpt, model, frame


@pytest.fixture(scope="module")
def networks(tmp_path_factory):
    """Name -> :func:`trained` for every network in ``SPECS``."""
    return {name: trained(name, tmp_path_factory) for name in sorted(SPECS)}


def export_two_at_a_time(jobs: dict) -> dict:
    """``edgespace.export(spec, path, **options)`` for every ``key: (spec, path, options)``, two at a
    time in worker processes (an export is mostly single-threaded). Key -> the exported path, or the
    export's error as a string, for the test that needs it to report."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from edgespace import export

    with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {key: pool.submit(export, spec, path, **options) for key, (spec, path, options) in jobs.items()}
        found = {}
        for key, future in futures.items():
            try:
                found[key] = future.result()
            except Exception as exc:
                found[key] = f"{type(exc).__name__}: {exc}"
    return found


@pytest.fixture(scope="module")
def phone_exports(networks, tmp_path_factory):
    """(name, format, precision) -> the exported file, or the export's error, for every comparison
    below (the eight take about three minutes one after another). LiteRT's only where its converter
    exists."""
    from edgespace.exporters._litert_env import converter_python

    formats = {"executorch": "pte"} | ({"litert": "tflite"} if converter_python() is not None else {})
    out = tmp_path_factory.mktemp("phone-exports")
    return export_two_at_a_time(
        {
            (name, fmt, precision): (
                spec,
                out / f"{name}_{precision}.{ext}",
                dict(format=fmt, precision=precision, checkpoint=ckpt),
            )
            for precision in ("int8", "fp32")  # the slower int8 exports first, so the two workers end together
            for name, (spec, ckpt, _, _) in networks.items()
            for fmt, ext in formats.items()
        }
    )


def exported(phone_exports, name: str, fmt: str, precision: str):
    path = phone_exports[(name, fmt, precision)]
    assert not isinstance(path, str), f"{name} did not export to {fmt} at {precision}: {path}"
    return path


def reference(spec, model, frame) -> np.ndarray:
    """The torch model on the frame preprocessed in numpy: scale to 0-1, subtract mean, divide by std."""
    import torch

    family = get_family(spec.family)
    mean = np.array(family.mean, dtype=np.float32).reshape(1, 3, 1, 1)
    std = np.array(family.std, dtype=np.float32).reshape(1, 3, 1, 1)
    x = (frame.astype(np.float32) / 255.0 - mean) / std
    with torch.no_grad():
        return model(torch.from_numpy(x)).numpy()


def check(out: np.ndarray, ref: np.ndarray, precision: str) -> None:
    assert out.shape == ref.shape
    if precision == "fp32":
        err = float(np.abs(out - ref).max()) / float(np.abs(ref).max())
        assert err <= FP32_RTOL, f"fp32 relative error {err:.2e} > {FP32_RTOL}"
    else:
        assert np.corrcoef(out.ravel(), ref.ravel())[0, 1] >= 0.9


def run_pte(path, frame) -> np.ndarray:
    import torch
    from executorch.runtime import Runtime

    method = Runtime.get().load_program(str(path)).load_method("forward")
    return method.execute([torch.from_numpy(frame)])[0].numpy()


def run_tflite(path, frame_nhwc) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(path), num_threads=1)  # XNNPACK is its default CPU delegate
    interp.allocate_tensors()
    (inp,), (out,) = interp.get_input_details(), interp.get_output_details()
    assert inp["dtype"] == np.uint8 and tuple(inp["shape"]) == frame_nhwc.shape
    interp.set_tensor(inp["index"], frame_nhwc)
    interp.invoke()
    return interp.get_tensor(out["index"])


@pytest.mark.parametrize("name", sorted(SPECS))
@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_executorch_pte_matches_torch(name, precision, networks, phone_exports):
    spec, _, model, frame = networks[name]
    path = exported(phone_exports, name, "executorch", precision)
    check(run_pte(path, frame), reference(spec, model, frame), precision)


@pytest.mark.parametrize("name", sorted(SPECS))
@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_litert_tflite_matches_torch(name, precision, litert_converter, networks, phone_exports):
    spec, _, model, frame = networks[name]
    path = exported(phone_exports, name, "litert", precision)
    check(run_tflite(path, frame.transpose(0, 2, 3, 1).copy()), reference(spec, model, frame), precision)


def test_litert_without_a_converter_says_so(tmp_path, monkeypatch):
    from edgespace import export

    monkeypatch.setenv("EDGESPACE_LITERT_PYTHON", str(tmp_path / "no-python"))
    with pytest.raises(UnavailableError, match="EDGESPACE_LITERT_PYTHON.*not a file"):
        export(SPECS["mobilenetv3_large"], tmp_path / "m.tflite", format="litert")


@pytest.fixture(scope="module")
def coreml_packages(tmp_path_factory):
    """Every registered family exported to Core ML at width 0.5, 64 px (which operators a network
    holds does not depend on its size; the fourteen take about 80 s one after another). Family ->
    the package's path, or the export's error."""
    out = tmp_path_factory.mktemp("coreml")
    return export_two_at_a_time(
        {
            family: (ArchSpec(family, width=0.5, resolution=64), out / f"{family}.mlpackage", dict(format="coreml"))
            for family in list_families()
        }
    )


@pytest.mark.parametrize("family", list_families())
def test_every_family_converts_to_coreml(family, coreml_packages):
    """Every registered family, the attention ones (EfficientViT, MobileNetV4 Hybrid) included."""
    import coremltools as ct

    path = coreml_packages[family]
    assert not isinstance(path, str), f"{family} did not convert to Core ML: {path}"
    model = ct.models.MLModel(str(path), skip_model_load=True)
    spec_pb = model.get_spec()
    assert spec_pb.WhichOneof("Type") == "mlProgram"
    assert spec_pb.description.input[0].type.WhichOneof("Type") == "imageType"  # the camera's pixel buffer
    ops = [
        op.type
        for block in spec_pb.mlProgram.functions["main"].block_specializations.values()
        for op in block.operations
    ]
    assert "conv" in ops and ops.count("conv") >= 10


def test_coreml_int8_quantizes_weights_and_prediction_needs_macos(tmp_path):
    import sys

    from edgespace import export
    from edgespace.exporters._coreml import require_macos_for_prediction

    path = export(SPECS["mobilenetv3_large"], tmp_path / "m.mlpackage", format="coreml", precision="int8")
    import coremltools as ct

    spec_pb = ct.models.MLModel(str(path), skip_model_load=True).get_spec()
    ops = [
        op.type
        for block in spec_pb.mlProgram.functions["main"].block_specializations.values()
        for op in block.operations
    ]
    assert "constexpr_affine_dequantize" in ops or "constexpr_blockwise_shift_scale" in ops
    if sys.platform != "darwin":
        with pytest.raises(UnavailableError, match="only on macOS or iOS"):
            require_macos_for_prediction()


def test_the_top_level_export_stays_the_function_once_its_package_is_imported():
    """The exporters live in ``edgespace.exporters``: a subpackage named like the top-level
    function would replace it with the module the moment anything imported the package."""
    import subprocess
    import sys

    code = (
        "import edgespace as es, edgespace.exporters; es.coverage; "
        "assert callable(es.export) and es.export.__module__ == 'edgespace.exporters', es.export"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)


def test_bad_export_arguments_name_what_is_allowed(tmp_path):
    from edgespace import export

    spec = SPECS["mobilenetv3_large"]
    with pytest.raises(SpecError, match="format='tflite'.*allowed: coreml, executorch, litert, onnx"):
        export(spec, tmp_path / "m.tflite", format="tflite")
    with pytest.raises(SpecError, match="precision='fp16'.*executorch exports fp32, int8"):
        export(spec, tmp_path / "m.pte", format="executorch", precision="fp16")
    with pytest.raises(SpecError, match=r"must end in \.mlpackage"):
        export(spec, tmp_path / "m.coreml", format="coreml")


def test_cli_export_one_file_and_bad_format_exit_2(tmp_path, capsys):
    from edgespace.cli import main

    out = tmp_path / "m.onnx"
    assert main(["export", "--family", "mobilenetv3_small", "--resolution", "96", "--out", str(out)]) == 0
    assert out.is_file() and "wrote" in capsys.readouterr().out
    assert main(["export", "--family", "mobilenetv3_small", "--out", str(tmp_path / "m.x"), "--format", "x"]) == 2
    assert "allowed: coreml, executorch, litert, onnx" in capsys.readouterr().err

"""Real models: timm build, local checkpoints, ONNX export with preprocessing in the graph."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from edgespace import ArchSpec, SpecError, build, export_onnx, layer_table
from edgespace.archs import get_family
from edgespace.layers import table_totals


def _reference(model, spec: ArchSpec, image_0_255: np.ndarray) -> np.ndarray:
    """What the exported graph must compute, written out here in torch."""
    family = get_family(spec.family)
    mean = torch.tensor(family.mean).view(1, 3, 1, 1)
    std = torch.tensor(family.std).view(1, 3, 1, 1)
    x = torch.from_numpy(image_0_255.astype(np.float32)) / 255.0
    with torch.no_grad():
        return model((x - mean) / std).numpy()


def _relative_error(ours: np.ndarray, reference: np.ndarray) -> float:
    return float(np.max(np.abs(ours - reference)) / np.max(np.abs(reference)))


def test_build_is_timm_module_with_spec_shape():
    spec = ArchSpec("mobilenetv3_large", 0.75, 1.0, 128, num_classes=17)
    model = build(spec)
    assert not model.training
    assert type(model).__module__.startswith("timm.")
    with torch.no_grad():
        out = model(torch.zeros(2, 3, 128, 128))
    assert tuple(out.shape) == (2, 17)
    assert sum(p.numel() for p in model.parameters()) == table_totals(layer_table(spec))["params"]


@pytest.mark.parametrize(
    "spec, layout, dtype",
    [
        (ArchSpec("mobilenetv3_small", 0.5, 1.0, 96), "nchw", "uint8"),
        (ArchSpec("efficientnet", 0.5, 1.0, 112), "nhwc", "float32"),
        (ArchSpec("mobilenetv2", 0.35, 1.0, 96), "nchw", "float32"),
    ],
    ids=["mnv3s-nchw-uint8", "effnet-nhwc-float32", "mnv2-nchw-float32"],
)
def test_export_onnx_matches_torch(tmp_path, spec, layout, dtype):
    torch.manual_seed(1)
    model = build(spec)
    path = export_onnx(spec, tmp_path / "model.onnx", model=model, layout=layout, input_dtype=dtype)
    onnx.checker.check_model(str(path))
    graph = onnx.load(str(path)).graph
    assert [i.name for i in graph.input] == ["image"] and [o.name for o in graph.output] == ["logits"]
    in_type = graph.input[0].type.tensor_type
    expected_elem = onnx.TensorProto.UINT8 if dtype == "uint8" else onnx.TensorProto.FLOAT
    assert in_type.elem_type == expected_elem
    dims = [d.dim_param or d.dim_value for d in in_type.shape.dim]
    r = spec.resolution
    assert dims == (["batch", 3, r, r] if layout == "nchw" else ["batch", r, r, 3])

    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(3, 3, r, r))  # a batch of 3: the batch axis is dynamic
    reference = _reference(model, spec, image)
    feed = image if layout == "nchw" else image.transpose(0, 2, 3, 1)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    logits = session.run(
        None, {"image": np.ascontiguousarray(feed).astype(np.uint8 if dtype == "uint8" else np.float32)}
    )[0]
    assert logits.shape == (3, spec.num_classes)
    assert _relative_error(logits, reference) <= 1e-4


def test_export_builds_its_own_model_when_none_given(tmp_path):
    spec = ArchSpec("mobilenetv3_small", 0.35, 1.0, 64, num_classes=5)
    path = export_onnx(spec, tmp_path / "sub" / "m.onnx", dynamic_batch=False)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    out = session.run(None, {"image": np.zeros((1, 3, 64, 64), np.uint8)})[0]
    assert out.shape == (1, 5) and np.all(np.isfinite(out))


def test_export_bad_options(tmp_path):
    spec = ArchSpec("mobilenetv2", 0.35, 1.0, 64)
    with pytest.raises(SpecError, match="layout='chwn'.*allowed: nchw, nhwc"):
        export_onnx(spec, tmp_path / "m.onnx", layout="chwn")
    with pytest.raises(SpecError, match="input_dtype='int16'.*allowed: uint8, float32"):
        export_onnx(spec, tmp_path / "m.onnx", input_dtype="int16")
    with pytest.raises(SpecError, match="opset=9.*allowed: 13 to 21"):
        export_onnx(spec, tmp_path / "m.onnx", opset=9)


def test_checkpoint_round_trip_and_errors(tmp_path):
    spec = ArchSpec("mobilenetv3_small", 0.5, 1.0, 64, num_classes=7)
    torch.manual_seed(3)
    trained = build(spec)
    ckpt = tmp_path / "weights.pth"
    torch.save({"state_dict": trained.state_dict()}, ckpt)
    restored = build(spec, checkpoint=ckpt)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(trained(x), restored(x))

    with pytest.raises(SpecError, match="no such file"):
        build(spec, checkpoint=tmp_path / "missing.pth")
    other = ArchSpec("mobilenetv3_small", 0.75, 1.0, 64, num_classes=7)
    with pytest.raises(SpecError, match=r"weights\.pth.*does not match mobilenetv3_small_w0.75"):
        build(other, checkpoint=ckpt)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(SpecError, match="cannot be read"):
        build(spec, checkpoint=garbage)

"""LiteRT (.tflite): converted by litert-torch in its own cached interpreter (see ``_litert_env``),
uint8 NHWC frame in; int8 by litert-torch's PT2E quantizer (symmetric, per-channel weights, static
activations) calibrated on the frames ONNX Runtime's int8 uses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from edgespace._errors import UnavailableError
from edgespace.exporters import Exporter, calibration_frames, preprocessed_module, register_exporter


def _export(spec, path: Path, precision: str, calibration_data, checkpoint) -> Path:
    convert_many([(spec, path)], precision, calibration_data, checkpoint)
    return path


def convert_many(todo, precision: str, calibration_data=None, checkpoint=None, *, timeout_s: float = 3600) -> None:
    """Convert each ``(spec, path)`` of ``todo`` in one run of the converter interpreter."""
    from edgespace.exporters._litert_env import ensure_converter_python

    python = ensure_converter_python()
    jobs, frames = [], []
    for spec, path in todo:
        job = {"spec": spec.to_dict(), "path": str(path), "checkpoint": checkpoint and str(checkpoint)}
        if precision == "int8":
            import numpy as np

            frames_path = Path(path).with_suffix(".calib.npy")
            np.save(frames_path, calibration_frames(spec, "nhwc", calibration_data))
            job["frames"] = str(frames_path)
            frames.append(frames_path)
        jobs.append(job)
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    try:
        proc = subprocess.run(
            [str(python), "-m", "edgespace.exporters._litert"],
            input=json.dumps({"precision": precision, "jobs": jobs}),
            text=True,
            capture_output=True,
            env=env,
            timeout=timeout_s,
        )
    finally:
        for f in frames:
            f.unlink(missing_ok=True)
    missing = [spec for spec, path in todo if not Path(path).is_file()]
    if proc.returncode != 0 or missing:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["(no output)"]
        names = ", ".join(s.short_name() for s in missing) or "?"
        raise UnavailableError(
            f"LiteRT conversion of {names} ({precision}) failed in the converter interpreter {python}: {tail[0]}"
        )


def _child() -> None:  # pragma: no cover - runs in the converter interpreter
    batch = json.loads(sys.stdin.read())
    for job in batch["jobs"]:
        _convert_one(job, batch["precision"])


def _convert_one(job: dict, precision: str) -> None:  # pragma: no cover - runs in the converter interpreter
    import litert_torch
    import numpy as np
    import torch

    from edgespace._spec import ArchSpec

    spec = ArchSpec(**job["spec"])
    wrapped, example = preprocessed_module(spec, "nhwc", job["checkpoint"])
    kwargs = {}
    if precision == "int8":
        from litert_torch.quantize.pt2e_quantizer import PT2EQuantizer, get_symmetric_quantization_config
        from litert_torch.quantize.quant_config import QuantConfig
        from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

        quantizer = PT2EQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True, is_dynamic=False))
        prepared = prepare_pt2e(torch.export.export(wrapped, (example,)).module(), quantizer)
        with torch.no_grad():
            for frame in np.load(job["frames"]):
                prepared(torch.from_numpy(frame[None]))
        wrapped = convert_pt2e(prepared, fold_quantize=False)
        kwargs["quant_config"] = QuantConfig(pt2e_quantizer=quantizer)
    with torch.no_grad():
        edge = litert_torch.convert(wrapped, (example,), **kwargs)
    tmp = job["path"] + ".tmp"
    edge.export(tmp)
    os.replace(tmp, job["path"])


register_exporter(Exporter("litert", ".tflite", "nhwc", ("fp32", "int8"), _export, "converted in its own interpreter"))

if __name__ == "__main__":  # pragma: no cover
    _child()

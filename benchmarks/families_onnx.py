"""Every newer family exports and runs in ONNX Runtime here, at fp32 and at int8.

    python benchmarks/families_onnx.py                    # width 0.5, 96 px (a few minutes)
    python benchmarks/families_onnx.py --width 1.0 --resolution 224

For each family of :data:`search_families.NEWER` (EfficientNetV2, MobileNetV4 Conv and Hybrid,
EfficientViT B0-B3) one network with random weights is built, exported to ONNX with the uint8
frame input and its preprocessing in the graph, and run by ONNX Runtime's CPU provider; its logits
are compared with the torch model's on the same frames. It is then quantised to static QDQ int8
(ONNX Runtime's quantiser, per-channel weights, 8 frames to calibrate) and run. Stored per family
and precision: the largest logit difference to torch (fp32), the QuantizeLinear count (int8),
the operator types in the graph, and the median latency of ``--runs`` calls at one thread with
its spread (the machine may be shared: the JSON keeps the load average). Writes
``benchmarks/results/families_onnx.json``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import write_result  # noqa: E402
from search_families import NEWER  # noqa: E402

import edgespace as es  # noqa: E402
from edgespace._precision import quantize_int8  # noqa: E402
from edgespace.archs import get_family  # noqa: E402


def _time_ms(sess, feed: dict, runs: int) -> dict:
    sess.run(None, feed)  # warm-up
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        sess.run(None, feed)
        times.append((time.perf_counter() - t) * 1e3)
    return {"median_ms": statistics.median(times), "min_ms": min(times), "max_ms": max(times)}


def one(family: str, width: float, resolution: int, runs: int, work: Path) -> dict:
    import onnx
    import onnxruntime as ort
    import torch

    spec = es.ArchSpec(family, width, 1.0, resolution)
    torch.manual_seed(0)
    model = es.build(spec)
    path = es.export_onnx(spec, work / f"{family}.onnx", model=model)
    images = np.random.default_rng(0).integers(0, 256, size=(8, 3, resolution, resolution)).astype(np.uint8)
    fam = get_family(family)
    with torch.no_grad():
        x = torch.from_numpy(images[:2]).float() / 255.0
        x = (x - torch.tensor(fam.mean).view(1, 3, 1, 1)) / torch.tensor(fam.std).view(1, 3, 1, 1)
        reference = model(x).numpy()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    out = {"spec": spec.to_dict()}
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    logits = sess.run(None, {"image": images[:2]})[0]
    graph = onnx.load(str(path)).graph
    out["fp32"] = {
        "max_abs_diff_to_torch": float(np.abs(logits - reference).max()),
        "max_abs_logit": float(np.abs(reference).max()),
        "op_types": sorted({n.op_type for n in graph.node}),
        **_time_ms(sess, {"image": images[:1]}, runs),
    }
    q_path = quantize_int8(path, images, work / f"{family}_int8.onnx")
    q_sess = ort.InferenceSession(str(q_path), opts, providers=["CPUExecutionProvider"])
    q = q_sess.run(None, {"image": images[:2]})[0]
    q_graph = onnx.load(str(q_path)).graph
    out["int8"] = {
        "finite": bool(np.isfinite(q).all()),
        "shape": list(q.shape),
        "quantize_linear_nodes": sum(n.op_type == "QuantizeLinear" for n in q_graph.node),
        "op_types": sorted({n.op_type for n in q_graph.node}),
        **_time_ms(q_sess, {"image": images[:1]}, runs),
    }
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=float, default=0.5)
    ap.add_argument("--resolution", type=int, default=96)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--families", default=",".join(NEWER))
    args = ap.parse_args(argv)
    from rich.progress import track

    load_start = os.getloadavg()
    results, failed = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for family in track(args.families.split(","), description="export, run, quantise, run"):
            try:
                results[family] = one(family, args.width, args.resolution, args.runs, Path(tmp))
            except Exception as exc:  # noqa: BLE001 - a family that fails is stored as failed, said
                failed[family] = f"{type(exc).__name__}: {exc}"
            r = results.get(family)
            print(
                f"{family:28s} "
                + (
                    f"fp32 {r['fp32']['median_ms']:.2f} ms (diff {r['fp32']['max_abs_diff_to_torch']:.1e}), "
                    f"int8 {r['int8']['median_ms']:.2f} ms ({r['int8']['quantize_linear_nodes']} QuantizeLinear)"
                    if r
                    else f"FAILED {failed[family]}"
                ),
                flush=True,
            )
    path = write_result(
        "families_onnx",
        {
            "width": args.width,
            "resolution": args.resolution,
            "runs": args.runs,
            "threads": 1,
            "load_average_start": load_start,
            "load_average_end": os.getloadavg(),
            "families": results,
            "failed": failed,
        },
    )
    print(f"wrote {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

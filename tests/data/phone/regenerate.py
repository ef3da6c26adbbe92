"""Regenerate the ExecuTorch ETDumps and the LiteRT model in this folder (see SOURCES.md).

    python tests/data/phone/regenerate.py

Each ETDump is what ExecuTorch's runtime writes with its event tracer on: the program exported by
``edgespace.export(spec, ..., format="executorch")`` (fp32, XNNPACK), run 5 times at 1 thread by
ExecuTorch's Python runtime, dumped with ``write_etdump_result_to_file`` (the same file
``executor_runner --etdump_path`` writes on a phone). The .tflite is ``edgespace.export(...,
format="litert", precision="int8")`` of a 10-class network, through the LiteRT converter's own
interpreter. Timings inside the ETDumps are of the machine that ran this script.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

ETDUMP_SPECS = {
    "etdump_mobilenetv3_small_w0.35_d0.5_r64.etdp": ("mobilenetv3_small", 0.35, 0.5, 64),
    "etdump_mobilenetv2_w0.35_d0.5_r64.etdp": ("mobilenetv2", 0.35, 0.5, 64),
    "etdump_efficientnet_w0.35_d0.5_r64.etdp": ("efficientnet", 0.35, 0.5, 64),
}
TFLITE = ("litert_mobilenetv3_small_w0.35_d0.5_r64_c10_int8.tflite", ("mobilenetv3_small", 0.35, 0.5, 64), 10)


def main() -> int:
    import torch
    from executorch.extension.pybindings.portable_lib import _load_for_executorch, _unsafe_reset_threadpool

    from edgespace import ArchSpec
    from edgespace.exporters import cached_phone_model, export

    _unsafe_reset_threadpool(1)
    for name, (family, width, depth, res) in ETDUMP_SPECS.items():
        pte = cached_phone_model(ArchSpec(family, width, depth, res), "executorch", "fp32")
        module = _load_for_executorch(str(pte), enable_etdump=True, debug_buffer_size=0)
        frame = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (1, 3, res, res), dtype=np.uint8))
        for _ in range(5):
            module.forward([frame])
        module.write_etdump_result_to_file(str(HERE / name))
        print("wrote", name)
    name, (family, width, depth, res), classes = TFLITE
    with tempfile.TemporaryDirectory() as tmp:
        out = export(ArchSpec(family, width, depth, res, "int8", classes), Path(tmp) / "m.tflite", format="litert")
        (HERE / name).write_bytes(out.read_bytes())
    print("wrote", name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

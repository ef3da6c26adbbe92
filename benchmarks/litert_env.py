"""What the LiteRT converter's own interpreter costs from scratch: creating it, and the first
conversion through it (what a clean CI machine would pay before any LiteRT export test).

    python benchmarks/litert_env.py            # writes benchmarks/results/litert_env.json

Creates the environment in a fresh temporary cache directory (``EDGESPACE_CACHE_DIR``), so the
cached one is neither used nor touched, then converts one small network (MobileNetV3-Small,
width 0.5, depth 0.5, 64 px, fp32) and times each step; the disk the environment takes is
stored too. pip installs from whatever index the machine is configured with, so the time
depends on the network to it. The load average before and after is stored with the result.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _results import write_result  # noqa: E402


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def main(argv=None) -> int:
    load_before = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="edgespace-litert-env-"))
    env = dict(os.environ, EDGESPACE_CACHE_DIR=str(tmp))
    env.pop("EDGESPACE_LITERT_PYTHON", None)
    code_env = "from edgespace.exporters._litert_env import ensure_converter_python as f; print(f())"
    code_convert = (
        "import sys, edgespace as es; "
        "es.export(es.ArchSpec('mobilenetv3_small', 0.5, 0.5, 64), sys.argv[1], format='litert')"
    )
    try:
        t0 = time.time()
        subprocess.run([sys.executable, "-c", code_env], env=env, check=True, cwd=ROOT)
        t_env = time.time() - t0
        disk = _du(tmp / "litert-converter-env")
        t1 = time.time()
        subprocess.run([sys.executable, "-c", code_convert, str(tmp / "m.tflite")], env=env, check=True, cwd=ROOT)
        t_convert = time.time() - t1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    load_after = os.getloadavg()
    doc = {
        "what": "seconds to create the LiteRT converter's interpreter from scratch, and to convert one small network",
        "create_env_s": round(t_env, 1),
        "first_conversion_s": round(t_convert, 1),
        "env_disk_mb": round(disk / 1e6),
        "network": "mobilenetv3_small width 0.5 depth 0.5 64 px fp32",
        "load_average_1min": {"before": load_before[0], "after": load_after[0], "cores": os.cpu_count()},
        "machine_busy": max(load_before[0], load_after[0]) > (os.cpu_count() or 1) / 2,
    }
    path = write_result("litert_env", doc, argv[0] if argv else None)
    print(f"environment {t_env:.0f} s ({disk / 1e6:.0f} MB), first conversion {t_convert:.0f} s; wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

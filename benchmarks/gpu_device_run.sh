#!/usr/bin/env bash
# The GPU fidelity benchmark on an NVIDIA GPU machine, in one command, from the repository root:
#
#     OUT=/some/folder bash benchmarks/gpu_device_run.sh
#
# For a machine that has Python 3.12 with torch (CUDA), timm, onnx, nvidia-ml-py, numpy, pandas,
# scipy and pyyaml but not pydantic, and no network: the wheels in .whl/ (pydantic and what it
# needs, fetched beforehand with `pip download`) are installed into /tmp/site. Writes into $OUT:
#   gpu_fidelity_runs.jsonl  every run as it completes (a killed run keeps them)
#   gpu_fidelity.json        the result (machine, command, date, figures, meets and why)
#   gpu_fidelity.log         this script's output
#   nvidia_smi.txt           the GPU before the run
# Wall time: 4.5 to 5.5 minutes, at most 5.8 (the benchmark stops measuring at --budget-s and writes what it has).
# Back home: python benchmarks/gpu_fidelity.py --from-runs gpu_fidelity_runs.jsonl --check gpu_fidelity.json
#
# Rehearsal anywhere (the same steps, the benchmark's --dry-run on the CPU): DRY_RUN=1, with
# PYTHON (default python3) and WHEELS (default .whl) pointing at what that machine has.
set -u
: "${OUT:?set OUT to the folder the results go to}"
mkdir -p "$OUT"
LOG="$OUT/gpu_fidelity.log"
exec > >(tee -a "$LOG") 2>&1

echo "== $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname); $(${PYTHON:-python3} --version 2>&1)"
echo "== commit: $(git rev-parse HEAD 2>/dev/null || echo 'no git metadata in this copy')"

PY="${PYTHON:-python3}"
WHEELS="${WHEELS:-.whl}"
SITE=/tmp/site
if ls "$WHEELS"/*.whl >/dev/null 2>&1; then
    if ! "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" "$WHEELS"/*.whl; then
        echo "== pip could not install the wheels; unpacking them instead (a wheel is a zip archive)"
        mkdir -p "$SITE"
        for w in "$WHEELS"/*.whl; do "$PY" -m zipfile -e "$w" "$SITE"; done
    fi
else
    echo "== no $WHEELS/ folder here: using the machine's own packages"
fi
export PYTHONPATH="$SITE:."
export PYTHONUNBUFFERED=1
export EDGESPACE_CACHE_DIR=/tmp/edgespace-cache
export TORCHINDUCTOR_CACHE_DIR=/tmp/edgespace-cache/inductor

{
    nvidia-smi
    nvidia-smi --query-gpu=index,name,uuid,pci.bus_id,driver_version,power.limit,power.draw,temperature.gpu,clocks.sm,clocks.max.sm,memory.used --format=csv
} > "$OUT/nvidia_smi.txt" 2>&1
cat "$OUT/nvidia_smi.txt"

"$PY" - <<'EOF'
import importlib

for name in ("pydantic", "pynvml", "numpy", "pandas", "scipy", "yaml"):
    try:
        print(f"== {name} {getattr(importlib.import_module(name), '__version__', '?')}")
    except Exception as exc:  # said here, before the benchmark needs it
        print(f"== {name}: NOT importable: {exc}")
EOF

# 22 networks x batches 1 and 32 (fp16, unfused CUDA graphs), then 3 networks compiled (fused), last.
if [ "${DRY_RUN:-0}" = 1 ]; then
    ARGS=(--dry-run --networks 10 --batches 1,4 --fused 2 --budget-s 280)
else
    ARGS=(--networks 22 --batches 1,32 --fused 3 --budget-s 310)
fi
timeout -k 10 335 "$PY" benchmarks/gpu_fidelity.py --out-dir "$OUT" --precision fp16 "${ARGS[@]}"
rc=$?
echo "== benchmark exit status $rc at $(date -u +%H:%M:%SZ)"
[ -f "$OUT/gpu_fidelity.tmp" ] && rm -f "$OUT/gpu_fidelity.tmp"
ls -la "$OUT"
exit $rc

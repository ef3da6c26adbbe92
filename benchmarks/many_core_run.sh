#!/usr/bin/env bash
# Two measurements on one many-core machine at once, from the repository root:
#
#     OUT=/some/folder bash benchmarks/many_core_run.sh
#
# 1. The few-shot calibration benchmark measured quietly: one ONNX Runtime process per physical
#    core (1 thread each, all but two cores), every network reference-paired within its process
#    (benchmarks/_sharded.py). Writes few_shot.json and the runs file few_shot_runs.json.gz, which
#    any machine refits with `python benchmarks/few_shot.py ... --from-runs few_shot_runs.json.gz`.
# 2. Where torch sees a CUDA device: the GPU fidelity benchmark on the two cores kept back
#    (gpu_fidelity.json, gpu_fidelity_runs.jsonl), its draw over every default family.
#
# For a machine with Python, torch, onnx, onnxruntime, numpy, pandas, scipy, scikit-learn and
# pyyaml but no network: wheels in .whl/ (pydantic and what it needs, timm) are installed into a
# temporary folder first. Wall time: about 5 to 7 minutes on 16 cores; each part stops at its own limit.
# Rehearsal on a small machine: FEW_SHOT_ARGS="--quick --sizes 4 --seeds 1 --rounds 2" FEW_SHOT_TEST=4.
set -u
: "${OUT:?set OUT to the folder the results go to}"
mkdir -p "$OUT"
exec > >(tee -a "$OUT/many_core.log") 2>&1
PY="${PYTHON:-python3}"
SCRATCH=$(mktemp -d)
echo "== $(date -u +%H:%M:%SZ) $(nproc) CPUs; $("$PY" --version 2>&1)"
WHEELS="${WHEELS:-.whl}"
if ls "$WHEELS"/*.whl >/dev/null 2>&1; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SCRATCH/site" "$WHEELS"/*.whl ||
        for w in "$WHEELS"/*.whl; do "$PY" -m zipfile -e "$w" "$SCRATCH/site"; done
    export PYTHONPATH="$SCRATCH/site:."
else
    export PYTHONPATH="."
fi
export PYTHONUNBUFFERED=1 EDGESPACE_CACHE_DIR="$SCRATCH/cache" OMP_NUM_THREADS=1
"$PY" -c "import pydantic, timm, onnxruntime, torch; print('== pydantic', pydantic.VERSION, 'timm', timm.__version__, 'ort', onnxruntime.__version__, 'torch', torch.__version__, 'cuda', torch.cuda.is_available())"

cpus=$("$PY" -c "import os; print(len(os.sched_getaffinity(0)))")
gpu_pid=""
if "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    nvidia-smi --query-gpu=name,driver_version,power.draw,temperature.gpu,clocks.sm --format=csv > "$OUT/nvidia_smi.txt" 2>&1
    taskset -c "$((cpus - 2)),$((cpus - 1))" timeout -k 10 "${GPU_LIMIT_S:-300}" "$PY" benchmarks/gpu_fidelity.py \
        --out-dir "$OUT" --precision fp16 --networks "${GPU_NETWORKS:-28}" --batches 1,32 --fused 0 \
        --budget-s "${GPU_BUDGET_S:-250}" > "$OUT/gpu_fidelity.log" 2>&1 &
    gpu_pid=$!
    shards=$((cpus - 2))
else
    shards=$cpus
fi
shards=$((shards / ${SHARD_DIVISOR:-1}))
taskset -c "0-$((shards - 1))" timeout -k 10 "${FEW_SHOT_LIMIT_S:-420}" "$PY" benchmarks/few_shot.py \
    --shards "$shards" --jobs "$shards" --test "${FEW_SHOT_TEST:-72}" ${FEW_SHOT_ARGS:-} --json "$OUT/few_shot.json" --runs-file "$OUT/few_shot_runs.json.gz"
echo "== few_shot exit $? at $(date -u +%H:%M:%SZ)"
if [ -n "$gpu_pid" ]; then
    wait "$gpu_pid"
    echo "== gpu_fidelity exit $? at $(date -u +%H:%M:%SZ)"
    tail -n 12 "$OUT/gpu_fidelity.log"
fi
ls -la "$OUT"

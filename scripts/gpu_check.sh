#!/usr/bin/env bash
# The prepared single-GPU check (<= 8 minutes, no network). Fashion-MNIST travels with the code:
#   mkdir -p .data && cp /usr/share/datasets/fashion-mnist/*.gz .data/     (and ignore .data in git)
# then on the GPU machine, from the repository root:
#   bash scripts/gpu_check.sh [OUT_DIR]
# It installs the package into the machine's Python (torch is already there), runs scripts/gpu_check.py
# (each method, ResNet-18, 3 epochs of the 60k train split at batch 512, then kNN + linear probe) and writes
# OUT_DIR/gpu_check.json (default leaderboards/gpu/).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT_DIR=${1:-leaderboards/gpu}
export SSL_BENCH_DATA=${SSL_BENCH_DATA:-$PWD/.data}
export PYTHONUNBUFFERED=1
python3 -m pip install --quiet --no-deps -e . 2>/dev/null || export PYTHONPATH=$PWD
python3 -c "import faiss, timm, sklearn" 2>/dev/null || python3 -m pip install --quiet faiss-cpu timm scikit-learn
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
timeout 450 python3 scripts/gpu_check.py --epochs "${EPOCHS:-3}" --batch-size "${BATCH:-512}" --out "$OUT_DIR/gpu_check.json"

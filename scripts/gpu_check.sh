#!/usr/bin/env bash
# The prepared single-GPU check (at most 10 minutes by its step limits, 12.5 with COMPILE=1; no network). Fashion-MNIST travels with the code:
#   mkdir -p .data && cp /usr/share/datasets/fashion-mnist/*.gz .data/     (.data is git-ignored)
# then on the GPU machine, from the repository root:
#   bash scripts/gpu_check.sh [OUT_DIR]
# Uses the machine's own Python (torch, timm, scikit-learn already there; faiss optional) and writes to OUT_DIR
# (default leaderboards/gpu/): gpu_tests.log (tests/test_gpu.py: the CUDA paths against the CPU),
# gpu_check.json (every method on ResNet-18, 2 epochs of 20,000 training images at batch 512, kNN + linear probe),
# gpu_check_vit.json (every method on ViT-Tiny, MAE and I-JEPA included, 2 epochs of 10,000 images at batch 256),
# throughput.json (model-only / ssl-bench / DataLoader reference loop on the GPU) and, with COMPILE=1,
# gpu_check_compile.json (SimCLR with torch.compile). Each step has its own time limit, so one that overruns loses only itself.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT_DIR=${1:-leaderboards/gpu}
mkdir -p "$OUT_DIR"
export SSL_BENCH_DATA=${SSL_BENCH_DATA:-$PWD/.data} PYTHONUNBUFFERED=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
[ -e "$SSL_BENCH_DATA/train-images-idx3-ubyte.gz" ] || { echo "no Fashion-MNIST in $SSL_BENCH_DATA: copy /usr/share/datasets/fashion-mnist/*.gz there"; exit 2; }
COMMIT=$(cat COMMIT 2>/dev/null || git rev-parse HEAD 2>/dev/null || echo unknown)
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm --format=csv || true
python3 -c "import torch, torchvision, timm, sklearn; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'torchvision', torchvision.__version__, 'timm', timm.__version__)"
step() { local limit=$1; shift; echo "== $* (limit ${limit}s)"; local t0=$SECONDS; timeout "$limit" "$@"; echo "== exit $? after $((SECONDS - t0)) s"; }
step 75 python3 -m pytest -q -p no:cacheprovider tests/test_gpu.py 2>&1 | tee "$OUT_DIR/gpu_tests.log"
step 240 python3 scripts/gpu_check.py --epochs "${EPOCHS:-2}" --subset 20000 --batch-size "${BATCH:-512}" --commit "$COMMIT" --out "$OUT_DIR/gpu_check.json"
step 200 python3 scripts/gpu_check.py --backbone vit-tiny --epochs "${EPOCHS:-2}" --subset 10000 --batch-size 256 --commit "$COMMIT" --out "$OUT_DIR/gpu_check_vit.json"
step 80 python3 scripts/bench_throughput.py --device cuda --backbones resnet18 --batch-size "${BATCH:-512}" --steps 30 --workers 12 --out "$OUT_DIR/throughput.json"
if [ "${COMPILE:-0}" = 1 ]; then step 150 python3 scripts/gpu_check.py --compile --methods simclr --epochs 2 --batch-size "${BATCH:-512}" --no-linear --commit "$COMMIT" --out "$OUT_DIR/gpu_check_compile.json"; fi

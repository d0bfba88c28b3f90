#!/usr/bin/env bash
# Same commands, same seeds, same thread count: run them on two checkouts and compare (a refactor must not move a
# number). Writes OUT/*.json (one per command); with a second OUT, compares every JSON
# result field by field (wall time and memory aside) and every trained weight tensor.
#
#   bash scripts/identity_check.sh run CHECKOUT OUT        # e.g. a git worktree of the old commit, then of the new
#   bash scripts/identity_check.sh compare OUT_BEFORE OUT_AFTER
set -euo pipefail
PY=${PYTHON:-$(pwd)/.venv/bin/python}
case "${1:-}" in
run)
  checkout=$(cd "$2" && pwd); mkdir -p "$3"; out=$(cd "$3" && pwd)
  cd "$checkout"; export OMP_NUM_THREADS=2 PYTHONPATH="$checkout"
  for m in simclr vicreg barlowtwins; do
    rm -rf "$out/run-$m"
    "$PY" -m ssl_bench train --method "$m" --subset 1000 --epochs 2 --out "$out/run-$m" --quiet > /dev/null
    "$PY" -m ssl_bench eval "$out/run-$m" --json > "$out/eval-$m.json"
  done
  for b in raw-pixels random-init; do
    "$PY" -m ssl_bench eval --baseline "$b" --dataset fashion-mnist --subset 1000 --json > "$out/baseline-$b.json"
  done
  "$PY" -m ssl_bench spectral --method laplacian-eigenmaps --subset 1000 --json > "$out/spectral-le.json"
  "$PY" -m ssl_bench spectral --method vicreg-closed-form --graph views --n-views 4 --dim 32 --features nystroem \
    --subset 1000 --json > "$out/spectral-vcf.json"
  "$PY" -m ssl_bench spectral --method barlowtwins-closed-form --graph views --n-views 4 --dim 32 --subset 1000 \
    --json > "$out/spectral-bcf.json"
  ;;
compare)
  "$PY" - "$2" "$3" <<'PY'
import json, sys
from pathlib import Path
import torch
before, after = Path(sys.argv[1]), Path(sys.argv[2])
different = 0
for path in sorted(p for pattern in ("eval-*.json", "baseline-*.json", "spectral-*.json") for p in before.glob(pattern)):
    a, b = (json.loads(p.read_text()) for p in (path, after / path.name))
    for d in (a, b):
        d.pop("wall_time_s", None); d.pop("peak_memory_mb", None); d.pop("stages", None)  # timings
    same = a == b
    different += not same
    print(f"{path.name}: {'identical' if same else 'DIFFERENT'} (kNN {a.get('knn_top1')} / {b.get('knn_top1')})")
for run in sorted(before.glob("run-*")):
    a = torch.load(run / "checkpoint.pt", weights_only=True)["model"]
    b = torch.load(after / run.name / "checkpoint.pt", weights_only=True)["model"]
    same = a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    different += not same
    print(f"{run.name}: weights {'bit-identical' if same else 'DIFFERENT'} ({len(a)} tensors)")
sys.exit(1 if different else 0)
PY
  ;;
*) sed -n 2,8p "$0"; exit 2 ;;
esac

#!/usr/bin/env bash
# Make Fashion-MNIST available: already here -> nothing; else Debian's package when apt can be used; else
# torchvision's download into $SSL_BENCH_DATA (default ~/.cache/ssl-bench).
set -euo pipefail
PY=${1:-python3}
have() { "$PY" -c "from ssl_bench.data.datasets import load_dataset; load_dataset('fashion-mnist', 'test')" 2>/dev/null; }
if have; then echo "Fashion-MNIST: found"; exit 0; fi
if command -v apt-get >/dev/null && { [ "$(id -u)" = 0 ] || sudo -n true 2>/dev/null; }; then
  SUDO=$([ "$(id -u)" = 0 ] && echo "" || echo "sudo -n")
  echo "Fashion-MNIST: installing Debian's dataset-fashion-mnist"
  ($SUDO apt-get update -qq && $SUDO apt-get install -y -qq dataset-fashion-mnist) >/dev/null 2>&1 || true
fi
if have; then echo "Fashion-MNIST: found"; exit 0; fi
echo "Fashion-MNIST: downloading with torchvision"
"$PY" -c "from ssl_bench.data.datasets import load_dataset
for split in ('train', 'test'): load_dataset('fashion-mnist', split, download=True)"

"""One prepared GPU check: train each method with ResNet-18 on Fashion-MNIST for a fixed time budget, then
evaluate; record images/s, peak GPU memory, kNN/linear accuracy and the device name as JSON.

Meant for a single-GPU machine with no network (see scripts/gpu_check.sh for carrying the data along):

    SSL_BENCH_DATA=/path/to/fashion-mnist python scripts/gpu_check.py --out leaderboards/gpu/check.json

Runs on CPU too (``--device cpu --epochs 1 --subset 1024``), which is how it is smoke-tested without a GPU;
its JSON says which device produced it, and only a GPU run belongs under leaderboards/gpu/.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from ssl_bench.config import make_config
from ssl_bench.evaluate import evaluate_run
from ssl_bench.store import hardware_info
from ssl_bench.train import train


def check_method(method: str, args: argparse.Namespace, root: Path) -> dict:
    config = make_config({"method": method, "dataset": "fashion-mnist", "backbone": args.backbone,
                          "epochs": args.epochs, "batch_size": args.batch_size, "subset": args.subset,
                          "device": args.device, "compile": args.compile, "out": str(root / method)})
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    run_dir = train(config, progress=False)
    train_seconds = time.perf_counter() - started
    history = json.loads((run_dir / "metrics.json").read_text())
    peak = torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else None
    started = time.perf_counter()
    result = evaluate_run(run_dir, knn=True, linear=not args.no_linear, device=args.device)
    return {"method": method, "backbone": args.backbone, "epochs": args.epochs, "batch_size": args.batch_size,
            "images_per_s_last_epoch": history[-1]["images_per_s"],
            "images_per_s_best_epoch": max(h["images_per_s"] for h in history),
            "train_seconds": train_seconds, "eval_seconds": time.perf_counter() - started,
            "peak_gpu_memory_gib": peak, "knn_top1": result["knn_top1"], "knn_top1_k20": result["knn_top1_k20"],
            "linear_top1": result["linear_top1"], "final_loss": history[-1]["loss"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", default="simclr,vicreg,barlowtwins")
    parser.add_argument("--backbone", default="resnet18")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--subset", type=int, default=None)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--no-linear", action="store_true")
    parser.add_argument("--out", default="gpu_check.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cells = []
        for method in args.methods.split(","):
            cells.append(check_method(method, args, Path(tmp)))
            print(json.dumps(cells[-1]), flush=True)
    device = torch.cuda.get_device_name() if torch.cuda.is_available() and args.device != "cpu" else "cpu"
    report = {"device": device, "hardware": hardware_info(), "torch": torch.__version__,
              "settings": vars(args), "runs": cells}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()

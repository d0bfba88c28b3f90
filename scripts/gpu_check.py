"""One prepared GPU check: train each method (default: every registered method the backbone can train; the
ViT-only ones, MAE and I-JEPA, on a ViT) on Fashion-MNIST for a fixed budget, then evaluate; record images/s, peak
GPU memory, kNN/linear accuracy and the device name as JSON.

Meant for a single-GPU machine with no network (scripts/gpu_check.sh carries the data along and runs this):

    SSL_BENCH_DATA=/path/to/fashion-mnist python scripts/gpu_check.py --out leaderboards/gpu/gpu_check.json

The JSON is rewritten after every method, so a run cut short keeps what it finished. Runs on CPU too
(``--device cpu --epochs 1 --subset 1024 --backbone mlp``), which is how it is smoke-tested without a GPU; its
JSON says which device produced it, and only a GPU run belongs under leaderboards/gpu/.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

import torch

from ssl_bench.bench.provenance import hardware_info
from ssl_bench.core.devices import resolve_device
from ssl_bench.sources.trained import evaluate_run
from ssl_bench.training.config import make_config
from ssl_bench.training.loop import train


def check_method(method: str, args: argparse.Namespace, root: Path) -> dict:
    config = make_config({"method": method, "dataset": "fashion-mnist", "backbone": args.backbone,
                          "epochs": args.epochs, "batch_size": args.batch_size, "subset": args.subset,
                          "device": args.device, "compile": args.compile, "out": str(root / method)})
    on_cuda = resolve_device(args.device).type == "cuda"
    if on_cuda:
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    run_dir = train(config, progress=False)
    train_seconds = time.perf_counter() - started
    history = json.loads((run_dir / "metrics.json").read_text())
    peak = torch.cuda.max_memory_allocated() / 2**30 if on_cuda else None
    started = time.perf_counter()
    result = evaluate_run(run_dir, ("knn",) if args.no_linear else ("knn", "linear"), device=args.device)
    return {"method": method, "backbone": args.backbone, "epochs": args.epochs, "batch_size": args.batch_size,
            "compile": args.compile, "train_images": args.subset or 60000,
            "images_per_s_per_epoch": [h["images_per_s"] for h in history],
            "images_per_s_after_first_epoch": _mean([h["images_per_s"] for h in history[1:]]),
            "train_seconds": train_seconds, "eval_seconds": time.perf_counter() - started,
            "peak_gpu_memory_gib": peak, "knn_top1": result["knn_top1"], "knn_top1_k20": result["knn_top1_k20"],
            "linear_top1": result.get("linear_top1"), "loss_per_epoch": [h["loss"] for h in history],
            "effective_rank": history[-1]["effective_rank"], "eval_protocol": result["protocol"]}


def method_names(methods: str, backbone: str) -> list[str]:
    """``methods`` split at commas; ``all``: every registered method ``backbone`` can train (the ViT-only ones where
    :func:`~ssl_bench.models.vit_tokens.require_vit` accepts it, as ``make_config`` checks)."""
    from ssl_bench.core.errors import UserError
    from ssl_bench.methods import METHODS
    from ssl_bench.models.backbones import build_backbone
    from ssl_bench.models.vit_tokens import require_vit

    if methods != "all":
        return methods.split(",")
    try:
        require_vit(build_backbone(backbone, 1, 32)[0], "")
        on_vit = True
    except UserError:
        on_vit = False
    return [name for name in METHODS.names() if on_vit or not METHODS.get(name).vit_only]


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", default="all", help="comma-separated, or all (default)")
    parser.add_argument("--backbone", default="resnet18")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--subset", type=int, default=None)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--no-linear", action="store_true")
    parser.add_argument("--commit", default=None, help="the git commit measured (default: git rev-parse HEAD)")
    parser.add_argument("--out", default="gpu_check.json")
    args = parser.parse_args()
    on_cuda = resolve_device(args.device).type == "cuda"
    report = {"device": torch.cuda.get_device_name() if on_cuda else "cpu", "hardware": hardware_info(),
              "torch": torch.__version__, "cuda": torch.version.cuda, "commit": args.commit or _git_commit(),
              "command": "python scripts/gpu_check.py " + " ".join(
                  f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if v not in (None, False)),
              "settings": vars(args), "runs": []}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for method in method_names(args.methods, args.backbone):
            report["runs"].append(check_method(method, args, Path(tmp)))
            out.write_text(json.dumps(report, indent=2) + "\n")
            cell = report["runs"][-1]
            print(f"{method}: {cell['images_per_s_after_first_epoch'] or cell['images_per_s_per_epoch'][-1]:.0f} img/s, "
                  f"kNN {cell['knn_top1']:.4f}, linear {cell['linear_top1'] or float('nan'):.4f}, "
                  f"peak {cell['peak_gpu_memory_gib'] or 0:.2f} GiB, train {cell['train_seconds']:.1f} s", flush=True)


if __name__ == "__main__":
    main()

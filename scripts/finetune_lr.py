"""Fine-tuning's learning rate on one trained run: for each base lr (x batch / 256), the recipe of
ssl_bench.eval.finetune on a fraction of the run's training labels, then the network's accuracy on those labelled
rows and on the test split, beside the probe it starts from (no step). A training accuracy that ends below the
start means the lr makes the network unlearn. Writes JSON.

    python scripts/finetune_lr.py RUN_DIR --lrs 0.05 0.02 0.01 0.005 --fraction 1.0 --out finetune_lr.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from ssl_bench.core.devices import resolve_device
from ssl_bench.data.datasets.base import test_split, train_split
from ssl_bench.eval.few_labels import label_subset
from ssl_bench.eval.finetune import accuracy, fine_tune, starting_network
from ssl_bench.training.run_dir import load_encoder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--lrs", type=float, nargs="+", default=[0.05, 0.02, 0.01, 0.005])
    parser.add_argument("--fraction", type=float, default=1.0, help="of the run's training labels (default 1.0)")
    parser.add_argument("--seed", type=int, default=0, help="the evaluation seed (labels drawn with seed + 1)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, default=Path("finetune_lr.json"))
    args = parser.parse_args()
    device = resolve_device(args.device)
    encoder, config = load_encoder(args.run_dir)
    train = train_split(config.dataset, config.subset, config.seed, config.download)
    test = test_split(config.dataset, None, download=config.download)
    rows = (torch.arange(len(train)) if args.fraction == 1.0
            else label_subset(train.labels, train.num_classes, args.fraction, args.seed + 1, "finetune"))
    images, labels = train.images[rows], train.labels[rows]
    start = starting_network(encoder, images, labels, train.num_classes, args.seed, device).eval()  # no step
    results = [{"base_lr": None, "train_top1": accuracy(start, images, labels, device),
                "test_top1": accuracy(start, test.images, test.labels, device), "seconds": 0.0}]
    print(json.dumps(results[-1]), flush=True)
    for base_lr in args.lrs:
        started = time.perf_counter()
        model = fine_tune(encoder, images, labels, train.num_classes, args.seed, device, base_lr=base_lr)
        results.append({"base_lr": base_lr, "train_top1": accuracy(model, images, labels, device),
                        "test_top1": accuracy(model, test.images, test.labels, device),
                        "seconds": time.perf_counter() - started})
        print(json.dumps(results[-1]), flush=True)
    args.out.write_text(json.dumps({"run_dir": str(args.run_dir), "fraction": args.fraction, "labelled": len(rows),
                                    "device": str(device), "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()

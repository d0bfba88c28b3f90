"""``ssl-bench train``: train one SSL method into a run directory."""

from __future__ import annotations

import argparse
import json

from ssl_bench.config import DATA_LOADING, DEVICES, load_yaml, make_config
from ssl_bench.distributed import is_main_process
from ssl_bench.train import train

NAME = "train"
HELP = "Train SimCLR, VICReg or BarlowTwins on a dataset; checkpoints every epoch, --resume continues."
EXAMPLE = "ssl-bench train --method vicreg --dataset fashion-mnist --backbone convnet --subset 5000 --epochs 10"


def _key_value(text: str) -> tuple[str, object]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key, value = text.split("=", 1)
    import yaml

    return key, yaml.safe_load(value)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="YAML file with the same keys as the options below")
    parser.add_argument("--method", help="simclr | vicreg | barlowtwins")
    parser.add_argument("--dataset", help="dataset name (ssl-bench datasets lists them); default fashion-mnist")
    parser.add_argument("--backbone", help="convnet | mlp | resnet18 | resnet50 | timm:NAME; default convnet")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int, dest="batch_size")
    parser.add_argument("--subset", type=int, help="train on a seeded, class-balanced subset of N images")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--device", choices=DEVICES)
    parser.add_argument("--out", help="run directory (default runs/METHOD-DATASET-BACKBONE[-nSUBSET]-sSEED)")
    parser.add_argument("--optimizer", help="lars | adamw | sgd (default: the method's published choice, LARS)")
    parser.add_argument("--lr", type=float, help="base learning rate for batch 256 (scaled with the batch size)")
    parser.add_argument("--weight-decay", type=float, dest="weight_decay")
    parser.add_argument("--warmup-epochs", type=float, dest="warmup_epochs")
    parser.add_argument("--param", type=_key_value, action="append", default=[], metavar="KEY=VALUE",
                        help="loss parameter or projector_dims, e.g. --param invariance_weight=5")
    parser.add_argument("--augment", type=_key_value, action="append", default=[], metavar="KEY=VALUE",
                        help="augmentation override, e.g. --augment crop_scale=[0.2,1.0]")
    parser.add_argument("--compile", action="store_true", default=None, help="torch.compile the model")
    parser.add_argument("--sync-batchnorm", action="store_true", default=None, dest="sync_batchnorm",
                        help="under torchrun: BatchNorm statistics over all processes (SyncBatchNorm, GPUs only)")
    parser.add_argument("--download", action="store_true", default=None, help="download the dataset if missing")
    parser.add_argument("--data-loading", choices=DATA_LOADING, dest="data_loading",
                        help="memory: decode the split once onto the device; stream: decode imagefolder:PATH batches "
                             "from disk with DataLoader workers; auto (default): stream when the decoded split would "
                             "exceed $SSL_BENCH_MEMORY_BUDGET bytes (8 GiB). Same results either way")
    parser.add_argument("--workers", type=int, help="DataLoader workers when streaming (default: min(8, CPU cores))")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    values = load_yaml(args.config) if args.config else {}
    for key in ("method", "dataset", "backbone", "epochs", "batch_size", "subset", "seed", "device", "out",
                "optimizer", "lr", "weight_decay", "warmup_epochs", "compile", "sync_batchnorm", "download",
                "data_loading", "workers"):
        if getattr(args, key) is not None:
            values[key] = getattr(args, key)
    if args.param:
        values["method_params"] = {**values.get("method_params", {}), **dict(args.param)}
    if args.augment:
        values["augment"] = {**values.get("augment", {}), **dict(args.augment)}
    run_dir = train(make_config(values), resume=args.resume, progress=not args.quiet)
    if is_main_process():
        print(json.dumps({"run_dir": str(run_dir)}))
    return 0

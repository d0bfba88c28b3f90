"""Training throughput (images/s) of ssl-bench against a reference loop built the way lightly's users build it,
plus kNN evaluation time against scikit-learn. Writes one JSON file.

Per method and backbone, in the same process and on the same data (Fashion-MNIST, uint8):
- ``model_only``: forward/backward/step (with the method's hooks) on pre-made views of the method's sizes, global
  and local, and pre-drawn masks for masked-image methods (the limit for this model on this machine);
- ``ssl_bench``: ``ssl_bench.training.loop.train`` itself (batched augmentations on the device, no DataLoader),
  images/s as recorded in metrics.json, averaged over epochs 2 and 3;
- ``reference``: lightly's loss module where lightly holds the method in two-view form (SimCLR, VICReg,
  BarlowTwins; else the method's own forward, the JSON says which), torchvision per-image transforms with the same
  augmentation parameters for every view, a torch DataLoader, the same model, optimiser and batch.
On CUDA all three run as ``train`` does: channels_last, bf16 autocast; the reference's loader pins memory.

    python scripts/bench_throughput.py --out leaderboards/bench/throughput.json
    python scripts/bench_throughput.py --device cuda --backbones resnet18 --batch-size 512 --workers 16 \
        --out leaderboards/gpu/throughput.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ssl_bench.bench.provenance import hardware_info
from ssl_bench.core.devices import resolve_device
from ssl_bench.data.augment import LOCAL, BatchAugment, augment_config
from ssl_bench.data.datasets import balanced_subset, load_dataset
from ssl_bench.methods import METHODS, Progress
from ssl_bench.training.config import make_config
from ssl_bench.training.loop import optimizer_settings, train
from ssl_bench.training.optim import build_optimizer
from ssl_bench.training.run_dir import augment_of, build_model


def reference_transform(config, size: int, view: int):
    """torchvision per-image transforms to ``size`` px with the parameters of our AugmentConfig: global view 0 or 1
    (its blur/solarize), or a local crop (``view`` = LOCAL)."""
    import torchvision.transforms as T

    local = view == LOCAL
    scale = config.local_crop_scale if local else config.crop_scale
    ops = [T.RandomResizedCrop(size, scale=tuple(scale), ratio=tuple(config.crop_ratio)),
           T.RandomHorizontalFlip(config.flip_p),
           T.RandomApply([T.ColorJitter(config.brightness, config.contrast)], p=config.jitter_p)]
    blur_p = config.local_blur_p if local else config.blur_p[view]
    if blur_p > 0:
        ops.append(T.RandomApply([T.GaussianBlur(3, sigma=tuple(config.blur_sigma))], p=blur_p))
    if not local and config.solarize_p[view] > 0:
        ops.append(T.RandomSolarize(128, p=config.solarize_p[view]))
    ops += [T.ToTensor(), T.Normalize(config.mean, config.std)]
    return T.Compose(ops)


class MultiViewDataset(torch.utils.data.Dataset):
    def __init__(self, images: torch.Tensor, transforms) -> None:
        self.images = images.numpy()
        self.transforms = transforms

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int):
        image = Image.fromarray(self.images[index, 0])
        return [transform(image) for transform in self.transforms]


def reference_loss(method: str, model) -> tuple[object | None, str]:
    """lightly's loss module for a two-view ``method`` lightly holds in this form, and its name; (None, ...) where
    the reference loop uses the method's own forward (multi-view methods, or lightly not installed)."""
    try:
        import lightly
        from lightly.loss import BarlowTwinsLoss, NTXentLoss, VICRegLoss
    except ImportError:
        return None, "ssl-bench's own (lightly not installed)"
    losses = {"simclr": lambda: NTXentLoss(temperature=0.2), "vicreg": VICRegLoss,
              "barlowtwins": lambda: BarlowTwinsLoss(lambda_param=5e-3)}
    if method not in losses:
        return None, "ssl-bench's own (the reference loop differs in its data pipeline only)"
    return losses[method](), f"lightly {lightly.__version__}"


def time_steps(step, batches, warmup: int, device: torch.device) -> float:
    """images/s over the batches (lists of views) after ``warmup`` untimed ones (the GPU drained before each
    clock read)."""
    iterator = iter(batches)
    for _ in range(warmup):
        step(next(iterator))
    _synchronize(device)
    count, started = 0, time.perf_counter()
    for views in iterator:
        step(views)
        count += views[0].shape[0]
    _synchronize(device)
    return count / (time.perf_counter() - started)


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bench_cell(method: str, backbone: str, batch: int, steps: int, workers: int, device_name: str) -> dict:
    data = balanced_subset(load_dataset("fashion-mnist", "train"), batch * (steps + 2), 0)
    config = make_config({"method": method, "dataset": "fashion-mnist", "backbone": backbone, "batch_size": batch,
                          "subset": len(data), "epochs": 3, "warmup_epochs": 0, "device": device_name})
    device = resolve_device(device_name)
    on_cuda = device.type == "cuda"
    recipe, overrides = augment_of(config)
    augment = BatchAugment(augment_config(recipe, data, overrides), data.channels, data.image_size)
    cfg = augment.config
    model = build_model(config, data.channels, data.image_size).to(device, memory_format=torch.channels_last if on_cuda else None)
    name, lr, weight_decay = optimizer_settings(config)
    optimizer = build_optimizer(name, model, lr, weight_decay)
    loss_fn, loss_name = reference_loss(method, model)

    mask_generator = torch.Generator(device=device).manual_seed(0)

    def model_step(views, loss_fn=None, masks=None):
        """One optimiser step; a masked-image method's masks drawn here unless given."""
        views = [v.to(device, non_blocking=True, memory_format=torch.channels_last if on_cuda else None) for v in views]
        masks = model.draw_masks(views, mask_generator) if masks is None else masks
        model.before_step(Progress(0, 1, 1))
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=on_cuda):
            loss = (model(views, masks)["loss"] if loss_fn is None
                    else loss_fn(model.embed(views[0]), model.embed(views[1])))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        model.before_optimizer_step(Progress(0, 1, 1))
        optimizer.step()
        model.after_optimizer_step(Progress(1, 1, 1))

    generator = torch.Generator().manual_seed(0)
    views = [torch.randn(batch, 1, augment.size_of(index), augment.size_of(index), generator=generator).to(device)
             for index in augment.view_indices]
    masks = model.draw_masks(views, mask_generator)
    model_only = time_steps(lambda views: model_step(views, masks=masks), [views] * (steps + 2), warmup=2, device=device)

    with tempfile.TemporaryDirectory() as tmp:
        config.out = str(Path(tmp) / "run")
        run_dir = train(config, progress=False)
        epochs = json.loads((run_dir / "metrics.json").read_text())[1:]  # the first epoch warms up
        ours = sum(e["images_per_s"] for e in epochs) / len(epochs)

    transforms = [reference_transform(cfg, augment.size_of(index), index) for index in augment.view_indices]
    loader = torch.utils.data.DataLoader(
        MultiViewDataset(data.images, transforms), batch_size=batch, shuffle=True, drop_last=True,
        num_workers=workers, persistent_workers=False, pin_memory=on_cuda)
    reference = time_steps(lambda views: model_step(views, loss_fn), loader, warmup=2, device=device)
    return {"method": method, "backbone": backbone, "batch_size": batch, "device": str(device),
            "views": {"global": cfg.global_views, "local": cfg.local_views, "local_size": augment.local_size},
            "reference_loss": loss_name, "model_only_img_s": model_only, "ssl_bench_img_s": ours,
            "reference_img_s": reference, "ssl_bench_over_reference": ours / reference,
            "ssl_bench_over_model_only": ours / model_only}


def bench_knn(n_train: int, n_test: int, dim: int, k: int) -> dict:
    """ssl-bench's kNN (its default backend here) against scikit-learn's brute-force cosine kNN on the CPU."""
    from sklearn.neighbors import KNeighborsClassifier

    from ssl_bench.eval.knn import backend_description, knn_predict

    generator = torch.Generator().manual_seed(0)
    train_x, test_x = torch.randn(n_train, dim, generator=generator), torch.randn(n_test, dim, generator=generator)
    train_y = torch.randint(0, 10, (n_train,), generator=generator)
    knn_predict(train_x[:1000], train_y[:1000], test_x[:10], 10, k=k, weighting="majority")  # warm-up
    started = time.perf_counter()
    ours = knn_predict(train_x, train_y, test_x, 10, k=k, weighting="majority")
    ssl_bench_s = time.perf_counter() - started
    started = time.perf_counter()
    theirs = KNeighborsClassifier(k, metric="cosine", algorithm="brute").fit(train_x.numpy(), train_y.numpy())
    predictions = theirs.predict(test_x.numpy())
    sklearn_s = time.perf_counter() - started
    return {"n_train": n_train, "n_test": n_test, "dim": dim, "k": k, "backend": backend_description(),
            "ssl_bench_s": ssl_bench_s, "sklearn_s": sklearn_s, "speedup": sklearn_s / ssl_bench_s,
            "agreement": float(np.mean(ours.numpy() == predictions))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", default=",".join(METHODS.names()), help="default: every registered method")
    parser.add_argument("--backbones", default="convnet,mlp")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=16, help="timed steps per measurement")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers of the reference loop")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--out", default="leaderboards/bench/throughput.json")
    args = parser.parse_args()
    cells = [bench_cell(m, b, args.batch_size, args.steps, args.workers, args.device)
             for b in args.backbones.split(",") for m in args.methods.split(",")
             if b.startswith("vit") or not METHODS.get(m).vit_only]  # masked-image methods train ViTs only
    for cell in cells:
        print(json.dumps(cell))
    result = {"command": "python scripts/bench_throughput.py " + " ".join(
                  f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items()),
              "hardware": hardware_info(), "torch": torch.__version__, "threads": torch.get_num_threads(),
              "python": platform.python_version(), "load_average_before": os.getloadavg(),
              "training": cells, "knn": bench_knn(60000, 10000, 128, 200)}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["knn"]))


if __name__ == "__main__":
    main()

"""Fine-tuning: a trained run's (or an encoder row's) backbone and a new linear head trained end to end on 1%, 10%
and 100% of the train labels (class-balanced subsets drawn with ``seed + 1``), then scored on the test split, as in
the semi-supervised tables of SimCLR and BYOL (there with ImageNet-scale recipes; here one stated recipe that runs
on a CPU at the quick suite's scale).

Recipe (:data:`RECIPE`): a copy of the backbone (the run is not changed) behind its training normalisation, a linear
head initialised with the linear probe of the labelled rows' frozen features (LP-FT, Kumar et al., ICLR 2022:
:func:`~ssl_bench.eval.linear.fit_linear_classifier`, weight decay chosen on a held-out 10% of those rows, its
standardisation folded into the head: W' = W / sigma, b' = b - W' mu); SGD with Nesterov momentum 0.9, one learning
rate for all layers scaled with the batch (0.01 x batch / 256: SimCLR's 0.05, meant for a zero-initialised head,
made the network unlearn from the probe it starts at, its training accuracy falling from 87.2 to 79.4 % on a
5,000-image Fashion-MNIST SimCLR run, 93.4 % at 0.01), weight decay 5e-4 on weights (not on biases and
normalisation), a cosine schedule over :data:`EPOCHS` epochs of the labelled rows (at least :data:`MIN_STEPS`
steps), batch 128 (the labelled rows when fewer), BatchNorm in training mode; no augmentation (the images as they
are). Cross-entropy; the last epoch's network is scored. Transformer backbones (any self-attention layer) have
their gradient clipped to global norm 1, as the ViT paper fine-tunes (Dosovitskiy et al., ICLR 2021, App. B.1.1):
without it the step through the probe's folded head unlearned a 5,000-image MAE ViT-Tiny run on 10% of the labels
(training accuracy 74.8 -> 21.0 %, test 58.3 -> 22.5 %; 75.2 / 58.5 % with it). Convolutional networks are not
clipped (it cost SimCLR's convnet 0.5-0.9 points).
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ssl_bench.core.errors import UserError
from ssl_bench.eval.base import EVALUATIONS, EncoderTarget, Evaluation, MetricColumn, nested_value
from ssl_bench.eval.linear import fit_probe
from ssl_bench.models.features import extract_features

FRACTIONS = (0.01, 0.1, 1.0)
EPOCHS = 10
MIN_STEPS = 50
BATCH = 128
RECIPE = {"optimizer": "SGD, Nesterov momentum 0.9", "lr": 0.01, "lr_scaling": "lr x batch / 256, all layers",
          "weight_decay": 5e-4, "weight_decay_on": "weights (not biases, not normalisation)",
          "schedule": "cosine to 0 over the steps", "epochs": EPOCHS, "min_steps": MIN_STEPS, "batch": BATCH,
          "augmentation": "none",
          "head": "linear, initialised with the linear probe of the labelled rows' frozen features (LP-FT), weight "
                  "decay chosen on a held-out 10% of them, standardisation folded in",
          "scored": "the last epoch's network"}
CLIP_NORM = 1.0


class FineTuned(nn.Module):
    """uint8 images -> class logits: the run's normalising encoder (copied) and a linear head (zeros until
    :func:`probe_head` sets it)."""

    def __init__(self, encoder: nn.Module, feature_dim: int, num_classes: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(feature_dim, num_classes)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, images: Tensor) -> Tensor:
        return self.head(self.encoder(images))


def make_optimizer(model: nn.Module, lr: float) -> torch.optim.Optimizer:
    """The recipe's SGD: weight decay on tensors of 2 or more dimensions only."""
    decayed = [p for p in model.parameters() if p.ndim >= 2]
    plain = [p for p in model.parameters() if p.ndim < 2]
    return torch.optim.SGD([{"params": decayed, "weight_decay": RECIPE["weight_decay"]},
                            {"params": plain, "weight_decay": 0.0}], lr=lr, momentum=0.9, nesterov=True)


def grad_clip_norm(network: nn.Module) -> float | None:
    """The recipe's clip for ``network``: :data:`CLIP_NORM` when it has a self-attention layer (timm's or torch's),
    else None (not clipped)."""
    from timm.layers import Attention

    transformer = any(isinstance(module, (Attention, nn.MultiheadAttention)) for module in network.modules())
    return CLIP_NORM if transformer else None


def step(model: nn.Module, optimizer: torch.optim.Optimizer, images: Tensor, labels: Tensor,
         clip_norm: float | None) -> None:
    """One step of cross-entropy; the gradient scaled to global norm ``clip_norm`` when it is longer (None: not)."""
    loss = F.cross_entropy(model(images), labels)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if clip_norm is not None:
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
    optimizer.step()


def probe_head(model: FineTuned, images: Tensor, labels: Tensor, num_classes: int, seed: int,
               device: torch.device) -> None:
    """Set ``model.head`` to the linear probe of the frozen features of ``images``: logits = W (x - mu) / sigma + b
    becomes W' x + b' with W' = W / sigma, b' = b - W' mu (weight decay from the probe's grid, held-out 10%)."""
    features = extract_features(model.encoder, images, BATCH, device=device)
    probe, _, _ = fit_probe(features, labels.to(device), num_classes, seed)
    with torch.no_grad():
        model.head.weight.copy_(probe.weight / probe.std)
        model.head.bias.copy_(probe.bias - model.head.weight @ probe.mean)
    model.train()


def starting_network(encoder: nn.Module, images: Tensor, labels: Tensor, num_classes: int, seed: int,
                     device: torch.device) -> FineTuned:
    """A copy of ``encoder`` (the run's is never touched: BatchNorm statistics) behind the :func:`probe_head` of
    ``images`` and ``labels``: the network fine-tuning starts from (LP-FT), in training mode."""
    own = copy.deepcopy(encoder).to(device).eval()
    with torch.inference_mode():
        feature_dim = own(images[:2].to(device)).shape[1]
    model = FineTuned(own, feature_dim, num_classes).to(device)
    probe_head(model, images, labels, num_classes, seed, device)
    return model


def fine_tune(encoder: nn.Module, images: Tensor, labels: Tensor, num_classes: int, seed: int,
              device: torch.device, base_lr: float = RECIPE["lr"]) -> nn.Module:
    """The recipe on ``images`` (uint8 (N, C, H, W)) and ``labels``; returns the fine-tuned network (eval mode).
    ``base_lr``: the recipe's learning rate at batch 256 (scripts/finetune_lr.py compares others)."""
    torch.manual_seed(seed)
    model = starting_network(encoder, images, labels, num_classes, seed, device)
    batch = min(BATCH, len(images))
    steps_per_epoch = max(1, len(images) // batch)
    total = max(MIN_STEPS, EPOCHS * steps_per_epoch)
    lr = base_lr * batch / 256
    optimizer = make_optimizer(model, lr)
    clip_norm = grad_clip_norm(model.encoder)
    generator = torch.Generator().manual_seed(seed)
    order = torch.empty(0, dtype=torch.long)
    for index in range(total):
        if len(order) < batch:
            order = torch.cat([order, torch.randperm(len(images), generator=generator)])
        rows, order = order[:batch], order[batch:]
        for group in optimizer.param_groups:
            group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * index / total))
        step(model, optimizer, images[rows].to(device), labels[rows].to(device), clip_norm)
    return model.eval()


def accuracy(model: nn.Module, images: Tensor, labels: Tensor, device: torch.device) -> float:
    predictions = extract_features(model, images, 512, device=device).argmax(1).cpu()
    return float((predictions == labels.cpu()).double().mean())


def evaluate_finetune(target: EncoderTarget, seed: int = 0) -> dict[str, Any]:
    """The registry entry: the recipe on 1%, 10% and 100% of the run's training labels."""
    from ssl_bench.eval.few_labels import label_subset

    if target.train is None:
        raise UserError("finetune needs the row's training images (a trained run or an encoder row); drop it for this "
                        "row")
    train, test = target.train(), target.test
    encoder = target.encoder("backbone")
    found: dict[str, Any] = {}
    for fraction in FRACTIONS:
        rows = torch.arange(len(train)) if fraction == 1.0 else label_subset(train.labels, train.num_classes,
                                                                              fraction, seed + 1, "finetune")
        model = fine_tune(encoder, train.images[rows], train.labels[rows], train.num_classes, seed, target.device)
        found[f"top1_{round(100 * fraction)}pct"] = accuracy(model, test.images, test.labels, target.device)
    return {**found, "protocol": {**RECIPE, "fractions": list(FRACTIONS), "label_seed": seed + 1,
                                  "grad_clip_norm": grad_clip_norm(encoder),
                                  "queries": f"test split ({len(test)} images)"}}



def unlearned_caveat(metrics: dict[str, Any], protocol: dict[str, Any]) -> str | None:
    """A run's caveat when fine-tuning on all the labels scores below the frozen linear probe on the same labels: the
    recipe started from that probe (LP-FT), so it made the network worse (an untrained or foreign encoder's tiny
    feature variances, folded into the head, can blow its gradient up)."""
    tuned, probe = (metrics.get("finetune") or {}).get("top1_100pct"), metrics.get("linear_top1")
    if not isinstance(tuned, float) or not isinstance(probe, float) or tuned >= probe:
        return None
    return (f"fine-tuned on all the labels ({100 * tuned:.1f}) below the frozen linear probe it starts from "
            f"({100 * probe:.1f}): the recipe unlearned the network")


def _check_size(n_rows: int, num_classes: int) -> None:
    from ssl_bench.eval.few_labels import check_label_count

    check_label_count(n_rows, num_classes, [f for f in FRACTIONS if f < 1], "finetune")


EVALUATIONS.register("finetune")(Evaluation(
    name="finetune", needs="encoder", evaluate=evaluate_finetune, metric_keys=("finetune",),
    columns=tuple(MetricColumn(f"finetune_{round(100 * f)}pct", f"fine-tuned, {f:.0%} labels", True, 1,
                               nested_value("finetune", f"top1_{round(100 * f)}pct")) for f in FRACTIONS),
    description="backbone + linear head fine-tuned end to end on 1%, 10%, 100% of the labels (stated recipe)",
    order=58, settings=("seed",), caveat=unlearned_caveat,
    check_size=_check_size,
))

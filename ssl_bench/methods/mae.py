"""MAE (He et al., CVPR 2022, arXiv:2111.06377): reconstruct the pixels of masked patches from the visible ones.

Per image, a random 75% of the patch tokens is masked (:func:`~ssl_bench.data.masks.random_patch_masks`); the
ViT encodes the visible tokens only; a light transformer decoder (:class:`~ssl_bench.models.vit_tokens.
TokenTransformer`: fixed sine-cosine positions, a learnt mask token at each masked position) predicts each masked
patch's pixels; the loss is their mean squared error, each target patch normalised to zero mean and unit variance
(``normalize_target``, MAE's ``norm_pix_loss``). Needs a ViT backbone (``vit-tiny``); no projector: the encoder
is the representation. Defaults from solo-learn's CIFAR recipe (``scripts/pretrain/cifar/mae.yaml``: decoder
width 512, depth 8, 16 heads, mask ratio 0.75, normalised targets, AdamW lr 2e-4 per 256 images, weight decay
0.05) and its ``reconstruction`` augmentation (one random resized crop, scale 0.08-1, and a flip; no colour).
Left out: MAE's AdamW betas (0.9, 0.95) (torch's defaults here) and its sine-cosine initialisation of the
encoder's positions (the ``vit-tiny`` backbone keeps timm's, as every method does).
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import Tensor

from ssl_bench.core.distributed import gather
from ssl_bench.core.errors import UserError
from ssl_bench.data.masks import random_patch_masks
from ssl_bench.methods.base import METHODS, MethodSpec, SSLModel, at_least_fp32
from ssl_bench.models.vit_tokens import TokenTransformer, encode_tokens, patch_size, patch_tokens, patchify, take


def mae_loss(predicted: Tensor, target: Tensor, normalize_target: bool) -> Tensor:
    """Per-image reconstruction error (B,): mean over the Q masked patches and their P pixel values of
    (predicted - target)^2, for ``predicted, target: (B, Q, P)``; with ``normalize_target`` each target patch is
    (t - mean(t)) / sqrt(var(t) + 1e-6), var unbiased (MAE's ``norm_pix_loss``)."""
    if normalize_target:
        target = (target - target.mean(dim=-1, keepdim=True)) / (target.var(dim=-1, keepdim=True) + 1e-6).sqrt()
    return (predicted - target).square().mean(dim=(1, 2))


class MAEModel(SSLModel):
    """ViT encoder on the visible tokens of one view, :class:`TokenTransformer` decoder to masked pixels."""

    def __init__(self, *args: Any, **overrides: Any) -> None:
        super().__init__(*args, **overrides)
        vit = self.backbone
        params = self.loss_params
        if not 0 < params["mask_ratio"] < 1 or params["normalize_target"] not in (0, 1):
            raise UserError(f"mae needs 0 < mask_ratio < 1 and normalize_target 0 or 1, got {params}")
        self.patch = patch_size(vit)
        self.grid = int(vit.patch_embed.grid_size[0])
        pixels = self.patch * self.patch * int(vit.patch_embed.proj.in_channels)
        self.decoder = TokenTransformer(vit.embed_dim, params["decoder_dim"], params["decoder_depth"],
                                        params["decoder_heads"], pixels, self.grid)

    def draw_masks(self, views: Sequence[Tensor], generator: torch.Generator) -> tuple[Tensor, ...]:
        """(visible (B, K), masked (B, N - K)) token indices of the view."""
        return random_patch_masks(views[0].shape[0], self.grid * self.grid, self.loss_params["mask_ratio"], generator)

    def forward(self, views: Sequence[Tensor], masks: Sequence[Tensor] = ()) -> dict[str, Tensor]:
        if len(views) != 1 or len(masks) != 2:
            raise ValueError(f"mae takes one view and its (visible, masked) indices, got {len(views)} and {len(masks)}")
        (image,), (visible, masked) = views, masks
        encoded = encode_tokens(self.backbone, take(patch_tokens(self.backbone, image), visible))
        predicted = at_least_fp32(self.decoder(encoded, visible, masked))
        target = take(patchify(image, self.patch), masked).to(predicted.dtype)
        per_image = mae_loss(predicted, target, bool(self.loss_params["normalize_target"]))
        return {"loss": gather(per_image.unsqueeze(1)).mean()}


METHODS.register("mae")(
    MethodSpec(
        name="mae",
        loss=mae_loss,
        projector_dims=None,
        loss_params={"mask_ratio": 0.75, "normalize_target": 1, "decoder_dim": 512, "decoder_depth": 8,
                     "decoder_heads": 16},
        positive_params=("mask_ratio", "decoder_dim", "decoder_depth", "decoder_heads"),
        reference="He et al. 2022, arXiv:2111.06377; solo-learn scripts/pretrain/cifar/mae.yaml",
        augment="simclr",
        family="masked / predictive",
        optimizer={"name": "adamw", "lr": 2e-4, "weight_decay": 0.05},
        vit_only=True,
        model=MAEModel,
        augment_defaults={"global_views": 1, "local_views": 0, "crop_scale": (0.08, 1.0), "jitter_p": 0.0,
                          "grayscale_p": 0.0, "blur_p": 0.0, "solarize_p": 0.0},
    )
)

"""I-JEPA (Assran et al., CVPR 2023, arXiv:2301.08243): predict the target encoder's embeddings of masked blocks
from a context block, in representation space, with no pixel target and no augmentation but a crop.

Per batch, :func:`~ssl_bench.data.masks.multi_block_masks` draws for each image 4 target blocks (15-20% of the
patches each, aspect 0.75-1.5) and a context block (85-100%) with the targets removed. The ViT (context encoder)
encodes the context tokens; its EMA copy (target encoder, momentum 0.996 -> 1 linearly per step) encodes all
tokens, layer-normalised without affine parameters; a narrow transformer predictor
(:class:`~ssl_bench.models.vit_tokens.TokenTransformer`, as many heads as the encoder) predicts each target
block's embeddings from the context tokens and mask tokens at the block's positions, one block per sequence; the
loss is the smooth L1 (beta 1) distance to the targets. Needs a ViT backbone (``vit-tiny``); no projector.
Defaults from the paper's code (facebookresearch/ijepa ``configs/in1k_vith14_ep300.yaml``: predictor depth 12,
width 384, masks as above with ``min_keep`` 10, EMA 0.996 -> 1, AdamW lr 1e-3 for 2048 images = 1.25e-4 per
256, weight decay 0.04; crop scale 0.3-1, no flip, no colour). Not in the default: the reference's cosine
weight-decay schedule to 0.4 (``--weight-decay-end 0.4`` gives it).
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from ssl_bench.core.distributed import gather
from ssl_bench.data.masks import multi_block_masks
from ssl_bench.methods.base import METHODS, MethodSpec, MomentumSchedule, SSLModel, at_least_fp32
from ssl_bench.models.vit_tokens import TokenTransformer, encode_tokens, patch_tokens, take


def ijepa_loss(predicted: Tensor, target: Tensor) -> Tensor:
    """Per-image smooth L1 distance (beta 1) (B,), averaged over the T blocks, their A tokens and D dimensions,
    for ``predicted, target: (B, T, A, D)``."""
    return F.smooth_l1_loss(predicted, target, reduction="none").mean(dim=(1, 2, 3))


class IJEPAModel(SSLModel):
    """Context encoder (the backbone), its EMA target encoder and a :class:`TokenTransformer` predictor."""

    def __init__(self, *args: Any, **overrides: Any) -> None:
        super().__init__(*args, **overrides)
        vit = self.backbone
        params = self.loss_params
        self.grid = int(vit.patch_embed.grid_size[0])
        self.predictor = TokenTransformer(vit.embed_dim, params["predictor_dim"], params["predictor_depth"],
                                          vit.blocks[0].attn.num_heads, vit.embed_dim, self.grid)

    def draw_masks(self, views: Sequence[Tensor], generator: torch.Generator) -> tuple[Tensor, ...]:
        """(context (B, K), targets (B, T, A)) token indices of the view."""
        return multi_block_masks(views[0].shape[0], self.grid, generator,
                                 min_context=int(self.loss_params["min_context_tokens"]))

    def forward(self, views: Sequence[Tensor], masks: Sequence[Tensor] = ()) -> dict[str, Tensor]:
        if len(views) != 1 or len(masks) != 2:
            raise ValueError(f"ijepa takes one view and its (context, targets) indices, got {len(views)} and {len(masks)}")
        (image,), (context, targets) = views, masks
        batch, blocks, area = targets.shape
        wanted = targets.transpose(0, 1).reshape(blocks * batch, area)  # block-major: one sequence per block
        with torch.no_grad():
            target_vit = self.target[0]
            embeddings = encode_tokens(target_vit, patch_tokens(target_vit, image))
            embeddings = F.layer_norm(at_least_fp32(embeddings), (embeddings.shape[-1],))
            target = take(embeddings.repeat(blocks, 1, 1), wanted)
        encoded = encode_tokens(self.backbone, take(patch_tokens(self.backbone, image), context))
        predicted = at_least_fp32(self.predictor(encoded.repeat(blocks, 1, 1), context.repeat(blocks, 1), wanted))
        per_image = ijepa_loss(*(x.view(blocks, batch, area, -1).transpose(0, 1) for x in (predicted, target)))
        return {"loss": gather(per_image.unsqueeze(1)).mean()}


METHODS.register("ijepa")(
    MethodSpec(
        name="ijepa",
        loss=ijepa_loss,
        projector_dims=None,
        loss_params={"predictor_dim": 384, "predictor_depth": 12, "min_context_tokens": 10},
        positive_params=("predictor_dim", "predictor_depth"),
        reference="Assran et al. 2023, arXiv:2301.08243; facebookresearch/ijepa configs/in1k_vith14_ep300.yaml",
        augment="simclr",
        family="masked / predictive",
        optimizer={"name": "adamw", "lr": 1.25e-4, "weight_decay": 0.04},
        momentum=MomentumSchedule(base=0.996, final=1.0, linear=True),
        vit_only=True,
        model=IJEPAModel,
        augment_defaults={"global_views": 1, "local_views": 0, "crop_scale": (0.3, 1.0), "flip_p": 0.0,
                          "jitter_p": 0.0, "grayscale_p": 0.0, "blur_p": 0.0, "solarize_p": 0.0},
    )
)

"""I-JEPA against lightly 1.6.0's masked ViT and I-JEPA predictor (loss and every gradient), and its multi-block
masks against the rules of I-JEPA's mask collator."""

from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn.functional as F
from conftest import assert_same_gradients, small_vit
from lightly.models import utils
from lightly.models.modules import MaskedVisionTransformerTIMM
from lightly.models.modules.ijepa_timm import IJEPAPredictorTIMM

from ssl_bench.core.errors import UserError
from ssl_bench.data.masks import multi_block_masks
from ssl_bench.methods import Progress, build_method
from ssl_bench.models.backbones import build_backbone

PREDICTOR = {"predictor_dim": 16, "predictor_depth": 2, "min_context_tokens": 2}


def _model():
    torch.manual_seed(0)
    return build_method("ijepa", small_vit(image_size=12), 32, **PREDICTOR).double()


def _lightly_loss(model, image, context, targets):
    """I-JEPA's step as lightly's example writes it (examples/pytorch/ijepa.py), on ``model``'s modules."""
    encoder = MaskedVisionTransformerTIMM(vit=model.backbone, weight_initialization="skip",
                                          pos_embed_initialization="skip")
    target_encoder = MaskedVisionTransformerTIMM(vit=model.target[0], weight_initialization="skip",
                                                 pos_embed_initialization="skip")
    ours = model.predictor
    predictor = IJEPAPredictorTIMM(num_patches=36, depth=2, mlp_dim=32, predictor_embed_dim=16, num_heads=2).double()
    predictor.predictor_embed, predictor.predictor_proj = ours.embed, ours.head
    predictor.decoder.blocks, predictor.decoder.norm, predictor.decoder.mask_token = ours.blocks, ours.norm, ours.mask_token
    masks_pred = list(targets.transpose(0, 1))
    with torch.no_grad():
        h = target_encoder.encode(image)
        h = F.layer_norm(h, (h.size(-1),))
        h = utils.repeat_interleave_batch(utils.apply_masks(h, masks_pred), len(image), repeat=1)
    z = predictor(encoder.encode(image, idx_keep=context), [context], masks_pred)
    return F.smooth_l1_loss(z, h), predictor.decoder.pos_embed[0]


def test_ijepa_equals_lightlys_masked_vit_and_predictor_with_every_gradient():
    model = _model()
    torch.nn.init.normal_(model.predictor.mask_token, std=0.5)  # zero by default: make it matter
    with torch.no_grad():  # a target encoder that differs from the context encoder, as after EMA steps
        for param in model.target.parameters():
            param.add_(0.01 * torch.randn_like(param))
    reference = copy.deepcopy(model)
    image = torch.randn(3, 1, 12, 12, dtype=torch.float64)
    context, targets = multi_block_masks(3, 6, torch.Generator().manual_seed(2), min_context=2)
    ours = model([image], (context, targets))["loss"]
    theirs, positions = _lightly_loss(reference, image, context, targets)
    torch.testing.assert_close(model.predictor.positions.double(), positions.double(), rtol=0, atol=1e-6)
    torch.testing.assert_close(ours, theirs)
    assert_same_gradients(ours, model, theirs, reference)
    assert all(p.grad is None for p in model.target.parameters())


def _collator_block_size(grid, scale, aspect, draw):
    """I-JEPA's ``MaskCollator._sample_block_size``, transcribed."""
    max_keep = int(grid * grid * (scale[0] + draw * (scale[1] - scale[0])))
    ratio = aspect[0] + draw * (aspect[1] - aspect[0])
    h, w = int(round(math.sqrt(max_keep * ratio))), int(round(math.sqrt(max_keep / ratio)))
    while h >= grid:
        h -= 1
    while w >= grid:
        w -= 1
    return h, w


@pytest.mark.parametrize("seed", range(4))
def test_multi_block_masks_follow_the_collators_rules(seed):
    grid = 8
    generator = torch.Generator().manual_seed(seed)
    draws = torch.rand(2, generator=torch.Generator().manual_seed(seed)).tolist()
    context, targets = multi_block_masks(16, grid, generator, min_context=10)
    height, width = _collator_block_size(grid, (0.15, 0.2), (0.75, 1.5), draws[0])
    assert targets.shape == (16, 4, height * width)
    for image_context, image_targets in zip(context, targets):
        covered = set()
        for block in image_targets.tolist():
            rows, columns = {i // grid for i in block}, {i % grid for i in block}
            assert len(rows) == height and len(columns) == width  # a whole rectangle of the batch's size
            assert max(rows) - min(rows) == height - 1 and max(columns) - min(columns) == width - 1
            covered |= set(block)
        tokens = image_context.tolist()
        assert tokens == sorted(tokens) and len(set(tokens)) == len(tokens)
        assert not covered & set(tokens)  # the context never sees a target (enough room at this grid)
    assert context.shape[1] >= 10
    side, _ = _collator_block_size(grid, (0.85, 1.0), (1.0, 1.0), draws[1])
    assert context.shape[1] <= side * side
    again = multi_block_masks(16, grid, torch.Generator().manual_seed(seed), min_context=10)
    assert torch.equal(again[0], context) and torch.equal(again[1], targets)


def test_ijepa_target_encoder_follows_the_linear_ema_and_the_predictor_is_not_in_it():
    model = _model()
    before = [p.detach().clone() for p in model.target.parameters()]
    with torch.no_grad():
        for param in model.backbone.parameters():
            param.add_(1.0)
    model.after_optimizer_step(Progress(5, 10, 5))
    tau = 0.996 + 0.004 * 0.5
    for old, new, online in zip(before, model.target.parameters(), model.backbone.parameters()):
        torch.testing.assert_close(new, tau * old + (1 - tau) * online)
    assert not any(name.startswith("predictor") for name, _ in model.target.named_parameters())


def test_ijepa_refuses_a_convnet():
    with pytest.raises(UserError, match="--backbone vit-tiny"):
        build_method("ijepa", *build_backbone("convnet", 1, 8))

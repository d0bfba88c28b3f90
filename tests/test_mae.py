"""MAE against lightly 1.6.0's masked ViT encoder and decoder (loss and every gradient), MAE's equations by hand,
and its masks."""

from __future__ import annotations

import copy

import pytest
import torch
from conftest import assert_same_gradients, small_vit
from lightly.models import utils
from lightly.models.modules import MaskedVisionTransformerTIMM
from lightly.models.modules.masked_vision_transformer_decoder_timm import MaskedVisionTransformerDecoderTIMM

from ssl_bench.core.errors import UserError
from ssl_bench.data.masks import random_patch_masks
from ssl_bench.methods import build_method
from ssl_bench.methods.mae import mae_loss
from ssl_bench.models.backbones import build_backbone
from ssl_bench.models.vit_tokens import patchify
from ssl_bench.training.config import make_config

DECODER = {"decoder_dim": 16, "decoder_depth": 2, "decoder_heads": 2}


def _model(**overrides):
    return build_method("mae", small_vit(), 32, **{**DECODER, **overrides}).double()


def _lightly_loss(model, image, visible, masked, normalize):
    """MAE's step as lightly's example writes it (examples/pytorch/mae.py), on a copy of ``model``'s weights."""
    encoder = MaskedVisionTransformerTIMM(vit=model.backbone, weight_initialization="skip",
                                          pos_embed_initialization="skip")
    ours = model.decoder
    decoder = MaskedVisionTransformerDecoderTIMM(num_patches=16, embed_dim=16, depth=2, num_heads=2,
                                                 num_prefix_tokens=0).double()
    # lightly's own sine-cosine positions (ours must equal them: the caller checks), our blocks, norm and token
    decoder.blocks, decoder.norm, decoder.mask_token = ours.blocks, ours.norm, ours.mask_token
    encoded = encoder.encode(image, idx_keep=visible)
    tokens = utils.repeat_token(decoder.mask_token, (image.shape[0], 16))
    tokens = utils.set_at_index(tokens, visible, ours.embed(encoded))
    decoded = decoder.decode(decoder.add_pos_embed(tokens))
    predicted = ours.head(utils.get_at_index(decoded, masked))
    target = utils.get_at_index(utils.patchify(image, 2), masked)
    if normalize:
        target = utils.normalize_mean_var(target, dim=-1)
    return torch.nn.functional.mse_loss(predicted, target), decoder.pos_embed[0]


@pytest.mark.parametrize("normalize", [1, 0])
def test_mae_equals_lightlys_masked_vit_and_decoder_with_every_gradient(normalize):
    torch.manual_seed(0)
    model = _model(normalize_target=normalize)
    torch.nn.init.normal_(model.decoder.mask_token, std=0.5)  # zero by default: make it matter
    reference = copy.deepcopy(model)
    image = torch.randn(3, 1, 8, 8, dtype=torch.float64)
    visible, masked = random_patch_masks(3, 16, 0.75, torch.Generator().manual_seed(1))
    ours = model([image], (visible, masked))["loss"]
    theirs, positions = _lightly_loss(reference, image, visible, masked, normalize)
    torch.testing.assert_close(model.decoder.positions.double(), positions.double(), rtol=0, atol=1e-6)
    torch.testing.assert_close(ours, theirs)
    assert_same_gradients(ours, model, theirs, reference)


def test_mae_loss_by_hand():
    predicted, target = torch.randn(2, 3, 4, dtype=torch.float64), torch.randn(2, 3, 4, dtype=torch.float64)
    expected = []
    for b in range(2):
        errors = []
        for q in range(3):
            t = target[b, q]
            mean = sum(t.tolist()) / 4
            var = sum((v - mean) ** 2 for v in t.tolist()) / 3  # unbiased, as MAE's torch .var()
            errors += [((predicted[b, q, i].item() - (t[i].item() - mean) / (var + 1e-6) ** 0.5) ** 2) for i in range(4)]
        expected.append(sum(errors) / len(errors))
    torch.testing.assert_close(mae_loss(predicted, target, True), torch.tensor(expected, dtype=torch.float64))
    torch.testing.assert_close(mae_loss(predicted, target, False), (predicted - target).square().mean(dim=(1, 2)))


def test_patchify_is_lightlys_and_pads_like_the_vit():
    images = torch.randn(2, 3, 8, 8)
    torch.testing.assert_close(patchify(images, 4), utils.patchify(images, 4))
    padded = patchify(torch.ones(1, 1, 6, 6), 4)  # 6 px -> 2 x 2 patches of 4, zero-padded right and bottom
    assert padded.shape == (1, 4, 16) and padded[0, 0].sum() == 16 and padded[0, 3].sum() == 4


def test_random_patch_masks_split_every_image_and_follow_the_generator():
    visible, masked = random_patch_masks(5, 16, 0.75, torch.Generator().manual_seed(3))
    assert visible.shape == (5, 4) and masked.shape == (5, 12)
    for row in torch.cat([visible, masked], dim=1):
        assert sorted(row.tolist()) == list(range(16))
    again, _ = random_patch_masks(5, 16, 0.75, torch.Generator().manual_seed(3))
    assert torch.equal(visible, again)
    assert len({tuple(row.tolist()) for row in visible}) > 1  # each image its own mask


def test_mae_refuses_a_convnet_before_training_and_a_mask_ratio_of_one():
    with pytest.raises(UserError, match="--backbone vit-tiny"):
        build_method("mae", *build_backbone("convnet", 1, 8))
    with pytest.raises(UserError, match="--backbone vit-tiny"):  # when the settings are read, before any data
        make_config({"method": "mae", "dataset": "synthetic", "backbone": "resnet18"})
    assert make_config({"method": "mae", "dataset": "synthetic", "backbone": "vit-tiny"}).backbone == "vit-tiny"
    with pytest.raises(UserError, match="mask_ratio"):
        _model(mask_ratio=1.0)

"""Fine-tuning: one optimiser step equals a hand-written Nesterov SGD step on a hand-written cross-entropy; the
recipe learns; the run's encoder is not changed; too few labels are refused in one line."""

from __future__ import annotations

import copy

import torch
from torch import nn

from ssl_bench.cli import main
from ssl_bench.eval.finetune import RECIPE, FineTuned, accuracy, fine_tune, make_optimizer


def _encoder() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.BatchNorm1d(16), nn.ReLU())


def test_one_step_equals_a_hand_written_nesterov_sgd_step():
    torch.manual_seed(0)
    model = FineTuned(_encoder(), 16, 4).train()
    nn.init.normal_(model.head.weight, std=0.1)  # a non-zero head, so every layer gets a gradient
    images, labels, lr = torch.rand(8, 1, 8, 8), torch.arange(8) % 4, 0.05
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    expected_model = copy.deepcopy(model)
    logits = expected_model(images)
    loss = -(logits[torch.arange(8), labels] - torch.logsumexp(logits, dim=1)).mean()  # cross-entropy by hand
    grads = dict(zip([n for n, _ in expected_model.named_parameters()],
                     torch.autograd.grad(loss, list(expected_model.parameters()))))
    optimizer = make_optimizer(model, lr)
    nn.functional.cross_entropy(model(images), labels).backward()
    optimizer.step()
    for name, parameter in model.named_parameters():
        decay = RECIPE["weight_decay"] if parameter.ndim >= 2 else 0.0
        d_p = grads[name] + decay * before[name]
        expected = before[name] - lr * (d_p + 0.9 * d_p)  # first step: buffer = d_p; Nesterov adds momentum * buffer
        assert torch.allclose(parameter, expected, atol=1e-6), name


def test_the_recipe_learns_and_leaves_the_encoder_as_it_was():
    generator = torch.Generator().manual_seed(0)
    labels = torch.arange(400) % 4
    images = (torch.rand(400, 1, 8, 8, generator=generator) * 80).to(torch.uint8)
    images[torch.arange(400), 0, labels * 2, :] = 255  # a bright row per class

    class Normalise(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = _encoder()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.net(x.float() / 255)

    encoder = Normalise()
    state = copy.deepcopy(encoder.state_dict())
    model = fine_tune(encoder, images[:300], labels[:300], 4, seed=0, device=torch.device("cpu"))
    assert accuracy(model, images[300:], labels[300:], torch.device("cpu")) > 0.9
    assert all(torch.equal(state[key], value) for key, value in encoder.state_dict().items())


def test_fine_tuning_a_run_with_too_few_labels_for_one_percent_is_one_line(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--method", "simclr", "--dataset", "synthetic", "--subset", "200", "--batch-size", "64",
                 "--epochs", "1", "--out", str(run), "--trackers", "", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["eval", str(run), "--evaluations", "finetune"]) == 2
    assert "1% of 200 train rows is 2 labels, fewer than 2 for each of the 10 classes" in capsys.readouterr().err


def test_the_head_starts_as_the_linear_probe_of_the_labelled_rows_folded_through_its_standardisation():
    """LP-FT: before any step, the network's logits are the linear probe's on the frozen features (weight decay
    chosen by the probe's own held-out rule), its standardisation folded into W and b."""
    from ssl_bench.eval.finetune import probe_head
    from ssl_bench.eval.linear import WEIGHT_DECAY_GRID, fit_linear_classifier, select_weight_decay

    torch.manual_seed(0)
    encoder = _encoder().eval()
    images, labels = torch.rand(60, 1, 8, 8), torch.arange(60) % 3
    model = FineTuned(copy.deepcopy(encoder), 16, 3)
    probe_head(model, images, labels, 3, seed=0, device=torch.device("cpu"))
    with torch.no_grad():
        features = encoder(images)
    chosen, _ = select_weight_decay(features, labels, 3, WEIGHT_DECAY_GRID, 0, 100)
    probe = fit_linear_classifier(features, labels, 3, chosen)
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(images), probe.logits(features), atol=1e-4, rtol=1e-4)


def test_a_clipped_step_equals_nesterov_sgd_on_the_gradient_scaled_to_norm_one_by_hand():
    """The ViT paper's clipping: g -> g * min(1, c / ||g||) over all parameters together, then the SGD step."""
    from ssl_bench.eval.finetune import step

    torch.manual_seed(0)
    model = FineTuned(_encoder(), 16, 4).train()
    nn.init.normal_(model.head.weight, std=5.0)  # a large head: the gradient is longer than the clip
    images, labels, lr, clip = torch.rand(8, 1, 8, 8), torch.arange(8) % 4, 0.05, 0.5
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    expected_model = copy.deepcopy(model)
    logits = expected_model(images)
    loss = -(logits[torch.arange(8), labels] - torch.logsumexp(logits, dim=1)).mean()
    grads = dict(zip([n for n, _ in expected_model.named_parameters()],
                     torch.autograd.grad(loss, list(expected_model.parameters()))))
    norm = sum(float((g.double() ** 2).sum()) for g in grads.values()) ** 0.5
    assert norm > 2 * clip
    step(model, make_optimizer(model, lr), images, labels, clip)
    for name, parameter in model.named_parameters():
        decay = RECIPE["weight_decay"] if parameter.ndim >= 2 else 0.0
        d_p = grads[name] * clip / norm + decay * before[name]
        assert torch.allclose(parameter, before[name] - lr * 1.9 * d_p, atol=1e-5), name


def test_transformer_backbones_are_clipped_and_convolutional_ones_are_not():
    from ssl_bench.eval.finetune import grad_clip_norm
    from ssl_bench.models.backbones import build_backbone

    assert grad_clip_norm(build_backbone("vit-tiny", 1, 28)[0]) == 1.0
    assert grad_clip_norm(nn.Sequential(nn.MultiheadAttention(8, 2))) == 1.0
    assert grad_clip_norm(build_backbone("convnet", 1, 28)[0]) is None
    assert grad_clip_norm(build_backbone("resnet18", 3, 32)[0]) is None


def test_a_fine_tuning_that_ends_below_its_starting_probe_carries_a_caveat():
    from ssl_bench.eval.finetune import unlearned_caveat

    unlearned = unlearned_caveat({"finetune": {"top1_100pct": 0.194}, "linear_top1": 0.7716}, {})
    assert unlearned == ("fine-tuned on all the labels (19.4) below the frozen linear probe it starts from (77.2): "
                         "the recipe unlearned the network")
    assert unlearned_caveat({"finetune": {"top1_100pct": 0.865}, "linear_top1": 0.831}, {}) is None
    assert unlearned_caveat({"finetune": {"top1_100pct": 0.865}}, {}) is None  # no linear probe in the run

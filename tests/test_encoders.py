"""Encoders trained elsewhere: files built here (a torchvision state dict, a Lightning/solo-learn-style checkpoint,
a lightly-style ``nn.Sequential`` backbone) give the features of the same network loaded by hand."""

from __future__ import annotations

import json

import pytest
import torch
import torchvision
from torch import nn

from ssl_bench.cli import main
from ssl_bench.core.errors import UserError
from ssl_bench.data.datasets import load_dataset, normalization_stats, train_split
from ssl_bench.models.backbones import build_backbone
from ssl_bench.models.inputs import IMAGENET_MEAN, IMAGENET_STD
from ssl_bench.models.pretrained import pretrained_encoder


@pytest.fixture(scope="module")
def data():
    return train_split("synthetic", 64, 0, False)


def _by_hand(network: nn.Module, images: torch.Tensor, mean, std, channels: int = 3) -> torch.Tensor:
    """The transcription of the protocol: [0, 1], grey to RGB, normalise, the headless network."""
    x = images.float() / 255
    if x.shape[1] != channels:
        x = x.repeat(1, channels, 1, 1)
    mean = torch.tensor(mean).view(1, -1, 1, 1)
    std = torch.tensor(std).view(1, -1, 1, 1)
    with torch.no_grad():
        return network.eval()((x - mean) / std).flatten(1)


def _features(encoder: nn.Module, images: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return encoder(images)


def test_a_torchvision_state_dict_gives_the_hand_loaded_networks_features(tmp_path, data):
    torch.manual_seed(1)
    reference = torchvision.models.resnet18()
    torch.save(reference.state_dict(), tmp_path / "resnet18.pth")
    encoder, protocol = pretrained_encoder("torchvision:resnet18", str(tmp_path / "resnet18.pth"), data)
    reference.fc = nn.Identity()
    images = data.images[:16]
    torch.testing.assert_close(_features(encoder, images), _by_hand(reference, images, IMAGENET_MEAN, IMAGENET_STD))
    assert protocol["normalization"] == "imagenet" and protocol["input_size"] == data.image_size
    assert protocol["normalization_mean"] == list(IMAGENET_MEAN)


def test_a_lightning_checkpoint_with_a_backbone_prefix_loads_into_the_cifar_resnet(tmp_path, data):
    torch.manual_seed(2)
    reference, _ = build_backbone("resnet18", data.channels, data.image_size)
    state = {f"backbone.{key}": value for key, value in reference.state_dict().items()}
    state.update({"projector.0.weight": torch.randn(8, 512), "momentum_backbone.conv1.weight": torch.randn(1)})
    torch.save({"state_dict": state, "epoch": 999, "global_step": 12, "pytorch-lightning_version": "2.1.0"},
               tmp_path / "solo.ckpt")
    encoder, protocol = pretrained_encoder("resnet18", str(tmp_path / "solo.ckpt"), data)
    mean, std = normalization_stats(data)
    images = data.images[:16]
    expected = _by_hand(reference, images, mean, std, channels=data.channels)
    torch.testing.assert_close(_features(encoder, images), expected)
    assert protocol["normalization"] == "dataset"


def test_a_lightly_sequential_backbone_is_mapped_to_the_networks_children(tmp_path, data):
    torch.manual_seed(3)
    resnet = torchvision.models.resnet18()
    backbone = nn.Sequential(*list(resnet.children())[:-1])  # lightly's examples build their backbone this way
    torch.save({f"backbone.{k}": v for k, v in backbone.state_dict().items()}, tmp_path / "lightly.pth")
    encoder, _ = pretrained_encoder("torchvision:resnet18", str(tmp_path / "lightly.pth"), data)
    images = data.images[:16]
    torch.testing.assert_close(_features(encoder, images), _by_hand(backbone, images, IMAGENET_MEAN, IMAGENET_STD))


def test_resizing_is_part_of_the_protocol(tmp_path, data):
    torch.manual_seed(4)
    torch.save(torchvision.models.resnet18().state_dict(), tmp_path / "r.pth")
    encoder, protocol = pretrained_encoder("torchvision:resnet18", str(tmp_path / "r.pth"), data, image_size=64)
    assert protocol["input_size"] == 64
    seen = []
    encoder.network.conv1.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0].shape))
    _features(encoder, data.images[:2])
    assert seen[0][-2:] == (64, 64)


def test_weights_that_do_not_fit_are_one_line_naming_the_keys(tmp_path, data, capsys):
    torch.save(torchvision.models.resnet50().state_dict(), tmp_path / "r50.pth")
    with pytest.raises(UserError, match=r"does not fit this encoder: .* missing, .* unexpected") as err:
        pretrained_encoder("torchvision:resnet18", str(tmp_path / "r50.pth"), data)
    assert "\n" not in str(err.value) and "none missing, 198 (layer1.0." in str(err.value)
    torch.save(torchvision.models.resnet18().state_dict(), tmp_path / "imagenet-stem.pth")
    code = main(["eval", "--encoder", "resnet18", "--weights", str(tmp_path / "imagenet-stem.pth"),
                 "--dataset", "synthetic", "--device", "cpu"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "conv1.weight" in err[0] and err[0].startswith("error: ")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    assert main(["eval", "--encoder", "resnet18", "--weights", str(tmp_path / "junk.pth"), "--dataset", "synthetic"]) == 2
    assert main(["eval", "--encoder", "torchvision:resnet18", "--dataset", "synthetic"]) == 2  # no --weights
    assert "needs --weights PATH" in capsys.readouterr().err


def test_eval_and_probe_an_encoder_from_the_command_line(tmp_path, capsys):
    torch.manual_seed(5)
    torch.save(torchvision.models.resnet18().state_dict(), tmp_path / "r.pth")
    code = main(["eval", "--encoder", "torchvision:resnet18", "--weights", str(tmp_path / "r.pth"), "--dataset",
                 "synthetic", "--subset", "100", "--evaluations", "knn", "--device", "cpu", "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and 0 <= result["knn_top1"] <= 1
    test = load_dataset("synthetic", "test")
    assert result["protocol"]["method"] == "encoder:torchvision:resnet18"
    assert result["protocol"]["input_size"] == test.image_size and result["protocol"]["normalization"] == "imagenet"
    assert result["protocol"]["queries"] == f"test split ({len(test)} images)"
    out = tmp_path / "probe.json"
    assert main(["probe", "--encoder", "torchvision:resnet18", "--weights", str(tmp_path / "r.pth"), "--dataset",
                 "synthetic", "--transforms", "hflip", "--n", "40", "--device", "cpu", "--out", str(out)]) == 0
    assert json.loads(out.read_text())["protocol"]["weights"] == str(tmp_path / "r.pth")


def _convnet_weights(tmp_path, data) -> str:
    torch.manual_seed(3)
    network, _ = build_backbone("convnet", data.channels, data.image_size)
    torch.save(network.state_dict(), tmp_path / "convnet.pth")
    return str(tmp_path / "convnet.pth")


def test_an_encoder_row_is_fine_tuned_on_its_own_training_images_and_scored_on_the_test_split(tmp_path, data,
                                                                                              monkeypatch):
    """The row's fine-tuning is the recipe applied by hand to the same encoder, its subset and the test split."""
    from ssl_bench.eval import finetune
    from ssl_bench.sources.encoder import evaluate_pretrained

    monkeypatch.setattr(finetune, "FRACTIONS", (0.5, 1.0))  # the synthetic split is too small for 1%
    weights = _convnet_weights(tmp_path, data)
    result = evaluate_pretrained("convnet", weights, "synthetic", subset=200, evaluations=["finetune"], device="cpu")
    train, test = train_split("synthetic", 200, 0, False), load_dataset("synthetic", "test")
    encoder, _ = pretrained_encoder("convnet", weights, train)
    model = finetune.fine_tune(encoder, train.images, train.labels, train.num_classes, 0, torch.device("cpu"))
    assert result["finetune"]["top1_100pct"] == finetune.accuracy(model, test.images, test.labels, torch.device("cpu"))
    assert result["finetune"]["protocol"]["grad_clip_norm"] is None and 0 <= result["finetune"]["top1_50pct"] <= 1


def test_an_encoder_rows_lidar_views_are_the_named_recipes_rounded_to_uint8_then_encoded(tmp_path, data):
    """LiDAR of an encoder row: SimCLR's views at its defaults on the 0-1 scale, x 255, rounded to uint8 (as a saved
    image), then the encoder's own normalisation; its protocol says which recipe it drew."""
    from ssl_bench.data.augment import BatchAugment, default_augment
    from ssl_bench.sources.encoder import augmented_views, evaluate_pretrained

    weights = _convnet_weights(tmp_path, data)
    encoder, _ = pretrained_encoder("convnet", weights, data)
    images = data.images[:6]
    found = augmented_views(encoder, images, 4, 5, "simclr")
    augment = BatchAugment(default_augment("simclr", data.channels, data.image_size, {"mean": (0.0,), "std": (1.0,)}),
                           data.channels, data.image_size)
    generator = torch.Generator().manual_seed(5)
    mean, std = normalization_stats(data)
    views = [(view * 255).round().clamp(0, 255).to(torch.uint8) for _ in range(2)
             for view in augment.two_views(images, generator)]
    network, _ = build_backbone("convnet", data.channels, data.image_size)
    network.load_state_dict(torch.load(weights))
    expected = torch.stack([_by_hand(network, view, mean, std, channels=1) for view in views], dim=1)
    torch.testing.assert_close(found, expected, atol=1e-4, rtol=1e-4)
    result = evaluate_pretrained("convnet", weights, "synthetic", subset=100, evaluations=["lidar"], device="cpu")
    assert result["lidar"]["value"] >= 1 and "simclr recipe" in result["lidar"]["protocol"]["augmentation"]


def test_an_encoder_row_takes_corruptions_transfer_and_the_probe_and_refuses_projector_features(tmp_path, data,
                                                                                                  monkeypatch):
    """Every evaluation of an encoder runs on an encoder row (a suite's ``encoders:`` entry): the probe's files go
    to runs/encoder-SPEC-DATASET outside a suite; an encoder row has no projector."""
    from ssl_bench.sources.base import RowRequest
    from ssl_bench.sources.encoder import encoder_target
    from ssl_bench.sources.rows import evaluate_source

    monkeypatch.chdir(tmp_path)
    weights = _convnet_weights(tmp_path, data)
    request = RowRequest("convnet", "synthetic", "convnet", 100, 0, {"weights": weights}, device="cpu")
    result = evaluate_source("encoder", request, ["robustness", "transfer", "probe"],
                             {"transfer": {"dataset": "digits", "resize": True}, "probe": {"n": 40}})
    assert 0 <= result["robustness"]["mean_corrupted_top1"] <= result["robustness"]["clean_top1"] + 0.2
    assert 0 <= result["transfer"]["knn_top1"] <= 1
    assert (tmp_path / "runs" / "encoder-convnet-synthetic" / "probe.json").is_file()
    target = encoder_target(nn.Identity(), data, data, request, weights)
    with pytest.raises(UserError, match="an encoder row has backbone features only"):
        target.encoder("projector")

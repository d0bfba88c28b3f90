"""LiDAR against matrices with known answers and a NumPy/SciPy transcription of the paper's equations, and on a
trained run: views drawn from its training augmentations, seeded."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.linalg
import torch

from ssl_bench.cli import main
from ssl_bench.core.errors import UserError
from ssl_bench.eval.lidar import DELTA, EPSILON, lidar


def _transcription(e: np.ndarray) -> float:
    """Thilak et al. 2024, Section 3, written out with NumPy and SciPy's matrix square root."""
    n, q, d = e.shape
    mu_i = e.mean(axis=1)
    mu = mu_i.mean(axis=0)
    s_b = sum(np.outer(m - mu, m - mu) for m in mu_i) / (n - 1)
    s_w = sum(np.outer(e[i, j] - mu_i[i], e[i, j] - mu_i[i]) for i in range(n) for j in range(q)) / (n * (q - 1))
    root = scipy.linalg.sqrtm(s_w + DELTA * np.eye(d)).real
    inverse_root = np.linalg.inv(root)
    eigenvalues = np.clip(np.linalg.eigvalsh(inverse_root @ s_b @ inverse_root), 0, None)
    p = (eigenvalues + EPSILON) / (eigenvalues + EPSILON).sum()
    return float(np.exp(-(p * np.log(p)).sum()))


def _separated(k: int, d: int = 8, n: int = 48) -> np.ndarray:
    """n classes: means +-2 e_j on k of d axes (each axis and sign equally often: S_b = c P_k), two views
    mu_i +- 0.5 e_(i mod d) (each axis equally often: S_w = c' I)."""
    e = np.zeros((n, 2, d))
    for i in range(n):
        mean, offset = np.zeros(d), np.zeros(d)
        mean[i % k] = 2.0 if (i // k) % 2 == 0 else -2.0
        offset[i % d] = 0.5
        e[i, 0], e[i, 1] = mean + offset, mean - offset
    return e


@pytest.mark.parametrize("k", [1, 3, 8])
def test_equal_separation_along_k_of_d_directions_gives_k(k):
    """S_lidar has k equal eigenvalues and d - k zeros, so LiDAR = k up to eps."""
    assert lidar(torch.from_numpy(_separated(k))) == pytest.approx(k, rel=1e-6)


def test_lidar_equals_the_transcription_on_random_features():
    rng = np.random.default_rng(0)
    for n, q, d in ((30, 4, 6), (50, 3, 20), (12, 8, 40)):
        e = rng.normal(size=(n, 1, d)) * rng.uniform(0.2, 3, size=d) + 0.3 * rng.normal(size=(n, q, d))
        assert lidar(torch.from_numpy(e)) == pytest.approx(_transcription(e), rel=1e-6)


def test_collapsed_features_have_lidar_one_and_bad_shapes_are_refused():
    rng = np.random.default_rng(1)
    line = rng.normal(size=(40, 1, 1)) * np.ones((1, 1, 5)) + 1e-3 * rng.normal(size=(40, 4, 5))
    assert lidar(torch.from_numpy(line)) == pytest.approx(1.0, abs=0.05)
    with pytest.raises(UserError, match="LiDAR needs"):
        lidar(torch.zeros(10, 1, 4))


def test_lidar_of_a_trained_run_is_seeded_and_stored_with_its_protocol(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--method", "vicreg", "--dataset", "synthetic", "--subset", "200", "--batch-size", "64",
                 "--epochs", "1", "--out", str(run), "--trackers", "", "--quiet"]) == 0
    values = []
    for _ in range(2):
        capsys.readouterr()
        assert main(["eval", str(run), "--evaluations", "knn", "lidar", "--json"]) == 0
        values.append(json.loads(capsys.readouterr().out)["lidar"])
    assert values[0] == values[1] and 1 <= values[0]["value"] <= 128
    assert values[0]["protocol"]["views"] == 8 and values[0]["protocol"]["augmentation"] == "the run's training recipe"
    assert main(["eval", "--baseline", "raw-pixels", "--dataset", "synthetic", "--evaluations", "lidar"]) == 2


def test_lidar_with_a_shared_recipe_draws_that_recipes_views_whatever_the_run_trained_with(tmp_path):
    """recipe: simclr gives every run the SimCLR recipe at its published defaults (normalised as the run was), so
    runs trained on different augmentations are measured alike; recipe: run keeps the run's own overrides."""
    from ssl_bench.data.augment import BatchAugment, default_augment
    from ssl_bench.data.datasets import test_split
    from ssl_bench.sources.trained import augmented_views
    from ssl_bench.training.run_dir import load_encoder, load_run_config, read_data_record

    run = tmp_path / "run"
    assert main(["train", "--method", "vicreg", "--dataset", "synthetic", "--subset", "64", "--batch-size", "32",
                 "--epochs", "1", "--augment", "crop_scale=[0.9,1.0]", "--out", str(run), "--trackers", "",
                 "--quiet"]) == 0
    config, data = load_run_config(run), read_data_record(run)
    images = test_split("synthetic").images[:6]
    shared = augmented_views(run, config, images, 4, 5, torch.device("cpu"), recipe="simclr")
    own = augmented_views(run, config, images, 4, 5, torch.device("cpu"))
    augment = BatchAugment(default_augment("simclr", data["channels"], data["image_size"],
                                           {"mean": data["mean"], "std": data["std"]}), data["channels"], data["image_size"])
    network = load_encoder(run, "backbone")[0].network.eval()
    generator = torch.Generator().manual_seed(5)
    with torch.inference_mode():
        views = [network(view).flatten(1) for _ in range(2) for view in augment.two_views(images, generator)]
    assert torch.allclose(shared, torch.stack(views, dim=1), atol=1e-6)
    assert not torch.allclose(shared, own)


def test_lidar_states_its_recipe_and_refuses_an_unknown_one(tmp_path):
    import yaml

    from ssl_bench.bench.suite import load_suite
    from ssl_bench.eval.base import EncoderTarget
    from ssl_bench.eval.lidar import evaluate_lidar

    asked = []

    def views(images, q, seed, recipe):
        asked.append(recipe)
        return torch.randn(len(images), q, 6, generator=torch.Generator().manual_seed(seed))

    test = type("Test", (), {"images": torch.zeros(30, 1, 8, 8, dtype=torch.uint8)})()
    target = EncoderTarget(encoder=None, test=test, out_dir=tmp_path, describe=None, device="cpu", augmented_views=views)
    shared = evaluate_lidar(target, n=20, views=4, recipe="byol")
    assert asked == ["byol"] and "byol recipe" in shared["protocol"]["augmentation"]
    assert evaluate_lidar(target, n=20, views=4)["protocol"]["augmentation"] == "the run's training recipe"
    assert asked[-1] is None
    suite = tmp_path / "s.yaml"
    suite.write_text(yaml.safe_dump({"datasets": ["synthetic"], "evaluations": ["lidar"], "lidar": {"recipe": "dino"},
                                     "trained": {"methods": ["vicreg"], "backbones": ["mlp"], "epochs": 1}}))
    with pytest.raises(UserError, match="lidar recipe must be 'run'.*or one of simclr, byol, got 'dino'"):
        load_suite(suite)

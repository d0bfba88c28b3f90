"""A trained cell's closed-form counterpart: the views-graph closed form of its own method, drawn with exactly its
augmentation (recipe, overrides, normalisation), one per configuration the closed form can tell apart."""

from __future__ import annotations

import pytest
import torch
import yaml

from ssl_bench.bench.cells import row_request
from ssl_bench.bench.suite import load_suite
from ssl_bench.core.errors import UserError
from ssl_bench.data.augment import BatchAugment, augment_config, default_augment
from ssl_bench.data.datasets import train_split
from ssl_bench.sources.spectral import check_settings, view_recipe
from ssl_bench.sources.trained import train_config
from ssl_bench.spectral.settings import make_spectral_settings
from ssl_bench.spectral.view_moments import VIEW_SEED_OFFSET, augmented_views
from ssl_bench.training.run_dir import augment_of

WEAK, STRONG = {"crop_scale": [0.8, 1.0], "brightness": 0.1}, {"crop_scale": [0.08, 0.5], "contrast": 0.8}


def _suite(tmp_path, **trained):
    path = tmp_path / "s.yaml"
    block = {"methods": ["simclr", "vicreg"], "backbones": ["mlp"], "epochs": 1, **trained}
    path.write_text(yaml.safe_dump({"name": "s", "datasets": ["synthetic"], "subset": 64, "seeds": [0, 1],
                                    "trained": block}))
    return load_suite(path)


def test_closed_form_adds_one_counterpart_per_method_recipe_and_seed_not_per_learning_rate(tmp_path):
    suite = _suite(tmp_path, closed_form={"dim": 8}, sweep={"augment": [WEAK, STRONG], "lr": [0.1, 0.3]})
    trained = [cell for cell in suite.cells if cell.kind == "trained"]
    spectral = [cell for cell in suite.cells if cell.kind == "spectral"]
    assert len(trained) == 2 * 2 * 2 * 2  # methods x recipes x lr x seeds
    assert len(spectral) == 2 * 2 * 2  # methods x recipes x seeds: lr does not change the closed form
    found = {(cell.method, cell.hparams["augment_recipe"], tuple(cell.hparams["augment"]["crop_scale"]), cell.seed)
             for cell in spectral}
    expected = {(closed_form, recipe, tuple(augment["crop_scale"]), seed)
                for closed_form, recipe in (("simclr-closed-form", "simclr"), ("vicreg-closed-form", "byol"))
                for augment in (WEAK, STRONG) for seed in (0, 1)}
    assert found == expected
    assert all(cell.hparams["graph"] == "views" and cell.hparams["dim"] == 8 and cell.hparams["subset"] == 64
               for cell in spectral)


@pytest.mark.parametrize("method", ["simclr", "vicreg", "barlowtwins"])
def test_the_counterpart_draws_exactly_the_views_its_trained_cell_trains_on(tmp_path, method):
    suite = _suite(tmp_path, methods=[method], closed_form=True, augment=STRONG)
    trained, counterpart = ([cell for cell in suite.cells if cell.kind == kind and cell.seed == 0]
                            for kind in ("trained", "spectral"))
    (trained,), (counterpart,) = trained, counterpart
    data = train_split("synthetic", 64, 0)
    recipe, overrides = augment_of(train_config(row_request(trained)))  # how the training loop builds its views
    training = BatchAugment(augment_config(recipe, data, overrides), data.channels, data.image_size)
    settings = check_settings(counterpart.method, make_spectral_settings(row_request(counterpart).settings))
    closed_form = view_recipe(settings).augment(data)
    assert closed_form.config == training.config
    for index in (0, 1):  # both branches of the recipe, from one seeded generator each
        draws = [augment.draw(len(data), data.images.shape[-2:], index, torch.Generator().manual_seed(3))
                 for augment in (training, closed_form)]
        assert torch.equal(training.apply(data.images, draws[0]), closed_form.apply(data.images, draws[1]))
    # the views the closed form is fitted on are these views (8-bit), and not the default recipe's
    views = augmented_views(data, 2, 0, view_recipe(settings))
    generator = torch.Generator().manual_seed(VIEW_SEED_OFFSET)
    draws = [training.draw(len(data), data.images.shape[-2:], index, generator) for index in (0, 1)]
    mean, std = (torch.tensor(v).view(1, -1, 1, 1) for v in (training.config.mean, training.config.std))
    for view, draw in zip(views, draws, strict=True):
        expected = (255.0 * (training.apply(data.images, draw) * std + mean)).round().clamp(0, 255).to(torch.uint8)
        assert torch.equal(view, expected)
    default = augmented_views(data, 2, 0)
    assert not torch.equal(default[0], views[0])


def test_a_counterpart_without_overrides_uses_the_methods_published_recipe(tmp_path):
    suite = _suite(tmp_path, methods=["barlowtwins"], closed_form=True)
    (counterpart, _) = [cell for cell in suite.cells if cell.kind == "spectral"]
    settings = check_settings(counterpart.method, make_spectral_settings(row_request(counterpart).settings))
    data = train_split("synthetic", 64, 0)
    config = view_recipe(settings).augment(data).config
    assert config == default_augment("byol", data.channels, data.image_size, {"mean": config.mean, "std": config.std})


@pytest.mark.parametrize(("trained", "message"), [
    ({"methods": ["byol"], "closed_form": True}, "byol has no closed form"),
    ({"closed_form": {"graph": "knn"}}, "graph"),
    ({"closed_form": {"augment": {"flip_p": 0.0}}}, "augment"),
    ({"closed_form": "yes"}, "closed_form must be"),
    ({"closed_form": {"dim": 0}}, "dim"),
    ({"closed_form": True, "augment": {"local_views": 2}}, "local_views"),
])
def test_a_closed_form_that_cannot_be_made_is_refused_when_the_suite_is_read(tmp_path, trained, message):
    with pytest.raises(UserError, match=message) as err:
        _suite(tmp_path, **trained)
    assert "\n" not in str(err.value)

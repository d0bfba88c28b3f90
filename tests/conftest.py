"""Shared test helpers: seeding and the Fashion-MNIST requirement.

Tests that need Fashion-MNIST skip when it is absent, unless ``SSL_BENCH_REQUIRE_DATA=1`` (set by CI),
in which case they fail: CI must never pass by skipping them.
"""

from __future__ import annotations

import os

# Tests use small tensors; one thread per process avoids OpenMP oversubscription when tests spawn processes
# (DDP workers, suite cells, killed-and-resumed runs), which made some tests 100x slower on 2 busy cores.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

from ssl_bench.core.errors import UserError

# An installable plugin package (tests/test_plugins.py pip-installs it); importing its modules here would register
# its method in this process.
collect_ignore = ["example_plugin"]


def fashion_mnist_available() -> bool:
    from ssl_bench.data.datasets import load_dataset

    try:
        load_dataset("fashion-mnist", "test")
    except UserError:
        return False
    return True


@pytest.fixture
def require_fashion_mnist() -> None:
    if fashion_mnist_available():
        return
    message = "Fashion-MNIST not found (apt-get install dataset-fashion-mnist)"
    if os.environ.get("SSL_BENCH_REQUIRE_DATA") == "1":
        pytest.fail(message + " and SSL_BENCH_REQUIRE_DATA=1")
    pytest.skip(message)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def small_vit(image_size: int = 8, patch: int = 2, channels: int = 1):
    """A 2-block, 32-wide timm ViT as ``vit-tiny`` builds it (no class token, average pool, dynamic size), for tests
    of the masked-image methods."""
    import timm

    return timm.create_model(
        "vit_tiny_patch16_224", pretrained=False, num_classes=0, img_size=image_size, in_chans=channels,
        patch_size=patch, global_pool="avg", class_token=False, dynamic_img_size=True, dynamic_img_pad=True,
        depth=2, embed_dim=32, num_heads=2,
    )


def assert_same_gradients(loss, model, reference_loss, reference) -> None:
    """Backpropagate both losses; every trained parameter of ``model`` gets a gradient equal to that of the
    parameter of the same name in ``reference`` (a copy of it driven by an independent implementation)."""
    loss.backward()
    reference_loss.backward()
    theirs = dict(reference.named_parameters())
    trained = [(name, param) for name, param in model.named_parameters() if param.requires_grad]
    for name, param in trained:
        assert param.grad is not None, f"{name} got no gradient"
        torch.testing.assert_close(param.grad, theirs[name].grad, msg=lambda m, name=name: f"{name}: {m}")

"""Shared test helpers: seeding and the Fashion-MNIST requirement.

Tests that need Fashion-MNIST skip when it is absent, unless ``SSL_BENCH_REQUIRE_DATA=1`` (set by CI),
in which case they fail: CI must never pass by skipping them.
"""

from __future__ import annotations

import os

import pytest
import torch

from ssl_bench.errors import UserError


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
def _seed_and_threads() -> None:
    torch.manual_seed(0)

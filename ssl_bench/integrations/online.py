"""Registered evaluations of an encoder every N epochs of a training loop that is not ssl-bench's.

Examples
--------
>>> import torch
>>> from ssl_bench.integrations.online import OnlineEvaluation
>>> encoder = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(256, 16))
>>> online = OnlineEvaluation("synthetic", every_n_epochs=2, evaluations=["knn"], subset=200, name="mine")
>>> [epoch for epoch in range(1, 5) if online(encoder, epoch) is not None]  # your loop calls it after each epoch
[2, 4]
>>> [record["epoch"] for record in online.history], sorted(online.history[-1])
([2, 4], ['epoch', 'knn_top1', 'knn_top1_k20'])
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Callable

from torch import Tensor, nn

from ssl_bench.api import evaluate_encoder, record_result
from ssl_bench.core.errors import UserError
from ssl_bench.core.settings import DEFAULT_DATASET, MANUAL_SUITE


class OnlineEvaluation:
    """Call ``online(encoder, epoch)`` after each epoch (epochs counted from 1): every ``every_n_epochs`` it runs
    :func:`ssl_bench.api.evaluate_encoder` with these settings and returns the result (metrics and protocol), else
    None. ``history`` keeps one record per evaluation (``epoch`` and the numbers); ``last`` the latest result.
    :meth:`record` puts the latest result into a results store, with the history as its epoch records."""

    def __init__(self, dataset: str = DEFAULT_DATASET, every_n_epochs: int = 1,
                 evaluations: Sequence[str] = ("knn",), *, name: str = "encoder", subset: int | None = None,
                 seed: int = 0, channels: int | None = None, image_size: int | None = None,
                 normalization: str = "dataset", device: str = "auto") -> None:
        if not isinstance(every_n_epochs, int) or every_n_epochs < 1:
            raise UserError(f"every_n_epochs must be a positive integer, got {every_n_epochs!r}")
        self.every_n_epochs, self.dataset, self.evaluations = every_n_epochs, dataset, list(evaluations)
        self.settings = {"name": name, "subset": subset, "seed": seed, "channels": channels, "image_size": image_size,
                         "normalization": normalization, "device": device}
        self.history: list[dict[str, Any]] = []
        self.last: dict[str, Any] | None = None

    def __call__(self, encoder: nn.Module | Callable[[Tensor], Tensor], epoch: int) -> dict[str, Any] | None:
        if epoch % self.every_n_epochs:
            return None
        return self.evaluate(encoder, epoch)

    def evaluate(self, encoder: nn.Module | Callable[[Tensor], Tensor], epoch: int) -> dict[str, Any]:
        """Evaluate now, whatever the epoch (e.g. once more at the end of training)."""
        result = evaluate_encoder(encoder, self.dataset, evaluations=self.evaluations, **self.settings)
        self.last = {**result, "protocol": {**result["protocol"], "epochs": epoch}}
        self.history = [record for record in self.history if record["epoch"] != epoch]
        self.history.append({"epoch": epoch, **numbers(result)})
        return self.last

    def record(self, store: str | Path | None = None, suite: str = MANUAL_SUITE, tool: str = "ssl-bench online") -> str:
        """Put the latest result into the store at ``store`` (default: ``$SSL_BENCH_STORE`` or
        results/ssl_bench.sqlite) as a run of ``suite``; returns its run id."""
        if self.last is None:
            raise UserError("nothing evaluated yet; call the online evaluation (or .evaluate) before .record")
        return record_result(self.last, store, suite=suite, tool=tool, epoch_metrics=self.history)


def numbers(result: dict[str, Any]) -> dict[str, float]:
    """The top-level numbers of a result (``knn_top1``, ``rankme``, ...), the form a logger takes."""
    return {key: float(value) for key, value in result.items()
            if isinstance(value, (int, float)) and not isinstance(value, bool) and key not in ("n_train", "n_test",
                                                                                              "feature_dim")}

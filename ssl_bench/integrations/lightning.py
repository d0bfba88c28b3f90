"""A Lightning callback that evaluates the module's encoder every N epochs under ssl-bench's protocol, logs the
numbers to the trainer's loggers (``ssl_bench/knn_top1``, ...) and can record the last result into a store.

Needs Lightning (``pip install 'ssl-bench[lightning]'``): ``lightning.pytorch`` when installed, else the older
``pytorch_lightning`` package; use the callback with a ``Trainer`` of the same package (:data:`pl`)::

    from ssl_bench.integrations.lightning import SSLBenchCallback, pl
    callback = SSLBenchCallback("fashion-mnist", encoder="backbone", every_n_epochs=10, evaluations=["knn"],
                                name="my-ssl", store="results/ssl_bench.sqlite")
    pl.Trainer(max_epochs=100, callbacks=[callback]).fit(model, data)   # tests/test_integrations.py runs one
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Callable

from torch import nn

from ssl_bench.core.errors import UserError
from ssl_bench.core.settings import DEFAULT_DATASET, MANUAL_SUITE
from ssl_bench.integrations.online import OnlineEvaluation, numbers

if importlib.util.find_spec("lightning") is not None:
    import lightning.pytorch as pl
elif importlib.util.find_spec("pytorch_lightning") is not None:
    import pytorch_lightning as pl
else:
    raise UserError("the Lightning callback needs Lightning: pip install 'ssl-bench[lightning]'")

PREFIX = "ssl_bench/"


class SSLBenchCallback(pl.Callback):
    """Every ``every_n_epochs`` training epochs (and once at the end of ``fit`` unless the last epoch was one),
    evaluate ``encoder`` (an attribute name of the LightningModule, default ``backbone``, or a function of the
    module that returns the encoder) with :class:`~ssl_bench.integrations.online.OnlineEvaluation`, on the global
    rank 0 only; log ``ssl_bench/NAME`` to every logger of the trainer at the trainer's global step. With
    ``store``, the final result joins that store as a run of ``suite`` named ``name``."""

    def __init__(self, dataset: str = DEFAULT_DATASET, encoder: str | Callable[[Any], nn.Module] = "backbone",
                 every_n_epochs: int = 1, evaluations: Sequence[str] = ("knn",), *, name: str = "lightning",
                 store: str | Path | None = None, suite: str = MANUAL_SUITE, **settings: Any) -> None:
        super().__init__()
        self.online = OnlineEvaluation(dataset, every_n_epochs, evaluations, name=name, **settings)
        self.encoder, self.store, self.suite = encoder, store, suite
        self.run_id: str | None = None

    def _encoder(self, module: Any) -> nn.Module:
        if callable(self.encoder):
            return self.encoder(module)
        found = getattr(module, self.encoder, None)
        if found is None:
            raise UserError(f"the LightningModule has no attribute {self.encoder!r}; pass encoder= the name of its "
                            f"encoder or a function of the module that returns it")
        return found

    def _evaluate(self, trainer: Any, module: Any, epoch: int) -> None:
        result = self.online.evaluate(self._encoder(module), epoch)
        for logger in trainer.loggers:
            logger.log_metrics({PREFIX + key: value for key, value in numbers(result).items()},
                               step=trainer.global_step)

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        epoch = trainer.current_epoch + 1
        if trainer.is_global_zero and epoch % self.online.every_n_epochs == 0:
            self._evaluate(trainer, pl_module, epoch)

    def on_fit_end(self, trainer: Any, pl_module: Any) -> None:
        if not trainer.is_global_zero:
            return
        epoch = trainer.current_epoch  # the count of finished epochs once fit has ended
        if not self.online.history or self.online.history[-1]["epoch"] != epoch:
            self._evaluate(trainer, pl_module, epoch)
        if self.store is not None:
            self.run_id = self.online.record(self.store, self.suite, tool=f"Lightning {pl.__version__} + ssl-bench")

"""ssl-bench: self-supervised learning methods and their spectral closed forms, under one protocol.

The Python API (:mod:`ssl_bench.api`) is importable from here (``ssl_bench.evaluate_encoder``, ...); its names are
imported when first used, so ``import ssl_bench`` stays cheap."""

from ssl_bench.core.registry import lazy_exports

__version__ = "0.1.0"
API = ("TrainConfig", "add_run", "evaluate_baseline", "evaluate_encoder", "evaluate_pretrained", "evaluate_run",
       "evaluate_spectral", "import_result", "load_encoder", "open_store", "record_result", "train")
__getattr__ = lazy_exports(__name__, dict.fromkeys(API, "api"))

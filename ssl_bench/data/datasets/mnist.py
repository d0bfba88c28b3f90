"""``mnist``: idx files (:mod:`ssl_bench.data.datasets.idx`)."""

from ssl_bench.data.datasets.base import DATASETS
from ssl_bench.data.datasets.idx import idx_spec

DATASETS.register("mnist")(idx_spec("mnist"))

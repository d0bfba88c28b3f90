"""``stl10``: read by torchvision (:mod:`ssl_bench.data.datasets.torchvision_sets`)."""

from ssl_bench.data.datasets.base import DATASETS
from ssl_bench.data.datasets.torchvision_sets import torchvision_spec

DATASETS.register("stl10")(torchvision_spec("stl10", 5000, 8000, 96, 10))

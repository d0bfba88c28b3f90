"""``cifar10``: read by torchvision (:mod:`ssl_bench.data.datasets.torchvision_sets`)."""

from ssl_bench.data.datasets.base import DATASETS
from ssl_bench.data.datasets.torchvision_sets import torchvision_spec

DATASETS.register("cifar10")(torchvision_spec("cifar10", 50000, 10000, 32, 10))

"""Datasets, one module each, registered in :data:`DATASETS` under the name of their file (a plugin package:
:mod:`ssl_bench.core.registry`); :mod:`ssl_bench.data.datasets.base` holds what they share (``load_dataset``,
subsets, normalisation statistics), ``idx`` and ``torchvision_sets`` the readers of their formats."""

from __future__ import annotations

from ssl_bench.core.registry import lazy_exports

NOT_PLUGINS = ("base", "idx", "torchvision_sets")

_EXPORTS = {
    **dict.fromkeys(("ImageDataset", "DatasetSpec", "DATASETS", "SPLITS", "DEFAULT_DATA_ROOT", "DEBIAN_FASHION_MNIST",
                     "IMAGEFOLDER_SIZE", "MIN_SUBSET", "data_root", "load_dataset", "dataset_spec", "dataset_available",
                     "parse_imagefolder", "balanced_subset", "balanced_indices", "train_split", "test_split",
                     "test_rows", "normalization_stats",
                     "dataset_table"), "base"),
    **dict.fromkeys(("IDX_FILES", "read_idx"), "idx"),
    "TORCHVISION_FOLDERS": "torchvision_sets",
    **dict.fromkeys(("imagefolder_samples", "decode_imagefolder_image"), "imagefolder"),
    "make_synthetic": "synthetic",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)

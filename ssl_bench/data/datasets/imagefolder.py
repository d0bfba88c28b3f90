"""``imagefolder[@S]:PATH``: ``PATH/train/CLASS/*`` and ``PATH/test/CLASS/*``, converted to RGB, the shorter side
resized to S (default :data:`~ssl_bench.data.datasets.base.IMAGEFOLDER_SIZE`) and centre-cropped to a square."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from ssl_bench.core.errors import UserError
from ssl_bench.data.datasets.base import (
    DATASETS,
    IMAGEFOLDER_SIZE,
    SPLITS,
    DatasetSpec,
    ImageDataset,
    nothing_to_download,
    parse_imagefolder,
)


def _load_imagefolder(name: str, split: str) -> ImageDataset:
    """Decode every image of ``PATH/split/CLASS/*`` of ``imagefolder[@S]:PATH`` with :func:`decode_imagefolder_image`."""
    path, size = parse_imagefolder(name)
    files, labels, num_classes = imagefolder_samples(path, split)
    images = torch.stack([decode_imagefolder_image(file, size) for file in files])
    return ImageDataset(images, labels, num_classes, name)


def imagefolder_samples(path: str, split: str) -> tuple[list[str], Tensor, int]:
    """(image files, int64 labels ``(N,)``, number of classes) of ``PATH/split/CLASS/*``, in torchvision's
    ImageFolder order (classes sorted, files sorted within a class); nothing is decoded."""
    import torchvision

    root = Path(path).expanduser()
    folders = {s: root / s for s in SPLITS}
    missing = [str(folder) for folder in folders.values() if not folder.is_dir()]
    if missing:
        raise UserError(f"imagefolder:{path} needs the folders {missing}, one subfolder of images per class inside")
    try:
        sets = {s: torchvision.datasets.ImageFolder(str(folder)) for s, folder in folders.items()}
    except (FileNotFoundError, RuntimeError) as err:
        raise UserError(f"imagefolder:{path}: {err}") from err
    if sets["train"].classes != sets["test"].classes:
        raise UserError(
            f"imagefolder:{path}: train classes {sets['train'].classes} differ from test classes "
            f"{sets['test'].classes}; give both splits the same class folders"
        )
    files = [file for file, _ in sets[split].samples]
    return files, torch.tensor(sets[split].targets, dtype=torch.int64), len(sets[split].classes)


def decode_imagefolder_image(file: str, size: int = IMAGEFOLDER_SIZE) -> Tensor:
    """uint8 ``(3, S, S)``, S = ``size``: ``file`` converted to RGB, shorter side resized to S (bilinear,
    antialiased), centre-cropped to a square. Both the in-memory and the streamed path decode with this."""
    from PIL import Image
    from torchvision.transforms import functional as TF

    try:
        with Image.open(file) as opened:
            image = TF.center_crop(TF.resize(opened.convert("RGB"), size), size)
    except Exception as err:  # PIL raises OSError, ValueError, DecompressionBombError, ... for one bad file
        raise UserError(f"cannot decode image {file} ({type(err).__name__}: {err}); remove or replace it") from err
    return TF.pil_to_tensor(image)


DATASETS.register("imagefolder")(DatasetSpec(
    "imagefolder:PATH", None, None, 3, IMAGEFOLDER_SIZE, None, _load_imagefolder,
    lambda arg: all((Path(parse_imagefolder(arg)[0]).expanduser() / split).is_dir() for split in SPLITS),
    nothing_to_download, takes_path=True))

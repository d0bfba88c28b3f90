"""Dataset name -> :class:`ImageDataset` of uint8 images, decoded once; where each dataset is looked for.

Names (the registry :data:`DATASETS`):

- ``fashion-mnist`` (the offline default) and ``mnist``: idx files (gzipped or not), read by :func:`read_idx`.
  Fashion-MNIST is looked for in ``$SSL_BENCH_DATA`` (the files themselves, or a ``fashion-mnist/`` or
  ``FashionMNIST/raw/`` subfolder), then in the Debian package's :data:`DEBIAN_FASHION_MNIST`, then in
  torchvision's layout under :func:`data_root`. MNIST: ``$SSL_BENCH_DATA/mnist/`` or ``MNIST/raw/`` under the
  data root. (idx files directly in ``$SSL_BENCH_DATA`` count as Fashion-MNIST: both sets use the same file
  names.) Debian recompresses its files, so torchvision's checksums fail on them; reading the idx format here
  avoids that.
- ``cifar10``, ``cifar100``, ``stl10`` (its labelled train/test splits): torchvision, under :func:`data_root`.
- ``imagefolder:PATH``: ``PATH/train/CLASS/*`` and ``PATH/test/CLASS/*``, converted to RGB, the shorter side
  resized to :data:`IMAGEFOLDER_SIZE` (``imagefolder@S:PATH``: to S, e.g. 224) and centre-cropped to a square. A split too large for memory is streamed
  from disk instead, with the same decoder (:mod:`ssl_bench.data.streaming`).
- ``synthetic``: a small generated, learnable set for tests (see :func:`make_synthetic`).

Nothing is downloaded unless ``download=True``. Decoded tensors are cached in-process, keyed by the name, split
and search locations, so a second :func:`load_dataset` is free; treat the returned tensors as read-only.
"""

from __future__ import annotations

import functools
import gzip
import os
import zlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import torch
from torch import Tensor

from ssl_bench.core.errors import UserError
from ssl_bench.core.registry import Registry
from ssl_bench.core.settings import MIN_SUBSET

SPLITS = ("train", "test")
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
DEFAULT_DATA_ROOT = Path("~/.cache/ssl-bench")
IMAGEFOLDER_SIZE = 32
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


@dataclass(frozen=True)
class ImageDataset:
    """A labelled image set held in memory.

    ``images``: uint8 ``(N, C, H, W)``; ``labels``: int64 ``(N,)`` in ``[0, num_classes)``; ``name``: the dataset
    name it was loaded by.
    """

    images: Tensor
    labels: Tensor
    num_classes: int
    name: str

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def channels(self) -> int:
        return self.images.shape[1]

    @property
    def image_size(self) -> int:
        """Side length H (the images are square for every registered dataset)."""
        return self.images.shape[2]

    def pixel_histograms(self) -> Tensor:
        """int64 ``(C, 256)``: how often each pixel value occurs in each channel."""
        return torch.stack([torch.bincount(self.images[:, c].reshape(-1), minlength=256) for c in range(self.channels)])


@dataclass(frozen=True)
class DatasetSpec:
    """What the registry knows about a dataset without loading it; ``None`` where it depends on the data.

    ``load(arg, split)`` decodes one split (``arg`` is the whole name for ``imagefolder[@S]:PATH``, else ``""``) and raises
    :class:`UserError` saying where it looked when the data is missing; ``available(arg)`` checks for the files
    without decoding; ``download(arg)`` fetches them (a no-op when they are present or nothing can be fetched).
    """

    name: str
    n_train: int | None
    n_test: int | None
    channels: int | None
    image_size: int | None
    num_classes: int | None
    load: Callable[[str, str], ImageDataset]
    available: Callable[[str], bool]
    download: Callable[[str], None]


DATASETS: Registry[DatasetSpec] = Registry("dataset")


def data_root() -> Path:
    """``$SSL_BENCH_DATA`` if set, else ``~/.cache/ssl-bench``: where torchvision files are read and downloaded."""
    return Path(os.environ.get("SSL_BENCH_DATA") or DEFAULT_DATA_ROOT).expanduser()


def load_dataset(name: str, split: str = "train", download: bool = False) -> ImageDataset:
    """The ``split`` ("train" or "test") of dataset ``name``; downloads only when ``download`` is true."""
    if split not in SPLITS:
        raise UserError(f"unknown split {split!r}; choose one of: {', '.join(SPLITS)}")
    spec, arg = _lookup(name)
    if download:
        spec.download(arg)
    return _load_cached(name, split, os.environ.get("SSL_BENCH_DATA", ""), str(DEBIAN_FASHION_MNIST))


@functools.lru_cache(maxsize=None)
def _load_cached(name: str, split: str, env_root: str, debian_dir: str) -> ImageDataset:
    """Decode once per (name, split, search locations); failures raise and are not cached."""
    spec, arg = _lookup(name)
    return spec.load(arg, split)


def dataset_spec(name: str) -> DatasetSpec:
    """The registered spec of ``name`` (``imagefolder:PATH`` included); UserError listing the valid names."""
    return _lookup(name)[0]


def dataset_available(name: str) -> bool:
    """Whether ``name``'s files are here (``imagefolder:PATH`` included), without decoding or fetching anything."""
    spec, arg = _lookup(name)
    return bool(spec.available(arg))


def _lookup(name: str) -> tuple[DatasetSpec, str]:
    """The spec of ``name`` and the argument its ``load`` takes; an ``imagefolder@S:PATH`` spec says its size S."""
    folder = parse_imagefolder(name)
    if folder is not None:
        return replace(DATASETS.get("imagefolder:PATH"), image_size=folder[1]), name
    return DATASETS.get(name), ""


def parse_imagefolder(name: str) -> tuple[str, int] | None:
    """(PATH, image size) of ``imagefolder:PATH`` (size :data:`IMAGEFOLDER_SIZE`) or ``imagefolder@S:PATH``
    (size S); None for any other name. A missing PATH or a bad S is one :class:`UserError` line."""
    prefix, colon, path = name.partition(":")
    if not colon or not (prefix == "imagefolder" or prefix.startswith("imagefolder@")):
        return None
    size = prefix.removeprefix("imagefolder").removeprefix("@") or str(IMAGEFOLDER_SIZE)
    if not size.isdigit() or not 8 <= int(size) <= 1024:
        raise UserError(f"{name!r}: the image size after imagefolder@ must be a whole number of pixels in [8, 1024], "
                        "e.g. imagefolder@224:PATH")
    if not path:
        raise UserError("imagefolder needs a folder: use imagefolder:PATH with PATH/train and PATH/test inside")
    return path, int(size)


def balanced_subset(ds: ImageDataset, n: int, seed: int) -> ImageDataset:
    """A fixed, seeded, class-balanced subset of ``n`` images, kept in the original order (see
    :func:`balanced_indices`)."""
    index = balanced_indices(ds.labels, ds.num_classes, n, seed, ds.name)
    return ImageDataset(ds.images[index], ds.labels[index], ds.num_classes, ds.name)


def balanced_indices(labels: Tensor, num_classes: int, n: int, seed: int, name: str) -> Tensor:
    """Sorted int64 indices into ``labels: (N,)`` of a seeded, class-balanced subset of ``n`` images.

    Class c gets ``n // K`` images, plus one for the first ``n % K`` classes (K = ``num_classes``), drawn without
    replacement by a ``torch.Generator`` seeded with ``seed``: the same (labels, n, seed) gives the same subset.
    ``name`` (the dataset's) only appears in errors.
    """
    if not MIN_SUBSET <= n <= len(labels):
        raise UserError(f"subset size must be between {MIN_SUBSET} and {len(labels)} (the size of {name}), got {n}; "
                        "leave --subset out for the whole split")
    generator = torch.Generator().manual_seed(seed)
    quota, extra = divmod(n, num_classes)
    chosen = []
    for label in range(num_classes):
        members = torch.nonzero(labels == label).flatten()
        count = quota + (1 if label < extra else 0)
        if count > len(members):
            raise UserError(
                f"a balanced subset of {n} needs {count} images of class {label} but {name} has {len(members)}; "
                "pass a smaller --subset"
            )
        chosen.append(members[torch.randperm(len(members), generator=generator)[:count]])
    return torch.sort(torch.cat(chosen)).values


def train_split(name: str, subset: int | None, seed: int, download: bool = False) -> ImageDataset:
    """The train split of ``name``, or its seeded class-balanced ``subset`` when one is given (None: all of it)."""
    data = load_dataset(name, "train", download=download)
    return data if subset is None else balanced_subset(data, subset, seed)


def normalization_stats(ds: ImageDataset) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and standard deviation of the pixel values scaled to [0, 1].

    mean_c = (1/M) sum x/255, std_c = sqrt((1/M) sum (x/255)^2 - mean_c^2) over the M = N H W pixels of channel c,
    computed exactly from ``ds.pixel_histograms()`` (the 256-bin histogram of each channel). A streamed split
    (:class:`ssl_bench.data.streaming.StreamedSplit`) counts its histograms in one pass over every image, so it gets
    the same values as the split held in memory.
    """
    values = torch.arange(256, dtype=torch.float64) / 255.0
    means, stds = [], []
    for counts in ds.pixel_histograms():
        histogram = counts.double()
        histogram /= histogram.sum()
        mean = float((histogram * values).sum())
        var = float((histogram * values**2).sum()) - mean**2
        means.append(mean)
        stds.append(max(var, 0.0) ** 0.5)
    return tuple(means), tuple(stds)


def dataset_table() -> list[dict]:
    """One row per registered dataset: name, sizes, shape, classes and whether it is here (nothing is fetched).

    ``available`` is ``None`` for ``imagefolder:PATH``, which depends on the PATH given.
    """
    rows = []
    for name in DATASETS:
        spec = DATASETS.get(name)
        rows.append(
            {
                "name": name,
                "n_train": spec.n_train,
                "n_test": spec.n_test,
                "channels": spec.channels,
                "size": spec.image_size,
                "num_classes": spec.num_classes,
                "available": None if name == "imagefolder:PATH" else spec.available(""),
            }
        )
    return rows


# --- idx files (MNIST, Fashion-MNIST) -------------------------------------------------------------------------


def read_idx(path: str | Path) -> Tensor:
    """A uint8 tensor from an idx file (gzipped or not), validated against its header.

    Layout: 2 zero bytes, a type byte (0x08 = unsigned byte, the only type read here), the number of
    dimensions d, then d big-endian uint32 sizes, then prod(sizes) bytes in C order.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as err:
        message = f"cannot read {path} ({err}); the file is corrupt: delete it and get the dataset again"
        raise UserError(message) from err
    if len(raw) < 4 or raw[:2] != b"\x00\x00":
        raise UserError(f"{path} is not an idx file (bad magic number); delete it and get the dataset again")
    if raw[2] != 0x08:
        raise UserError(f"{path} holds idx type 0x{raw[2]:02x}; only unsigned-byte idx files (0x08) are supported")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise UserError(f"{path} has a truncated idx header; delete it and get the dataset again")
    shape = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    expected = header + _prod(shape)
    if len(raw) != expected:
        raise UserError(
            f"{path} holds {len(raw)} bytes but its header {shape} needs {expected}; the file is truncated or "
            "corrupt: delete it and get the dataset again"
        )
    return torch.frombuffer(bytearray(raw[header:]), dtype=torch.uint8).reshape(shape)


def _prod(sizes: list[int]) -> int:
    total = 1
    for size in sizes:
        total *= size
    return total


def _idx_file(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _idx_folders(name: str) -> list[Path]:
    """Where the idx files of ``name`` are looked for, in order."""
    env = os.environ.get("SSL_BENCH_DATA")
    if name == "fashion-mnist":
        folders = [Path(env), Path(env) / "fashion-mnist"] if env else []
        return folders + [DEBIAN_FASHION_MNIST, data_root() / "FashionMNIST" / "raw"]
    return ([Path(env) / "mnist"] if env else []) + [data_root() / "MNIST" / "raw"]


def _find_idx_split(name: str, split: str) -> tuple[Path, Path] | None:
    for folder in _idx_folders(name):
        images, labels = (_idx_file(folder, stem) for stem in IDX_FILES[split])
        if images and labels:
            return images, labels
    return None


def _idx_missing(name: str) -> UserError:
    looked = ", ".join(str(folder) for folder in _idx_folders(name))
    hint = "apt-get install dataset-fashion-mnist, or pass --download" if name == "fashion-mnist" else "pass --download"
    return UserError(f"{name} not found (looked in {looked}); get it with: {hint}")


def _idx_loader(name: str, num_classes: int) -> Callable[[str, str], ImageDataset]:
    def load(arg: str, split: str) -> ImageDataset:
        found = _find_idx_split(name, split)
        if found is None:
            raise _idx_missing(name)
        images, labels = (read_idx(path) for path in found)
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise UserError(
                f"{found[0]} and {found[1]} do not fit together (shapes {tuple(images.shape)} and "
                f"{tuple(labels.shape)}); delete them and get {name} again"
            )
        labels = labels.long()
        if len(labels) and int(labels.max()) >= num_classes:
            raise UserError(f"{found[1]} has label {int(labels.max())} >= {num_classes}; it is not {name}")
        return ImageDataset(images.unsqueeze(1).contiguous(), labels, num_classes, name)

    return load


def _idx_available(name: str) -> Callable[[str], bool]:
    return lambda arg: all(_find_idx_split(name, split) is not None for split in SPLITS)


def _idx_download(name: str) -> Callable[[str], None]:
    def download(arg: str) -> None:
        if _idx_available(name)(arg):
            return
        import torchvision

        cls = torchvision.datasets.FashionMNIST if name == "fashion-mnist" else torchvision.datasets.MNIST
        _torchvision_download(name, lambda: cls(str(data_root()), download=True))

    return download


# --- torchvision datasets (CIFAR, STL-10) ---------------------------------------------------------------------


def _torchvision_download(name: str, fetch: Callable[[], object]) -> None:
    try:
        fetch()
    except (OSError, RuntimeError) as err:
        message = f"downloading {name} into {data_root()} failed ({err}); check the network or SSL_BENCH_DATA"
        raise UserError(message) from err


def _torchvision_set(name: str, split: str, download: bool) -> object:
    import torchvision

    root = str(data_root())
    if name == "stl10":
        return torchvision.datasets.STL10(root, split=split, download=download)
    cls = torchvision.datasets.CIFAR10 if name == "cifar10" else torchvision.datasets.CIFAR100
    return cls(root, train=split == "train", download=download)


def _torchvision_loader(name: str, num_classes: int) -> Callable[[str, str], ImageDataset]:
    def load(arg: str, split: str) -> ImageDataset:
        try:
            source = _torchvision_set(name, split, download=False)
        except RuntimeError as err:
            raise UserError(
                f"{name} not found under {data_root()} ({err}); pass --download, or set SSL_BENCH_DATA to the folder "
                "that holds it"
            ) from err
        if name == "stl10":
            images = torch.from_numpy(source.data).contiguous()  # already (N, C, H, W)
            labels = torch.as_tensor(source.labels, dtype=torch.int64)
        else:
            images = torch.from_numpy(source.data).permute(0, 3, 1, 2).contiguous()  # from (N, H, W, C)
            labels = torch.as_tensor(source.targets, dtype=torch.int64)
        return ImageDataset(images, labels, num_classes, name)

    return load


TORCHVISION_FOLDERS = {"cifar10": "cifar-10-batches-py", "cifar100": "cifar-100-python", "stl10": "stl10_binary"}


def _torchvision_available(name: str) -> Callable[[str], bool]:
    return lambda arg: (data_root() / TORCHVISION_FOLDERS[name]).is_dir()


def _torchvision_fetch(name: str) -> Callable[[str], None]:
    return lambda arg: _torchvision_download(name, lambda: _torchvision_set(name, "train", download=True))


# --- imagefolder:PATH -----------------------------------------------------------------------------------------


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
    except OSError as err:
        raise UserError(f"cannot decode image {file} ({err}); remove or replace it") from err
    return TF.pil_to_tensor(image)


# --- synthetic ------------------------------------------------------------------------------------------------


SYNTHETIC_SIZE = 16
SYNTHETIC_PATCH = 8


def _synthetic_patterns() -> Tensor:
    """Ten 8x8 binary patterns, one per class: bars, diagonals, crosses, squares, dots, corner, ring."""
    p = torch.zeros(10, SYNTHETIC_PATCH, SYNTHETIC_PATCH)
    i = torch.arange(SYNTHETIC_PATCH)
    p[0, 3:5, :] = 1  # horizontal bar
    p[1, :, 3:5] = 1  # vertical bar
    p[2, i, i] = 1  # diagonal
    p[3, i, 7 - i] = 1  # anti-diagonal
    p[4, 3:5, :] = 1  # plus
    p[4, :, 3:5] = 1
    p[5, i, i] = 1  # X
    p[5, i, 7 - i] = 1
    p[6, [0, 7], :] = 1  # square outline
    p[6, :, [0, 7]] = 1
    p[7, 2:6, 2:6] = 1  # filled square
    p[8, 0:2, 0:2] = 1  # two dots
    p[8, 6:8, 6:8] = 1
    p[9, :, 0:2] = 1  # corner (L)
    p[9, 6:8, :] = 1
    return p


def make_synthetic(n: int, seed: int) -> tuple[Tensor, Tensor]:
    """``n`` 1x16x16 uint8 images of 10 classes (n/10 each when divisible, labels cycling 0..9).

    x = clip(a * P_y placed at a random offset (0..8, 0..8) + noise, 0, 1) * 255, with intensity
    a ~ U(0.4, 1), background noise N(0, 0.25^2): shapes are clear to a learner, but the position jitter
    makes raw-pixel nearest neighbours imperfect.
    """
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 10
    patterns = _synthetic_patterns()[labels]
    room = SYNTHETIC_SIZE - SYNTHETIC_PATCH + 1
    offsets = torch.randint(0, room, (n, 2), generator=generator)
    canvas = torch.zeros(n, SYNTHETIC_SIZE, SYNTHETIC_SIZE)
    rows = offsets[:, 0, None, None] + torch.arange(SYNTHETIC_PATCH)[None, :, None]
    cols = offsets[:, 1, None, None] + torch.arange(SYNTHETIC_PATCH)[None, None, :]
    canvas[torch.arange(n)[:, None, None], rows, cols] = patterns
    intensity = 0.4 + 0.6 * torch.rand(n, 1, 1, generator=generator)
    noise = 0.25 * torch.randn(n, SYNTHETIC_SIZE, SYNTHETIC_SIZE, generator=generator)
    images = ((canvas * intensity + noise).clamp(0, 1) * 255).round().to(torch.uint8)
    return images.unsqueeze(1), labels


def _load_synthetic(arg: str, split: str) -> ImageDataset:
    n, seed = (1000, 0) if split == "train" else (500, 1)
    images, labels = make_synthetic(n, seed)
    return ImageDataset(images, labels, 10, "synthetic")


# --- the registry ---------------------------------------------------------------------------------------------


def _nothing_to_download(arg: str) -> None:
    return None


def _register(spec: DatasetSpec) -> None:
    DATASETS.register(spec.name)(spec)


def _idx_spec(name: str) -> DatasetSpec:
    return DatasetSpec(name, 60000, 10000, 1, 28, 10, _idx_loader(name, 10), _idx_available(name), _idx_download(name))


def _torchvision_spec(name: str, n_train: int, n_test: int, size: int, num_classes: int) -> DatasetSpec:
    return DatasetSpec(
        name,
        n_train,
        n_test,
        3,
        size,
        num_classes,
        _torchvision_loader(name, num_classes),
        _torchvision_available(name),
        _torchvision_fetch(name),
    )


_register(_idx_spec("fashion-mnist"))
_register(_idx_spec("mnist"))
_register(_torchvision_spec("cifar10", 50000, 10000, 32, 10))
_register(_torchvision_spec("cifar100", 50000, 10000, 32, 100))
_register(_torchvision_spec("stl10", 5000, 8000, 96, 10))
_register(
    DatasetSpec(
        "imagefolder:PATH",
        None,
        None,
        3,
        IMAGEFOLDER_SIZE,
        None,
        _load_imagefolder,
        lambda arg: all((Path(parse_imagefolder(arg)[0]).expanduser() / split).is_dir() for split in SPLITS),
        _nothing_to_download,
    )
)
_register(
    DatasetSpec("synthetic", 1000, 500, 1, SYNTHETIC_SIZE, 10, _load_synthetic, lambda arg: True, _nothing_to_download)
)

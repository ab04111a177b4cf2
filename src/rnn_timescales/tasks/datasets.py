"""Image data sets for delayed recall, read from local files only (nothing is ever downloaded).

- ``digits``: scikit-learn's bundled 8 x 8 handwritten digits (1797 images, 17 grey levels), the
  default: no files needed. A fixed split: every fifth image (indices 4, 9, 14, ...) is held out
  for testing (359 images), the other 1438 are for training.
- ``mnist``: the four IDX files of MNIST (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
  ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each plain or gzipped with a ``.gz``
  suffix) in one folder; the 60 000 training and 10 000 test images as published.
- ``cifar10``: the binary version of CIFAR-10 (``data_batch_1.bin`` ... ``data_batch_5.bin`` and
  ``test_batch.bin``, each record one label byte then 3072 pixel bytes, red, green, blue planes of
  32 x 32) in one folder, or in its ``cifar-10-batches-bin`` subfolder.

Pixels are kept as bytes and scaled to [0, 1] when used (digits: value / 16; MNIST and CIFAR-10:
value / 255). Every image set records the mean and standard deviation of its training pixels
after scaling (MNIST: 0.1307 and 0.3081), the statistics of the noise frames of delayed recall.

A data set is read once per process, on first use (:func:`load_dataset`), never when a task is
constructed. A missing or malformed file raises :class:`DatasetError` with one line naming the
path and the format expected.
"""

from __future__ import annotations

import functools
import gzip
import math
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from rnn_timescales.errors import DatasetError

DATASETS = ("digits", "mnist", "cifar10")
IMAGE_SHAPES: dict[str, tuple[int, int, int]] = {"digits": (1, 8, 8), "mnist": (1, 28, 28), "cifar10": (3, 32, 32)}
"""(channels, height, width) of each data set's images; known without reading any file."""
N_LABELS = 10
"""Labels 0 ... 9 in every data set (digits, or the ten CIFAR-10 categories)."""

MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
CIFAR_TRAIN = tuple(f"data_batch_{k}.bin" for k in range(1, 6))
CIFAR_TEST = "test_batch.bin"
CIFAR_SUBDIR = "cifar-10-batches-bin"
_IDX_UBYTE = 0x08


@dataclass(frozen=True)
class ImageSplit:
    """The images of one split, sorted by label so that a label's images are contiguous.

    pixels: (n, D) uint8, each image flattened (channels, height, width) row-major.
    labels: (n,) long in 0 ... 9, ascending.
    offsets, counts: (10,) long, where each label's images start and how many there are.
    """

    pixels: torch.Tensor
    labels: torch.Tensor
    offsets: torch.Tensor
    counts: torch.Tensor

    def to(self, device: torch.device | str) -> ImageSplit:
        return ImageSplit(*(t.to(device) for t in (self.pixels, self.labels, self.offsets, self.counts)))


@dataclass(frozen=True)
class ImageDataset:
    """A labelled image set: its training and test splits and its pixel statistics.

    scale: a stored pixel value times ``scale`` is the pixel intensity, in [0, 1].
    image_shape: (channels, height, width). mean, std: of the scaled training pixels.
    The tensors are shared by every user in the process: read them, never write to them.
    """

    name: str
    train: ImageSplit
    test: ImageSplit
    scale: float
    image_shape: tuple[int, int, int]
    mean: float
    std: float

    @property
    def image_size(self) -> int:
        """D, pixels per image."""
        return math.prod(self.image_shape)


def load_dataset(name: str, data_dir: str | Path | None = None) -> ImageDataset:
    """The data set ``name`` (``digits``, ``mnist`` or ``cifar10``), read from ``data_dir`` (not
    used for digits). Read once per process and data folder; DatasetError if a file is missing or
    malformed."""
    if name not in DATASETS:
        raise DatasetError(f"task.dataset: unknown data set {name!r}; choose one of {', '.join(DATASETS)}")
    if name == "digits":
        return _cached(name, None)
    if data_dir is None:
        raise DatasetError(f"task.data_dir is required for task.dataset {name!r}: give the folder holding its files")
    folder = Path(data_dir).expanduser()
    if not folder.is_dir():
        what = "IDX files" if name == "mnist" else "binary batches (data_batch_1.bin ... test_batch.bin)"
        raise DatasetError(f"task.data_dir {str(data_dir)!r} is not a folder; give the folder holding the {name} {what}")
    return _cached(name, str(folder.resolve()), str(folder))


@functools.lru_cache(maxsize=4)
def _cached(name: str, resolved: str | None, given: str | None = None) -> ImageDataset:
    """The data set read from the folder ``resolved`` (the key: the same folder however it is
    reached from the working directory), named in messages as the user gave it (``given``)."""
    if name == "digits":
        return _digits()
    if name == "mnist":
        return _mnist(Path(given))
    return _cifar10(Path(given))


def split_by_label(pixels: np.ndarray, labels: np.ndarray, where: str) -> ImageSplit:
    """An :class:`ImageSplit` of images (n, D) uint8 and labels (n,); every label 0 ... 9 must
    occur (``where`` names the files in the error)."""
    counts = np.bincount(labels, minlength=N_LABELS)
    if counts.size > N_LABELS or (counts == 0).any():
        missing = [k for k in range(N_LABELS) if counts[k] == 0]
        raise DatasetError(f"{where}: expected images of every label 0-9, "
                           + (f"label {missing[0]} has none" if missing else f"found label {counts.size - 1}"))
    order = np.argsort(labels, kind="stable")
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return ImageSplit(
        pixels=torch.from_numpy(np.ascontiguousarray(pixels[order])),
        labels=torch.from_numpy(labels[order].astype(np.int64)),
        offsets=torch.from_numpy(offsets.astype(np.int64)),
        counts=torch.from_numpy(counts.astype(np.int64)),
    )


def _dataset(name: str, train: ImageSplit, test: ImageSplit, scale: float) -> ImageDataset:
    values = train.pixels.numpy().reshape(-1)
    # exact moments from the byte histogram (no float copy of the whole training set)
    hist = np.bincount(values, minlength=256).astype(np.float64)
    levels = np.arange(hist.size, dtype=np.float64) * scale
    mean = float((hist * levels).sum() / hist.sum())
    std = float(math.sqrt((hist * (levels - mean) ** 2).sum() / hist.sum()))
    return ImageDataset(name, train, test, scale, IMAGE_SHAPES[name], mean, std)


# --- digits --------------------------------------------------------------------------------------
def _digits() -> ImageDataset:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    pixels = bunch.data.astype(np.uint8)  # grey levels 0 ... 16
    labels = bunch.target.astype(np.int64)
    held_out = np.arange(labels.size) % 5 == 4
    where = "scikit-learn's digits"
    return _dataset("digits", split_by_label(pixels[~held_out], labels[~held_out], where),
                    split_by_label(pixels[held_out], labels[held_out], where), 1.0 / 16.0)


# --- MNIST (IDX files) ---------------------------------------------------------------------------
def read_idx(path: Path, ndim: int) -> np.ndarray:
    """An IDX array of unsigned bytes with ``ndim`` dimensions from ``path`` (plain or gzipped):
    magic number 0x0000 08 ``ndim``, ``ndim`` big-endian 32-bit sizes, then the bytes."""
    expected = f"an IDX file of unsigned bytes with {ndim} dimension{'s' if ndim > 1 else ''} (plain or gzipped)"
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error):
            raise DatasetError(f"MNIST file {str(path)!r} is a damaged gzip file; expected {expected}") from None
    header = 4 + 4 * ndim
    if len(data) < header or data[:2] != b"\x00\x00" or data[2] != _IDX_UBYTE or data[3] != ndim:
        found = data[:4].hex() if len(data) >= 4 else f"{len(data)} bytes"
        raise DatasetError(f"MNIST file {str(path)!r} is not {expected} (magic number 0000080{ndim}, found {found})")
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    size = math.prod(shape)
    if len(data) - header != size:
        raise DatasetError(f"MNIST file {str(path)!r} is truncated or padded: its header promises {size} bytes "
                           f"of shape {shape}, it holds {len(data) - header}; expected {expected}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def _mnist_file(folder: Path, stem: str) -> Path:
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    raise DatasetError(f"MNIST file {str(folder / stem)!r} (or .gz) not found; task.data_dir must hold the IDX files "
                       f"{', '.join(MNIST_FILES.values())} (plain or gzipped)")


def _mnist(folder: Path) -> ImageDataset:
    paths = {key: _mnist_file(folder, stem) for key, stem in MNIST_FILES.items()}
    splits = []
    for split in ("train", "test"):
        images = read_idx(paths[f"{split}_images"], 3)
        labels = read_idx(paths[f"{split}_labels"], 1)
        where = f"MNIST file {str(paths[f'{split}_labels'])!r}"
        if images.shape[1:] != (28, 28):
            raise DatasetError(f"MNIST file {str(paths[f'{split}_images'])!r} holds images of {images.shape[1]} x "
                               f"{images.shape[2]} pixels; expected 28 x 28")
        if labels.shape[0] != images.shape[0]:
            raise DatasetError(f"{where} holds {labels.shape[0]} labels for {images.shape[0]} images "
                               f"in {str(paths[f'{split}_images'])!r}; expected one label per image")
        if labels.size and labels.max() >= N_LABELS:
            raise DatasetError(f"{where} holds label {int(labels.max())}; expected labels 0-9")
        splits.append(split_by_label(images.reshape(images.shape[0], -1), labels.astype(np.int64), where))
    return _dataset("mnist", *splits, 1.0 / 255.0)


# --- CIFAR-10 (binary batches) -------------------------------------------------------------------
def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images (n, 3072) uint8 and labels (n,) of one CIFAR-10 binary batch."""
    record = 1 + 3 * 32 * 32
    expected = "CIFAR-10 binary records of 1 label byte (0-9) and 3072 pixel bytes"
    if not path.is_file():
        raise DatasetError(f"CIFAR-10 file {str(path)!r} not found; task.data_dir must hold the binary batches "
                           f"{', '.join(CIFAR_TRAIN)} and {CIFAR_TEST} (or their folder {CIFAR_SUBDIR})")
    data = np.frombuffer(path.read_bytes(), dtype=np.uint8)
    if data.size == 0 or data.size % record:
        raise DatasetError(f"CIFAR-10 file {str(path)!r} holds {data.size} bytes, not a whole number of records; "
                           f"expected {expected}")
    rows = data.reshape(-1, record)
    labels = rows[:, 0].astype(np.int64)
    if labels.max() >= N_LABELS:
        raise DatasetError(f"CIFAR-10 file {str(path)!r} holds label {int(labels.max())}; expected {expected}")
    return rows[:, 1:], labels


def _cifar10(folder: Path) -> ImageDataset:
    if not (folder / CIFAR_TEST).is_file() and (folder / CIFAR_SUBDIR).is_dir():
        folder = folder / CIFAR_SUBDIR
    train = [_read_cifar_batch(folder / name) for name in CIFAR_TRAIN]
    test = _read_cifar_batch(folder / CIFAR_TEST)
    where = f"CIFAR-10 files in {str(folder)!r}"
    return _dataset("cifar10", split_by_label(np.concatenate([p for p, _ in train]), np.concatenate([l for _, l in train]), where),
                    split_by_label(*test, where), 1.0 / 255.0)

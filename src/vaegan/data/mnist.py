"""MNIST and Fashion-MNIST: their files and checksums, where to find them, and download.

Files are looked up, first hit wins, in: an explicit ``data_dir`` (as
``data_dir/<name>/`` or directly in ``data_dir``), ``$VAEGAN_DATA_DIR/<name>/``,
the user cache ``${XDG_CACHE_HOME:-~/.cache}/vaegan/<name>/`` and Debian's
``/usr/share/datasets/<name>/`` (``apt-get install dataset-fashion-mnist``; Debian
keeps the upstream file names, gzipped). Each file may be gzipped (``NAME.gz``)
or not. Failing all, the files are downloaded from the canonical mirrors (HTTPS
first) into the cache, capped at twice their size, verified, and moved into
place atomically.

The md5s are of the *uncompressed* files: copies recompressed by Debian or by
hand differ in their ``.gz`` bytes but hold the same content.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from vaegan.data.datasets import DataLocation, ImageDataset
from vaegan.data.idx import download_idx, read_idx
from vaegan.data.registry import register_dataset
from vaegan.foundation.errors import DataError
from vaegan.foundation.files import cache_dir

__all__ = [
    "FASHION_MNIST",
    "MNIST",
    "IdxFamily",
    "IdxFile",
    "cache_dir",
    "load",
    "locate",
]

logger = logging.getLogger(__name__)

ENV_VAR = "VAEGAN_DATA_DIR"
SYSTEM_DATA_ROOT = Path("/usr/share/datasets")


class IdxFile(NamedTuple):
    """One file: its name uncompressed, the md5 and the size of its uncompressed bytes."""

    name: str
    md5: str
    size: int | None = None  # caps a download at twice this


@dataclass(frozen=True)
class IdxFamily:
    """An MNIST-style dataset: two (images, labels) file pairs, classes, mirrors."""

    name: str
    class_names: tuple[str, ...]
    train: tuple[IdxFile, IdxFile]  # (images, labels)
    test: tuple[IdxFile, IdxFile]
    mirrors: tuple[str, ...]
    apt_package: str | None = None

    @property
    def files(self) -> tuple[IdxFile, ...]:
        """The four files: train images, train labels, test images, test labels."""
        return (*self.train, *self.test)


MNIST = IdxFamily(
    name="mnist",
    class_names=tuple(str(d) for d in range(10)),
    train=(
        IdxFile("train-images-idx3-ubyte", "6bbc9ace898e44ae57da46a324031adb", 47040016),
        IdxFile("train-labels-idx1-ubyte", "a25bea736e30d166cdddb491f175f624", 60008),
    ),
    test=(
        IdxFile("t10k-images-idx3-ubyte", "2646ac647ad5339dbf082846283269ea", 7840016),
        IdxFile("t10k-labels-idx1-ubyte", "27ae3e4e09519cfbb04c329615203637", 10008),
    ),
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
)

# fmt: off
_FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
# fmt: on

# md5s of the uncompressed files, checked against Debian's dataset-fashion-mnist
# 0.0~git20200523.55506a9-1 (its .gz bytes differ from upstream's, the content not).
FASHION_MNIST = IdxFamily(
    name="fashion-mnist",
    class_names=_FASHION_CLASSES,
    train=(
        IdxFile("train-images-idx3-ubyte", "f4a8712d7a061bf5bd6d2ca38dc4d50a", 47040016),
        IdxFile("train-labels-idx1-ubyte", "9018921c3c673c538a1fc5bad174d6f9", 60008),
    ),
    test=(
        IdxFile("t10k-images-idx3-ubyte", "8181f5470baa50b63fa0f6fddb340f0a", 7840016),
        IdxFile("t10k-labels-idx1-ubyte", "15d484375f8d13e6eb1aabb0c3f46965", 10008),
    ),
    mirrors=(
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",  # no HTTPS on S3 website endpoints
    ),
    apt_package="dataset-fashion-mnist",
)


def _search_folders(spec: IdxFamily, data_dir: Path | None) -> list[Path]:
    """The folders to look in, in lookup order, without repeats."""
    roots = [data_dir] if data_dir is not None else []
    if os.environ.get(ENV_VAR):
        roots.append(Path(os.environ[ENV_VAR]).expanduser())
    roots += [cache_dir(), SYSTEM_DATA_ROOT]
    folders = [root / spec.name for root in roots]
    if data_dir is not None:  # an explicit folder may hold the files directly
        folders.insert(1, data_dir)
    return list(dict.fromkeys(folders))


def _find_file(folder: Path, file: IdxFile) -> Path | None:
    """``folder/NAME`` or ``folder/NAME.gz``, whichever exists (raw first: no gunzip)."""
    for candidate in (folder / file.name, folder / f"{file.name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def locate(spec: IdxFamily, data_dir: Path | None = None) -> DataLocation:
    """The first folder holding all four files, or what is missing and where it was sought."""
    folders = _search_folders(spec, data_dir)
    partial_folders = []
    for i, folder in enumerate(folders):
        held = [f.name for f in spec.files if _find_file(folder, f) is not None]
        if len(held) == len(spec.files):
            return DataLocation(folder, searched=folders[: i + 1])
        if held:
            partial_folders.append(f"{folder} holds only {', '.join(held)}")
    return DataLocation(
        None,
        missing=[f.name for f in spec.files],
        searched=folders,
        hint=_hint(spec, partial_folders),
    )


def _hint(spec: IdxFamily, partial_folders: list[str]) -> str:
    lines = [
        (
            f"Put the four files (gzipped or not) in {cache_dir() / spec.name}, or in "
            f"DIR/{spec.name} and set {ENV_VAR}=DIR or pass data_dir=DIR "
            "(--data-dir DIR)."
        )
    ]
    if spec.apt_package:
        lines.append(f"Or run: apt-get install {spec.apt_package}")
    lines += [f"Note: {p}." for p in partial_folders]
    return "\n".join(lines)


def _download(spec: IdxFamily) -> Path:
    """Download the files missing from the cache; return the cache folder."""
    folder = cache_dir() / spec.name
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"cannot create the cache folder {folder}: {e}") from None
    for file in spec.files:
        if _find_file(folder, file) is None:
            urls = [f"{mirror}{file.name}.gz" for mirror in spec.mirrors]
            download_idx(urls, folder / f"{file.name}.gz", expected_md5=file.md5, expected_size=file.size)
    return folder


def _missing_error(spec: IdxFamily, where: DataLocation, why: str) -> DataError:
    searched = "\n".join(f"  {f}" for f in where.searched)
    return DataError(
        f"{spec.name}: data files not found and not downloadable.\n"
        f"Needed files: {', '.join(where.missing)}\n"
        f"Folders searched, in order:\n{searched}\n"
        f"Download: {why}\n{where.hint}"
    )


def _load_split(spec: IdxFamily, folder: Path, pair: tuple[IdxFile, IdxFile], verify: bool) -> ImageDataset:
    """Read one (images, labels) pair of files into an :class:`ImageDataset`."""
    images, labels = pair
    image_path, label_path = _find_file(folder, images), _find_file(folder, labels)
    if image_path is None or label_path is None:  # removed since locate()
        raise DataError(f"{folder}: {images.name} or {labels.name} disappeared")
    x = read_idx(image_path, expected_md5=images.md5 if verify else None)
    y = read_idx(label_path, expected_md5=labels.md5 if verify else None)
    if x.ndim != 3 or x.dtype != np.uint8:
        raise DataError(f"{image_path}: expected uint8 images (N, H, W), got {x.dtype} {x.shape}")
    if y.ndim != 1:
        raise DataError(f"{label_path}: expected labels of shape (N,), got {y.shape}")
    if len(x) != len(y):
        raise DataError(
            f"{image_path} holds {len(x)} images but {label_path} holds {len(y)} "
            "labels; the two files come from different copies"
        )
    if len(y) and not 0 <= int(y.min()) <= int(y.max()) < len(spec.class_names):
        raise DataError(
            f"{label_path}: labels range {int(y.min())}..{int(y.max())}, expected 0..{len(spec.class_names) - 1}"
        )
    images_t = torch.from_numpy(x).unsqueeze(1).float().div_(255)  # (N, 1, H, W)
    labels_t = torch.from_numpy(y).long()  # (N,)
    return ImageDataset(images_t, labels_t, list(spec.class_names), spec.name)


def load(
    spec: IdxFamily,
    data_dir: Path | None = None,
    *,
    verify: bool = True,
    download: bool = True,
) -> tuple[ImageDataset, ImageDataset]:
    """Find (or download) and read a dataset of the MNIST family.

    Args:
        spec: the family member, e.g. :data:`MNIST`.
        data_dir: searched first, as ``data_dir/<name>/`` and ``data_dir`` itself.
        verify: check the md5 of every file (about 0.1 s for MNIST).
        download: fetch missing files from the mirrors into the cache.

    Returns:
        ``(train, test)``: images float32 ``(N, 1, 28, 28)`` in [0, 1], labels int64.

    Raises:
        DataError: the files are missing and cannot be downloaded, or are damaged.
    """
    if data_dir is not None and not data_dir.is_dir():
        logger.warning("data_dir %s is not a folder; searching on", data_dir)
    where = locate(spec, data_dir)
    folder = where.folder
    if folder is None and not download:
        raise _missing_error(spec, where, "disabled (download=False)")
    if folder is None:
        try:
            folder = _download(spec)
        except DataError as e:
            raise _missing_error(spec, where, str(e)) from None
    logger.info("%s: reading %s", spec.name, folder)
    train = _load_split(spec, folder, spec.train, verify)
    return train, _load_split(spec, folder, spec.test, verify)


for _spec in (MNIST, FASHION_MNIST):
    register_dataset(_spec.name, partial(load, _spec), locate=partial(locate, _spec))

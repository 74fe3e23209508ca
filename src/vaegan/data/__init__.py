"""Datasets: images as in-memory tensors in [0, 1], integer labels, class names.

Files:
    datasets.py  ``ImageDataset``, ``DataSplits``, the registry by name
                 (``register_dataset``, ``list_datasets``, ``load_dataset``,
                 ``describe_datasets``) and the seeded train/val split.
    idx.py       ``read_idx``: IDX files (raw or gzipped) with every check.
    mnist.py     MNIST and Fashion-MNIST: file names, md5s, lookup order
                 (data_dir, ``$VAEGAN_DATA_DIR``, user cache, Debian's
                 /usr/share/datasets), download; registers both datasets.

Example:
    >>> from vaegan.data import load_dataset
    >>> splits = load_dataset("mnist", val_size=5000, seed=0)  # doctest: +SKIP
    >>> splits.image_shape, len(splits.train), len(splits.val), len(splits.test)  # doctest: +SKIP
    ((1, 28, 28), 55000, 5000, 10000)
"""

from vaegan.data import mnist  # noqa: F401  (registers mnist and fashion-mnist)
from vaegan.data.datasets import (
    DataLocation,
    DataSplits,
    ImageDataset,
    describe_datasets,
    list_datasets,
    load_dataset,
    register_dataset,
)
from vaegan.data.idx import read_idx

__all__ = [
    "DataLocation",
    "DataSplits",
    "ImageDataset",
    "describe_datasets",
    "list_datasets",
    "load_dataset",
    "read_idx",
    "register_dataset",
]

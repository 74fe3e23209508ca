"""Datasets: images as in-memory tensors in [0, 1], integer labels, class names.

Files:
    config.py    the ``data`` section and its ``mri`` options (``DataConfig``, ``MRIConfig``).
    datasets.py  ``ImageDataset``, ``DataSplits``, ``DataLocation``, and
                 ``split_subjects`` (stratified, by subject).
    registry.py  datasets by name (``register_dataset``, ``list_datasets``,
                 ``load_dataset``, ``describe_datasets``) and the seeded
                 train/val split.
    idx.py       ``read_idx``: IDX files (raw or gzipped) with every check.
    mnist.py     MNIST and Fashion-MNIST: file names, md5s, lookup order
                 (data_dir, ``$VAEGAN_DATA_DIR``, user cache, Debian's
                 /usr/share/datasets), download; registers both datasets.
    mri.py       T1w MRI (BIDS folder or CSV) to cached tensors split by
                 subject, 3-D volumes or 2-D slices; registers ``mri``,
                 ``phantoms`` and ``image-folder``. Helpers: mri_sources.py
                 (layouts, labels, BIDS records), csv_source.py (a CSV's
                 records), bids.py (pybids: sessions, runs),
                 registration.py (N4, affine to MNI152, template mask),
                 mri_transforms.py (checks, MONAI preprocessing),
                 volumes.py (2-D slices and back, NIfTI out, atomically),
                 mri_cache.py (each file preprocessed once, isolated,
                 cached on its own),
                 cache.py, bad_inputs.py.
    imagefolder.py  2-D PNG/JPEG/TIFF images in one folder per class.
    anatomy.py, phantoms.py  synthetic CN/AD brains with known atrophy.
    shared_folder.py  folders built once and shared by processes (lock,
                 private temporary folder, completion marker).
    streaming.py  images larger than memory: a raw .npy written atomically,
                 memory-mapped, read in batches with prefetch.

Example:
    >>> from vaegan.data import load_dataset
    >>> splits = load_dataset("mnist", val_size=5000, seed=0)  # doctest: +SKIP
    >>> splits.image_shape, len(splits.train), len(splits.val), len(splits.test)  # doctest: +SKIP
    ((1, 28, 28), 55000, 5000, 10000)
"""

from vaegan.data import (
    mnist,  # noqa: F401  (registers mnist and fashion-mnist)
    mri,  # noqa: F401  (registers mri, phantoms and image-folder)
)
from vaegan.data.datasets import DataLocation, DataSplits, ImageDataset
from vaegan.data.idx import read_idx
from vaegan.data.registry import describe_datasets, list_datasets, load_dataset, register_dataset

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

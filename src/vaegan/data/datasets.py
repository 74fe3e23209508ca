"""In-memory image datasets, their train/val/test splits, where a dataset's files are, and the
stratified split of subjects that keeps each subject's images in one split.

The registry of datasets by name and ``load_dataset`` are in ``registry.py``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from vaegan.data.config import DataConfig
from vaegan.data.streaming import file_rows, take_rows

logger = logging.getLogger(__name__)

Indices = torch.Tensor | np.ndarray | slice | list[int] | range


@dataclass(eq=False, repr=False)
class ImageDataset:
    """Images and labels held as two tensors; a batch is a slice, not a Python loop.

    Args:
        images: float32 ``(N, C, H, W)``, or ``(N, C, D, H, W)`` for volumes.
        labels: int64 ``(N,)``, class indices into ``class_names``.
        class_names: one name per class.
        name: the dataset's registry name.
        groups: optional int64 ``(N,)``, indices into ``group_names`` (e.g. the
            subject each MRI slice comes from); :func:`load_dataset` never puts
            one group in two splits.
        group_names: one name per group (e.g. subject ids ``sub-001``).

    Example:
        >>> images, labels = torch.zeros(4, 1, 28, 28), torch.arange(4)
        >>> ds = ImageDataset(images, labels, ["a", "b", "c", "d"], "toy")
        >>> ds.image_shape, ds.num_classes, len(ds.subset([0, 2]))
        ((1, 28, 28), 4, 2)
    """

    images: torch.Tensor
    labels: torch.Tensor
    class_names: list[str]
    name: str
    groups: torch.Tensor | None = None
    group_names: list[str] | None = None

    def __post_init__(self) -> None:
        if self.images.ndim not in (4, 5):
            shape = tuple(self.images.shape)
            raise ValueError(f"{self.name}: images must be (N, C, H, W) or (N, C, D, H, W), got shape {shape}")
        if self.labels.shape != (len(self.images),):
            shape = tuple(self.labels.shape)
            raise ValueError(f"{self.name}: {len(self.images)} images but labels of shape {shape}; need one per image")
        if self.groups is not None and self.groups.shape != (len(self.images),):
            shape = tuple(self.groups.shape)
            raise ValueError(f"{self.name}: {len(self.images)} images but groups of shape {shape}; need one per image")

    def __len__(self) -> int:
        return len(self.images)

    def __repr__(self) -> str:
        shape, classes = self.image_shape, self.num_classes
        return f"ImageDataset(name={self.name!r}, n={len(self)}, image_shape={shape}, num_classes={classes})"

    @property
    def image_shape(self) -> tuple[int, ...]:
        """Shape of one image: ``(C, H, W)`` or ``(C, D, H, W)``."""
        return tuple(self.images.shape[1:])

    @property
    def num_classes(self) -> int:
        """Number of classes (the length of ``class_names``)."""
        return len(self.class_names)

    def subset(self, indices: Indices) -> ImageDataset:
        """The images at ``indices`` (a slice, index list/array/tensor or boolean mask).

        Class (and group) names are shared with this dataset, not copied.
        """
        if not isinstance(indices, slice):
            indices = torch.as_tensor(indices)
            if indices.dtype != torch.bool:
                indices = indices.long()
        groups = None if self.groups is None else self.groups[indices]
        if file_rows(self.images) is not None:  # a file-backed dataset's subset stays on disk
            images = take_rows(self.images, torch.arange(len(self))[indices])
        else:
            images = self.images[indices]
        return ImageDataset(images, self.labels[indices], self.class_names, self.name, groups, self.group_names)


@dataclass(eq=False)
class DataSplits:
    """The three splits of one dataset; shape and classes are read from ``train``.

    ``loaded``: how :func:`~vaegan.data.load_dataset` loaded them (the ``data`` section that loads them
    again), for a run to record; None for splits made otherwise. Not an argument, so splits built by hand
    or changed with ``dataclasses.replace`` claim no load. ``notes``: what a reader of figures on these
    splits must know of how they were made (a run's split kept on data that changed since it trained).
    """

    train: ImageDataset
    val: ImageDataset
    test: ImageDataset
    loaded: DataConfig | None = field(default=None, init=False)
    notes: list[str] = field(default_factory=list, init=False)

    @property
    def image_shape(self) -> tuple[int, ...]:
        """Shape of one image, e.g. ``(1, 28, 28)``."""
        return self.train.image_shape

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return self.train.num_classes

    def train_and_val(self) -> ImageDataset:
        """Every image outside the test split, in memory: train then val (e.g. to fit a probe on the codes).

        A measurement fitted on it does not depend on which subjects the validation split drew.
        """
        train, val = self.train, self.val
        groups = None if train.groups is None or val.groups is None else torch.cat([train.groups, val.groups])
        images = torch.cat([torch.as_tensor(train.images), torch.as_tensor(val.images)])
        labels = torch.cat([train.labels, val.labels])
        return ImageDataset(images, labels, train.class_names, train.name, groups, train.group_names)

    @property
    def class_names(self) -> list[str]:
        """Class names, index = label."""
        return self.train.class_names

    def subjects(self) -> dict[str, list[str]] | None:
        """The subjects (groups) of each split, sorted, or None for images without subjects (MNIST)."""
        if any(ds.groups is None or ds.group_names is None for ds in (self.train, self.val, self.test)):
            return None
        return {
            split: sorted({ds.group_names[g] for g in ds.groups.unique().tolist()})
            for split, ds in (("train", self.train), ("val", self.val), ("test", self.test))
        }


@dataclass(frozen=True)
class DataLocation:
    """Where a dataset's files are on disk, or which are missing and where they were sought.

    Attributes:
        folder: the folder that holds all the files, or ``None`` if not found.
        missing: the file names not found (empty when found).
        searched: the folders looked in, in lookup order.
        hint: how to provide the files when they are missing.
    """

    folder: Path | None
    missing: list[str] = field(default_factory=list)
    searched: list[Path] = field(default_factory=list)
    hint: str = ""


def split_subjects(subjects: list[str], labels: Tensor, test_size: float, seed: int = 0) -> Tensor:
    """Boolean (N,) mask of the volumes whose subject is in the test set.

    Stratified: ``round(test_size * n)`` of the ``n`` subjects of each class (at
    least one, and at most ``n - 1``, where a class has two or more: a model must
    see every class), drawn with a fixed seed.
    """
    first_label: dict[str, int] = {}
    for subject, label in zip(subjects, labels.tolist()):
        first_label.setdefault(subject, label)
    generator = torch.Generator().manual_seed(seed)
    test: set[str] = set()
    for label in sorted(set(first_label.values())):
        members = sorted(s for s, lab in first_label.items() if lab == label)
        count = min(max(1, round(test_size * len(members))), len(members) - 1)
        if count == 0:
            logger.warning(
                "class %d has one subject (%s): it is kept for training, so the test set holds none of that "
                "class and its test figures (accuracy, AUC, disease maps) cannot be measured",
                label,
                members[0],
            )
        order = torch.randperm(len(members), generator=generator)[:count]
        test.update(members[i] for i in order.tolist())
    return torch.tensor([s in test for s in subjects], dtype=torch.bool)

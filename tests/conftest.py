"""Fixtures shared by every test: tiny synthetic datasets made here, never downloaded."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from vaegan.data import DataSplits, ImageDataset

REPO = Path(__file__).resolve().parents[1]


def blob_images(n: int, shape: tuple[int, ...], num_classes: int = 3, seed: int = 0) -> ImageDataset:
    """Bright squares whose position encodes the class: learnable, non-blank, in [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % num_classes
    images = 0.05 * torch.rand(n, *shape, generator=g)
    spatial = shape[1:]
    for i, label in enumerate(labels.tolist()):
        index = [slice(None)]
        for size in spatial:
            width = max(2, size // 3)
            start = min(size - width, label * size // num_classes)
            index.append(slice(start, start + width))
        images[(i, *index)] = 0.9
    return ImageDataset(images, labels, [str(c) for c in range(num_classes)], "blobs")


def tiny_splits(shape: tuple[int, ...] = (1, 16, 16), n: int = 64, num_classes: int = 3) -> DataSplits:
    return DataSplits(
        blob_images(n, shape, num_classes, 0),
        blob_images(16, shape, num_classes, 1),
        blob_images(16, shape, num_classes, 2),
    )


@pytest.fixture
def splits() -> DataSplits:
    return tiny_splits()


@pytest.fixture
def mnist_dir() -> Path:
    """The real MNIST; tests that need it run in CI (VAEGAN_DATA_DIR=../shared/data) and skip elsewhere."""
    root = os.environ.get("VAEGAN_DATA_DIR")
    if not root or not (Path(root) / "mnist").is_dir():
        pytest.skip("VAEGAN_DATA_DIR does not hold mnist/; CI sets it to ../shared/data")
    return Path(root)

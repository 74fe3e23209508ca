"""Fixtures shared by every test: tiny synthetic datasets made here, never downloaded, and a private cache.

The real datasets (MNIST in $VAEGAN_DATA_DIR, Fashion-MNIST from Debian's package) skip the tests that
need them when absent, unless VAEGAN_REQUIRE_MNIST=1 or VAEGAN_REQUIRE_FASHION_MNIST=1 (set by .ci/run),
where their absence fails those tests: CI must run them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
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


def skip_unless_required(message: str, switch: str) -> None:
    """Skip the test, or fail it where ``switch`` is set to 1 (CI: the test must run there)."""
    if os.environ.get(switch) == "1":
        pytest.fail(f"{message} ({switch}=1)")
    pytest.skip(message)


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Point XDG_CACHE_HOME at a session temp folder, so no test (or subprocess) touches ~/.cache/vaegan.

    tests/data/mri_files.py's ``anatomy_cache`` is this folder, so the phantom anatomy and the
    shared phantom set are still built once per session.
    """
    root = tmp_path_factory.getbasetemp() / "vaegan-xdg"
    root.mkdir(exist_ok=True)
    old = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(root)  # os.environ, not monkeypatch: subprocesses inherit it
    try:
        yield root
    finally:
        if old is None:
            os.environ.pop("XDG_CACHE_HOME", None)
        else:
            os.environ["XDG_CACHE_HOME"] = old


@pytest.fixture
def mnist_dir() -> Path:
    """The real MNIST in $VAEGAN_DATA_DIR/mnist (CI: ../shared/data); skipped elsewhere, failed if required."""
    root = os.environ.get("VAEGAN_DATA_DIR")
    if not root or not (Path(root) / "mnist").is_dir():
        skip_unless_required(
            "VAEGAN_DATA_DIR does not hold mnist/; CI sets it to ../shared/data", "VAEGAN_REQUIRE_MNIST"
        )
    return Path(root)


@pytest.fixture
def fashion_mnist_root() -> Path:
    """Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist); skipped elsewhere, failed if required."""
    from vaegan.data import mnist

    if not (mnist.SYSTEM_DATA_ROOT / "fashion-mnist").is_dir():
        skip_unless_required(
            "dataset-fashion-mnist absent; apt-get install dataset-fashion-mnist", "VAEGAN_REQUIRE_FASHION_MNIST"
        )
    return mnist.SYSTEM_DATA_ROOT

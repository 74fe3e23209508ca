"""Fixtures for the evaluation tests: a registered tiny dataset, an isolated classifier cache, tiny runs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.conftest import blob_images
from tests.models import tiny_configs
from vaegan.config import RunConfig
from vaegan.data import register_dataset, registry
from vaegan.data.config import DataConfig
from vaegan.models import GenerativeModel
from vaegan.training.config import TrainConfig

BLOBS = "eval-blobs"
SHAPE = (1, 16, 16)


def blob_loader(data_dir: Path | None = None):
    """(train_full, test) of the bright-square images: 120 train, 60 test, 3 classes."""
    return blob_images(120, SHAPE, 3, seed=0), blob_images(60, SHAPE, 3, seed=2)


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors: a second thread only adds waiting, badly so on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """An empty user cache: classifiers are trained into it, never into the real ~/.cache."""
    root = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(root))
    return root / "vaegan"


@pytest.fixture
def blobs(monkeypatch) -> str:
    """The name of a registered tiny dataset, unregistered again after the test."""
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    register_dataset(BLOBS, blob_loader)
    return BLOBS


def tiny_model(name: str, shape: tuple[int, ...] = SHAPE, num_classes: int = 3, **extra) -> GenerativeModel:
    """An untrained registered model built from the contract suite's tiny config."""
    return tiny_configs.tiny_model(name, shape, num_classes, **extra)


def train_tiny_run(name: str, out: Path, dataset: str = BLOBS, epochs: int = 2, binarize: bool = True) -> Path:
    """Train a tiny registered model on ``dataset`` into the run folder ``out``; returns ``out``."""
    from vaegan.experiment import train_from_config

    model = tiny_model(name).config.model_dump()
    config = RunConfig(
        name=f"{dataset}_{name}",
        out=str(out),
        data=DataConfig(dataset=dataset, val_size=12, binarize=binarize),
        model=model,
        train=TrainConfig(epochs=epochs, batch_size=16, grid_size=9, progress=False, tensorboard=False, device="cpu"),
    )
    train_from_config(config)
    return out

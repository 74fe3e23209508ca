"""Tiny trained models of every registered kind, and a tiny registered dataset for the CLI."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from tests.conftest import blob_images, tiny_splits
from tests.models import tiny_configs
from vaegan.data import DataSplits, register_dataset
from vaegan.models import GenerativeModel
from vaegan.training import Trainer
from vaegan.training.config import TrainConfig

SHAPE = (1, 16, 16)
CLASSES = 3
DATASET = "vis-blobs"


def saved_texts(monkeypatch: pytest.MonkeyPatch, module) -> list[str]:
    """Every text (titles, labels, tick labels) of every figure that ``module`` saves from now on."""
    import matplotlib.text

    texts: list[str] = []
    save = module.save_figure

    def recording(fig, path):
        texts.extend(t.get_text() for t in fig.findobj(matplotlib.text.Text))
        return save(fig, path)

    monkeypatch.setattr(module, "save_figure", recording)
    return texts


def saved_spreads(monkeypatch: pytest.MonkeyPatch, module) -> dict[str, float]:
    """For every figure that ``module`` saves from now on, by file name: the largest spread of what it draws
    (the std of an image's pixels or of a scatter's points); 0 for a figure of titles and axes alone, which
    a check of the PNG's grey levels passes."""
    import matplotlib.collections
    import matplotlib.image
    import numpy as np

    spreads: dict[str, float] = {}
    save = module.save_figure

    def recording(fig, path, **kwargs):
        drawn = [float(np.ma.std(image.get_array())) for image in fig.findobj(matplotlib.image.AxesImage)]
        points = [c.get_offsets() for c in fig.findobj(matplotlib.collections.PathCollection)]
        drawn += [float(np.std(np.asarray(p, dtype=float))) for p in points if len(p) > 1]
        spreads[Path(path).name] = max(drawn, default=0.0)
        return save(fig, path, **kwargs)

    monkeypatch.setattr(module, "save_figure", recording)
    return spreads


def shows_a_map(path) -> bool:
    """Whether a brain figure shows a map: coloured pixels over the grey brains, left of the colour bars
    (drawn for an empty map too); grey anatomy, white text and black have none."""
    import numpy as np
    from PIL import Image

    rgb = np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)
    panels = rgb[:, : int(rgb.shape[1] * 0.8)]
    return (panels.max(-1) - panels.min(-1) > 60).mean() > 0.005


def quick_config(**options) -> TrainConfig:
    return TrainConfig(
        **{"epochs": 2, "batch_size": 16, "grid_size": 9, "progress": False, "tensorboard": False, **options}
    )


def tiny_model(name: str, latent_dim: int, shape: tuple[int, ...] = SHAPE) -> GenerativeModel:
    return tiny_configs.tiny_model(name, shape, CLASSES, latent_dim=latent_dim)


@pytest.fixture(scope="session")
def data() -> DataSplits:
    return tiny_splits(SHAPE, n=64, num_classes=CLASSES)


@pytest.fixture(scope="session")
def trained(tmp_path_factory, data):
    """``trained(name, latent_dim)``: that model after a few seconds of training, cached per session."""
    cache: dict[tuple[str, int], GenerativeModel] = {}

    def get(name: str, latent_dim: int) -> GenerativeModel:
        if (name, latent_dim) not in cache:
            model = tiny_model(name, latent_dim)
            out = tmp_path_factory.mktemp(f"{name}{latent_dim}")
            Trainer(model, data, quick_config(), out_dir=out, callbacks=[]).fit()
            cache[name, latent_dim] = model.eval()
        return cache[name, latent_dim]

    return get


def _load_blobs(data_dir=None):
    return blob_images(80, SHAPE, CLASSES, seed=0), blob_images(24, SHAPE, CLASSES, seed=3)


@pytest.fixture(scope="session")
def blobs_dataset() -> str:
    """A registered dataset name that the CLI can load (no files needed)."""
    register_dataset(DATASET, _load_blobs, replace=True)
    return DATASET


EVALUATION = {
    "model": "cvae",
    "dataset": DATASET,
    "metrics": {
        "nll": {"value": 91.234567, "floor": None, "unit": "nats"},
        "accuracy <script>alert(1)</script>": {"value": 0.875, "floor": 0.8, "unit": "fraction"},
        "bare_number": 3,
    },
}


@pytest.fixture(scope="session")
def cli_run(tmp_path_factory, blobs_dataset):
    """A conditional 2-D-latent run made through the CLI: train (3 epochs), visualize, evaluation.json, report."""
    import json

    import yaml

    from vaegan.cli import main

    root = tmp_path_factory.mktemp("cli")
    config = {
        "name": "blobs <cvae> & co",
        "data": {"dataset": blobs_dataset, "val_size": 16},
        "model": {**copy.deepcopy(tiny_configs.TINY["cvae"]), "name": "cvae", "latent_dim": 2},
        "train": {"epochs": 3, "batch_size": 16, "grid_size": 9, "progress": False, "tensorboard": True},
    }
    (root / "config.yaml").write_text(yaml.safe_dump(config))
    run = root / "run"
    assert main(["train", "--config", str(root / "config.yaml"), "--out", str(run), "--device", "cpu"]) == 0
    assert main(["visualize", str(run), "--methods", "pca,tsne,umap", "--n-points", "24", "--steps", "5"]) == 0
    (run / "evaluation.json").write_text(json.dumps(EVALUATION))
    assert main(["report", str(run), "--max-epochs", "2"]) == 0
    return run

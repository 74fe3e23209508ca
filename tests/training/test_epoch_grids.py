"""The grids drawn every epoch say what their rows hold: inputs above reconstructions, a class per row."""

from __future__ import annotations

import numpy as np
from PIL import Image

from tests.conftest import tiny_splits
from tests.models.tiny_configs import tiny_model
from vaegan.training import Trainer
from vaegan.training.config import TrainConfig

NAMES = ["0", "1", "2"]


def test_each_model_names_the_rows_of_its_grids():
    assert tiny_model("cvae").grid_rows("recons", NAMES) == ["input", "recon"]
    assert tiny_model("cvae").grid_rows("fakes", NAMES) == NAMES
    assert tiny_model("cvae").grid_rows("analogies", NAMES) is None  # a row per input: the columns are classes
    assert tiny_model("vae").grid_rows("fakes", NAMES) is None  # a batch, no rows that mean anything
    assert tiny_model("acgan").grid_rows("fakes", NAMES) == NAMES


def first_column(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("L"))[:, 0]


def test_the_epoch_grids_carry_their_row_names_in_a_margin_and_batches_none(tmp_path):
    config = TrainConfig(epochs=1, batch_size=16, grid_size=8, progress=False, tensorboard=False)
    Trainer(tiny_model("cvae"), tiny_splits(), config, out_dir=tmp_path / "cvae").fit()
    Trainer(tiny_model("vae"), tiny_splits(), config, out_dir=tmp_path / "vae").fit()
    for name in ("recons", "fakes"):  # a white margin with dark lettering left of the tiles
        column = first_column(tmp_path / "cvae" / f"epoch001_{name}.png")
        assert (column == 255).all(), name
        margin = np.asarray(Image.open(tmp_path / "cvae" / f"epoch001_{name}.png").convert("L"))[:, :20]
        assert (margin < 100).any(), f"{name}: no lettering"
    assert (first_column(tmp_path / "vae" / "epoch001_fakes.png") == 128).all()  # the grid's grey padding
    assert (first_column(tmp_path / "cvae" / "epoch001_analogies.png") == 128).all()

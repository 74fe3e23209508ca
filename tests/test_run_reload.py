"""A run reloads the data it was trained on, as it was loaded, or says it cannot tell which that was."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import yaml

from tests.conftest import blob_images, tiny_splits
from tests.models.tiny_configs import tiny_model
from vaegan import experiment
from vaegan.data import load_dataset, register_dataset, registry
from vaegan.foundation.errors import VaeganError
from vaegan.runs import load_run
from vaegan.training import Trainer
from vaegan.training.config import TrainConfig

OPTIONS = {"epochs": 1, "batch_size": 16, "grid_size": 8, "progress": False, "tensorboard": False}


@pytest.fixture
def reload_blobs(monkeypatch):
    """A registered toy dataset of 120 training and 40 test images, gone from the registry after the test."""
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    register_dataset(
        "reload-blobs",
        lambda data_dir=None, **_: (blob_images(120, (1, 16, 16)), blob_images(40, (1, 16, 16), seed=5)),
    )
    return "reload-blobs"


def test_a_fit_run_reloads_the_split_it_was_trained_on(tmp_path, reload_blobs):
    """fit() recorded only the dataset's name: a run on a limited, seeded split reloaded the default split
    (val_size 5000 of the whole set), so evaluate and visualize scored other images than it validated on."""
    data = load_dataset(reload_blobs, limit=80, val_size=0.25, seed=3)
    experiment.fit(tiny_model("vae"), data, out_dir=tmp_path / "run", **OPTIONS)
    again = load_run(tmp_path / "run").load_data()
    for split in ("train", "val", "test"):
        assert torch.equal(getattr(again, split).images, getattr(data, split).images), split
    recorded = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["data"]
    assert (recorded["dataset"], recorded["limit"], recorded["val_size"], recorded["seed"]) == (
        reload_blobs,
        80,
        0.25,
        3,
    )


def test_splits_changed_after_loading_do_not_claim_the_load(tmp_path, reload_blobs):
    data = load_dataset(reload_blobs, limit=80, val_size=0.25, seed=3)
    assert data.loaded is not None and data.loaded.limit == 80
    assert dataclasses.replace(data, train=data.train.subset(slice(0, 30))).loaded is None


def test_a_trainer_run_without_run_config_refuses_to_guess_its_data(tmp_path, reload_blobs):
    """The public Trainer without run_config records no data section: load_run filled the defaults, and
    vaegan evaluate/visualize/reconstruct scored the model on MNIST digits whatever it was trained on."""
    data = load_dataset(reload_blobs, val_size=20)
    config = TrainConfig(**OPTIONS)
    Trainer(tiny_model("vae"), data, config, out_dir=tmp_path / "run").fit()
    run = load_run(tmp_path / "run")  # the model alone loads: sample needs no data
    with pytest.raises(VaeganError, match="records no data section") as error:
        run.load_data()
    assert str(tmp_path / "run") in str(error.value) and "config.yaml" in str(error.value)
    # the remedy the message gives: the data section written into RUN/config.yaml
    (tmp_path / "run" / "config.yaml").write_text(yaml.safe_dump({"data": {"dataset": reload_blobs, "val_size": 20}}))
    assert torch.equal(load_run(tmp_path / "run").load_data().val.images, data.val.images)


def test_a_fit_run_on_hand_made_splits_records_their_name_and_says_the_rest_is_not(tmp_path, caplog):
    experiment.fit(tiny_model("vae"), tiny_splits(), out_dir=tmp_path / "run", **OPTIONS)
    assert "load_dataset" in caplog.text
    assert load_run(tmp_path / "run").config.data.dataset == "blobs"


def test_a_changed_split_is_said_where_the_figures_are_recorded(tmp_path, monkeypatch, caplog):
    """A subject added to the folder redrew the test split: evaluate scored subjects the model learned from with
    a warning in the log only (nothing in evaluation.json or the report). Not re-split: the dataset's reference
    classifier is trained on the folder's split as it is now."""
    import json

    from vaegan import runs
    from vaegan.config import build_config
    from vaegan.data import DataSplits, ImageDataset

    def subjects(*names: str) -> ImageDataset:  # two images a subject
        n = 2 * len(names)
        return ImageDataset(
            torch.rand(n, 1, 8, 8), torch.arange(n) % 2, ["CN", "AD"], "t", torch.arange(n) // 2, list(names)
        )

    now = DataSplits(subjects("s1", "s2", "s3"), subjects("s4"), subjects("s5", "s7", "s8"))  # s8 is new
    monkeypatch.setattr(runs, "load_data", lambda config: now)
    held = {"train": ["s1", "s2", "s3", "s7"], "val": ["s4"], "test": ["s5", "s6"]}
    (tmp_path / "subjects.json").write_text(json.dumps(held))
    run = runs.Run(tmp_path, build_config({"model": {"name": "vae"}}), tiny_model("vae"))
    (note,) = run.load_data().notes
    assert "s7" in note and "s6" in note and "not of its held-out subjects" in note

"""train.score_maps_every: on phantoms, the group disease map of the validation subjects scored each epoch."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from tests.data.mri_files import anatomy_cache_fixture, phantom_cache_fixture  # noqa: F401  (fixtures)
from vaegan.config import load_config
from vaegan.foundation.errors import ConfigError
from vaegan.visualization.curves import read_history

REPO = Path(__file__).resolve().parents[2]
TINY = [
    "data.mri.phantom_subjects=8",
    "data.mri.phantom_spacing=6",
    "data.mri.size=16",
    "data.mri.progress=false",
    "data.val_size=0.5",  # half of the 6 training subjects of each class (the split is stratified)
    "model.network.channels=[8,16]",
    "model.network.hidden=[32]",
    "model.latent_dim=4",
    "train.batch_size=16",
    "train.progress=false",
    "train.tensorboard=false",
]


def tiny_run(tmp_path: Path, *changes: str, config: str = "ad_cvae_3d", name: str = "run"):
    return load_config(REPO / "configs" / f"{config}.yaml", [*TINY, *changes, f"out={tmp_path / name}"])


def test_the_validation_subjects_group_map_is_scored_on_the_epochs_asked_and_the_last(tmp_path, phantom_cache):
    from vaegan.data.mri import phantom_folder, read_volumes
    from vaegan.data.phantoms import ATROPHY_SUFFIX
    from vaegan.experiment import load_data, train_from_config
    from vaegan.runs import load_run
    from vaegan.visualization.disease_maps import summarize_effects

    config = tiny_run(tmp_path, "train.epochs=3", "train.score_maps_every=2")
    history = train_from_config(config)
    assert ["val/map_r" in row for row in history] == [False, True, True]
    assert all(-1.0 <= row["val/map_r"] <= 1.0 for row in history[1:])
    assert [row.get("val/map_r") for row in read_history(tmp_path / "run" / "metrics.csv")] == [
        row.get("val/map_r") for row in history
    ]

    # the figure is summarize_effects of the last model on the validation subjects, with their true atrophy
    run = load_run(tmp_path / "run", checkpoint="last", device="cpu")
    mri = config.data.mri
    volumes = read_volumes(phantom_folder(mri), mri.model_copy(update={"layout": "bids"}), maps_suffix=ATROPHY_SUFFIX)
    val = load_data(config).val
    subjects = {val.group_names[g] for g in val.groups.unique().tolist()}
    scored = volumes.select(torch.tensor([s in subjects for s in volumes.subjects]))
    expected = summarize_effects(run.model, scored, mri, intervals=False).r_model
    assert math.isclose(history[-1]["val/map_r"], expected, abs_tol=1e-5)

    # scoring draws no random numbers: the run trains exactly as without it
    plain = train_from_config(tiny_run(tmp_path, "train.epochs=3", name="plain"))
    assert [row["val/loss"] for row in plain] == [row["val/loss"] for row in history]


def test_a_run_that_cannot_be_scored_is_refused_before_training(tmp_path, phantom_cache):

    with pytest.raises(ConfigError, match="conditional model with an encoder"):
        tiny_run(tmp_path, "train.score_maps_every=1", config="ad_vae_3d")
    with pytest.raises(ConfigError, match="only phantoms"):
        load_config("mnist_cvae", ["data.dataset=mnist", "train.score_maps_every=1"])
    with pytest.raises(ConfigError, match="set train.score_maps_every=1"):
        load_config(REPO / "benchmarks" / "tune" / "ad_cvae_3d_32.yaml", ["train.score_maps_every=5"])
    assert load_config(REPO / "benchmarks" / "tune" / "ad_cvae_3d_32.yaml").tune.metric == "val/map_r"
    # the validation split is stratified, so only a class with one training subject can leave it out
    from vaegan.data.mri import as_dataset, phantom_folder, read_volumes
    from vaegan.data.phantoms import ATROPHY_SUFFIX
    from vaegan.training.map_score import map_score

    mri = tiny_run(tmp_path, "train.score_maps_every=1").data.mri
    volumes = read_volumes(phantom_folder(mri), mri.model_copy(update={"layout": "bids"}), maps_suffix=ATROPHY_SUFFIX)
    with pytest.raises(ConfigError, match="compares CN and AD.*validation subject"):
        map_score(volumes, as_dataset(volumes.select(volumes.labels == 0), mri, "val"), mri, 1)


def test_the_map_is_scored_with_cn_and_ad_by_name_whatever_their_order(tmp_path, phantom_cache):
    """classes [AD, CN]: the 'controls' were the AD subjects and the truth the CN maps, all zeros: map_r 0.0
    at every epoch, and a study tuning it tuned a constant."""
    from vaegan.data.mri import phantom_folder, read_volumes
    from vaegan.data.phantoms import ATROPHY_SUFFIX
    from vaegan.experiment import load_data, train_from_config
    from vaegan.runs import load_run
    from vaegan.visualization.disease_maps import summarize_effects

    config = tiny_run(tmp_path, "data.mri.classes=[AD, CN]", "train.epochs=1", "train.score_maps_every=1")
    history = train_from_config(config)
    run, mri = load_run(tmp_path / "run", checkpoint="last", device="cpu"), config.data.mri
    volumes = read_volumes(phantom_folder(mri), mri.model_copy(update={"layout": "bids"}), maps_suffix=ATROPHY_SUFFIX)
    assert volumes.class_names == ["AD", "CN"]
    val = load_data(config).val
    subjects = {val.group_names[g] for g in val.groups.unique().tolist()}
    scored = volumes.select(torch.tensor([s in subjects for s in volumes.subjects]))
    expected = summarize_effects(run.model, scored, mri, control=1, disease=0, intervals=False).r_model
    assert expected != 0.0 and math.isclose(history[-1]["val/map_r"], expected, abs_tol=1e-5)

"""The AD notebooks' shared steps: QUICK settings per config, train once then reuse, the held-out subjects."""

from __future__ import annotations

import sys
import types

import pytest

from tests.data.mri_files import (  # noqa: F401  (fixtures)
    anatomy_cache_fixture,
    options,
    phantom_set_fixture,
)
from vaegan.config import load_config
from vaegan.data.mri import read_volumes, split_datasets
from vaegan.exercises import ad_runs

AD_CONFIGS = ["ad_vae_2d", "ad_vae_3d", "ad_cvae_2d", "ad_cvae_3d", "ad_acgan_2d", "ad_cvaegan_2d"]


@pytest.mark.parametrize("name", AD_CONFIGS)
def test_quick_settings_shrink_every_network_the_model_has(name):
    shipped = load_config(name)
    quick = load_config(name, ad_runs.quick_settings(shipped))
    assert (quick.data.mri.phantom_subjects, quick.data.mri.size, quick.train.epochs) == (12, 32, 1)
    networks = [n for n in ad_runs.NETWORKS if getattr(shipped.model, n, None) is not None]
    assert "network" in networks
    for network in networks:
        small, original = getattr(quick.model, network), getattr(shipped.model, network)
        assert small.channels == (8, 16)
        assert small.hidden == ((32,) if original.hidden else ())  # dense layers only where the model has them


def test_quick_settings_follow_the_model_not_the_config_name():
    settings = {
        name: ad_runs.quick_settings(load_config(name)) for name in ("ad_vae_2d", "ad_acgan_2d", "ad_cvaegan_2d")
    }
    assert not any("discriminator" in s or "classifier" in s for s in settings["ad_vae_2d"])
    assert "model.discriminator.channels=[8,16]" in settings["ad_acgan_2d"]
    assert not any("classifier" in s for s in settings["ad_acgan_2d"])
    assert "model.classifier.hidden=[32]" in settings["ad_cvaegan_2d"]


@pytest.fixture
def notebook_folder(tmp_path, monkeypatch):
    """A notebook's folder (Jupyter's working directory), and a record of every training instead of training."""
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))  # no __file__: the kernel's cwd
    monkeypatch.chdir(tmp_path)
    trained = []

    def train(config, overwrite=False):
        trained.append(config)
        (config.out_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
        (config.out_dir / "checkpoints" / "best.pt").write_bytes(b"")

    monkeypatch.setattr(ad_runs, "train_from_config", train)
    monkeypatch.setattr(ad_runs, "load_run", lambda path: path)
    return tmp_path, trained


def test_a_full_run_is_trained_once_and_then_reused(notebook_folder):
    folder, trained = notebook_folder
    assert ad_runs.ad_run("ad_cvae_2d", ["train.epochs=2"], quick=False) == folder / "outputs" / "ad_cvae_2d"
    assert ad_runs.ad_run("ad_cvae_2d", quick=False) == folder / "outputs" / "ad_cvae_2d"
    assert len(trained) == 1
    config = trained[0]
    assert config.train.epochs == 2 and config.data.mri.size == 64  # the overrides, on the shipped config
    assert not config.train.progress and not config.train.tensorboard


def test_quick_runs_train_every_time_beside_not_over_the_full_run(notebook_folder):
    folder, trained = notebook_folder
    ad_runs.ad_run("ad_acgan_2d", quick=False)
    for _ in range(2):
        assert ad_runs.ad_run("ad_acgan_2d", quick=True) == folder / "outputs" / "quick" / "ad_acgan_2d"
    assert [c.data.mri.size for c in trained] == [64, 32, 32]


def test_the_environment_decides_quick_when_not_told(notebook_folder, monkeypatch):
    folder, trained = notebook_folder
    monkeypatch.setenv("VAEGAN_QUICK", "1")
    assert ad_runs.ad_run("ad_vae_2d") == folder / "outputs" / "quick" / "ad_vae_2d"
    assert trained[0].train.epochs == 1


def test_held_out_subjects_are_the_loaders_test_subjects_with_their_maps(phantom_set):
    mri = options(size=16, spacing=6.0, cache=False)
    held_out = ad_runs.held_out_subjects(mri, phantom_set)
    _, test = split_datasets(read_volumes(phantom_set, mri), mri, "phantoms")
    assert set(held_out.subjects) == {test.group_names[g] for g in test.groups.unique().tolist()}
    assert held_out.maps is not None and held_out.maps.shape == held_out.volumes.shape
    assert set(held_out.labels.tolist()) == {0, 1}
    assert float(held_out.maps[held_out.labels == 1].max()) > 0.1  # AD subjects carry their atrophy

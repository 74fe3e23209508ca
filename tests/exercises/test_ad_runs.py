"""The AD notebooks' shared steps: QUICK settings per config, train once then reuse, the held-out subjects."""

from __future__ import annotations

import sys
import types

import pytest
import torch
import yaml

from tests.data.mri_files import (  # noqa: F401  (fixtures)
    anatomy_cache_fixture,
    options,
    phantom_set_fixture,
)
from vaegan.config import load_config
from vaegan.data.config import DataConfig
from vaegan.data.mri import read_volumes, split_datasets
from vaegan.exercises import ad_runs
from vaegan.foundation.checkpoints import FORMAT
from vaegan.foundation.errors import ConfigError

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


def write_run(config, epoch: int, *, last: bool = True) -> None:
    """What training leaves in a run folder by the end of ``epoch``: config.yaml, best.pt, and last.pt."""
    folder = config.out_dir / "checkpoints"
    folder.mkdir(parents=True, exist_ok=True)
    (config.out_dir / "config.yaml").write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
    for name in ("best", "last") if last else ("best",):
        torch.save({"format": FORMAT, "epoch": epoch}, folder / f"{name}.pt")


@pytest.fixture
def notebook_folder(tmp_path, monkeypatch):
    """A notebook's folder (Jupyter's working directory), and a record of every training instead of training."""
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))  # no __file__: the kernel's cwd
    monkeypatch.chdir(tmp_path)
    trained = []

    def train(config, *, resume=False, overwrite=False):
        trained.append(config)
        write_run(config, config.train.epochs)

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


@pytest.mark.parametrize("checkpoint", [True, False], ids=["last.pt at epoch 1", "best.pt only"])
def test_an_interrupted_run_is_trained_on_not_reused(notebook_folder, monkeypatch, checkpoint):
    """best.pt is written at epoch 1: a run stopped then (Ctrl-C, a closed laptop) was reused by every notebook."""
    folder, trained = notebook_folder
    finish = ad_runs.train_from_config
    calls = []

    def interrupted(config, *, resume=False, overwrite=False):
        calls.append(resume)
        write_run(config, 1, last=checkpoint)
        raise KeyboardInterrupt

    monkeypatch.setattr(ad_runs, "train_from_config", interrupted)
    with pytest.raises(KeyboardInterrupt):
        ad_runs.ad_run("ad_cvae_2d", ["train.epochs=3"], quick=False)

    def resumed(config, *, resume=False, overwrite=False):
        calls.append(resume)
        finish(config, resume=resume, overwrite=overwrite)

    monkeypatch.setattr(ad_runs, "train_from_config", resumed)
    assert ad_runs.ad_run("ad_cvae_2d", quick=False) == folder / "outputs" / "ad_cvae_2d"  # a later notebook
    assert calls == [False, checkpoint]  # resumed from last.pt where there is one, else trained again
    assert [c.train.epochs for c in trained] == [3]  # under the run's own config, not the shipped one
    ad_runs.ad_run("ad_cvae_2d", quick=False)
    assert len(trained) == 1  # finished now: reused


def test_overrides_that_differ_from_the_trained_run_are_refused(notebook_folder):
    folder, trained = notebook_folder
    ad_runs.ad_run("ad_cvae_2d", ["train.epochs=2", "model.latent_dim=8"], quick=False)
    with pytest.raises(ConfigError) as refused:
        ad_runs.ad_run("ad_cvae_2d", ["model.latent_dim=16", "train.device=cpu"], quick=False)
    message = str(refused.value)
    assert "model.latent_dim 8 -> 16" in message and str(folder / "outputs" / "ad_cvae_2d") in message
    assert "train.device" not in message  # where it runs does not change what it learned
    ad_runs.ad_run("ad_cvae_2d", ["model.latent_dim=8", "train.device=cpu"], quick=False)  # the same: reused
    # how the data are held and read changes nothing learned either (a smaller machine's settings)
    held = ["model.latent_dim=8", "train.eval_batch_size=8", "data.mri.storage=file"]
    ad_runs.ad_run("ad_cvae_2d", held, quick=False)
    assert len(trained) == 1


def test_held_out_subjects_come_from_the_folder_the_run_read(phantom_set, monkeypatch):
    """A run on its own folder (data.data_dir: real scans, or phantoms of one's own) was scored on the cache."""

    def no_cache(options):
        raise AssertionError("read the cached phantom set, not the run's data.data_dir")

    monkeypatch.setattr("vaegan.data.mri.phantom_folder", no_cache)
    monkeypatch.setattr(ad_runs, "phantom_folder", no_cache, raising=False)
    mri = options(size=16, spacing=6.0, cache=False)
    data = DataConfig(dataset="phantoms", data_dir=str(phantom_set), mri=mri)
    held_out = ad_runs.held_out_subjects(data)
    _, test = split_datasets(read_volumes(phantom_set, mri), mri, "phantoms")
    assert set(held_out.subjects) == {test.group_names[g] for g in test.groups.unique().tolist()}


def test_held_out_subjects_are_the_loaders_test_subjects_with_their_maps(phantom_set):
    mri = options(size=16, spacing=6.0, cache=False)
    data = DataConfig(dataset="phantoms", data_dir=str(phantom_set), mri=mri)
    held_out = ad_runs.held_out_subjects(data)
    _, test = split_datasets(read_volumes(phantom_set, mri), mri, "phantoms")
    assert set(held_out.subjects) == {test.group_names[g] for g in test.groups.unique().tolist()}
    assert held_out.maps is not None and held_out.maps.shape == held_out.volumes.shape
    assert set(held_out.labels.tolist()) == {0, 1}
    assert float(held_out.maps[held_out.labels == 1].max()) > 0.1  # AD subjects carry their atrophy
    learned = ad_runs.held_out_subjects(data, learned=True)
    assert not set(learned.subjects) & set(held_out.subjects)
    assert len(learned.subjects) + len(held_out.subjects) == len(read_volumes(phantom_set, mri).subjects)

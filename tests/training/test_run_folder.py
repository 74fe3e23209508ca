"""The run folder: --overwrite deletes only what vaegan wrote, dangerous --out and names are refused,
--resume refuses a changed config unless accepted, and the folder's files are written atomically."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from tests.cli.test_cli import blobs_dataset, write_config  # noqa: F401  (the fixture registers test-blobs)
from tests.conftest import tiny_splits
from tests.models.tiny_configs import tiny_model
from vaegan.cli import main
from vaegan.config import build_config
from vaegan.foundation.checkpoints import read_checkpoint
from vaegan.foundation.errors import ConfigError, TrainingError
from vaegan.training import Trainer
from vaegan.training.config import TrainConfig
from vaegan.training.run_folder import (
    MARKER,
    check_out_dir,
    is_run_file,
    non_finite_advice,
    note_grids,
    prepare_fresh,
    run_entries,
)


def train(config, out, *extra):
    return main(["train", "--config", str(config), "--out", str(out), *extra])


def test_overwrite_deletes_only_the_runs_own_files(tmp_path):
    config, run = write_config(tmp_path), tmp_path / "run"
    assert train(config, run) == 0
    assert json.loads((run / MARKER).read_text())["writes"]
    (run / "notes.txt").write_text("mine")
    (run / "src").mkdir()
    (run / "src" / "model.py").write_text("mine")
    (run / "checkpoints" / "keep.pt").write_text("mine")
    assert train(config, run, "--overwrite", "--epochs", "1") == 0
    assert (run / "notes.txt").read_text() == "mine"
    assert (run / "src" / "model.py").read_text() == "mine"
    assert (run / "checkpoints" / "keep.pt").read_text() == "mine"
    assert (run / "epoch001_fakes.png").is_file() and not (run / "epoch002_fakes.png").exists()


def test_overwrite_drops_the_old_models_disease_maps_and_keeps_the_users_files_beside_them(tmp_path):
    """vaegan effects writes RUN/effects/; kept, the report showed the old model's maps as the new one's."""
    config, run = write_config(tmp_path), tmp_path / "run"
    assert train(config, run) == 0
    effects = run / "effects"
    effects.mkdir()
    for name in ("group_effect.nii.gz", "sub-01_loss.nii.gz", "sub-01_as_CN.nii.gz", "group_effect.png"):
        (effects / name).write_text("old model")
    listed = {  # effects.json as vaegan effects writes it: with its run
        "group": "group_effect.nii.gz",
        "sub-01_loss": "sub-01_loss.nii.gz",
        "sub-01_as_CN": "sub-01_as_CN.nii.gz",
    }
    (effects / "effects.json").write_text(json.dumps({"run": str(run.resolve()), "files": listed}))
    for name in ("my_notes.txt", "my_threshold.nii.gz", "fsleyes_shot.png"):  # the user's, of any kind
        (effects / name).write_text("mine")
    assert train(config, run, "--overwrite", "--epochs", "1") == 0
    assert sorted(p.name for p in effects.iterdir()) == ["fsleyes_shot.png", "my_notes.txt", "my_threshold.nii.gz"]


def test_overwrite_keeps_user_files_named_like_the_runs_but_not_written_by_it(tmp_path):
    """Name patterns (epoch*_*.png, latent/*.png, effects/*_as_*.nii.gz) took the user's own figures along."""
    config, run = write_config(tmp_path), tmp_path / "run"
    assert train(config, run) == 0
    (run / "latent").mkdir(exist_ok=True)
    (run / "effects").mkdir()
    (run / "latent" / "traversal.png").write_text("old model")
    mine = ["epoch5_annotated.png", "epoch001_fakes_for_talk.png", "latent/my_figure.png", "latent/umap.csv"]
    mine += ["latent/codes.npz", "effects/pca_as_figure.nii.gz", "effects/my_loss.nii.gz"]
    for name in mine:
        (run / name).write_text("mine")
    assert train(config, run, "--overwrite", "--epochs", "1") == 0
    assert all((run / name).read_text() == "mine" for name in mine)
    assert not (run / "latent" / "traversal.png").exists()


def test_a_folder_of_the_users_called_effects_does_not_stop_a_fresh_run(tmp_path):
    """Any folder named like one a run writes counted as the run's, whatever it held."""
    config, run = write_config(tmp_path), tmp_path / "project"
    (run / "effects").mkdir(parents=True)
    (run / "effects" / "anova.txt").write_text("mine")
    assert train(config, run, "--epochs", "1") == 0
    assert (run / "effects" / "anova.txt").read_text() == "mine"


def test_out_dot_in_a_source_tree_is_refused_and_deletes_nothing(tmp_path, monkeypatch, capsys):
    config = write_config(tmp_path)
    tree = tmp_path / "project"
    (tree / "src").mkdir(parents=True)
    (tree / "src" / "code.py").write_text("print('precious')")
    (tree / "metrics.csv").write_text("epoch\n1\n")
    monkeypatch.chdir(tree)
    assert train(config, ".", "--overwrite") == 2
    err = capsys.readouterr().err
    assert "working directory" in err and len(err.strip().splitlines()) == 1
    assert (tree / "src" / "code.py").is_file() and (tree / "metrics.csv").is_file()
    assert train(config, "..", "--overwrite") == 2
    assert "parent of the working directory" in capsys.readouterr().err


@pytest.mark.parametrize("place", ["/", "~"])
def test_root_and_home_are_refused(place):
    with pytest.raises(ConfigError, match="give the run its own folder"):
        check_out_dir(place)


@pytest.mark.parametrize("name", ["../..", "a/b", "a\\b", "..", "", " x", "-rf", "a\nb"])
def test_config_name_must_be_one_safe_folder_name(name):
    with pytest.raises(ConfigError, match="name"):
        build_config({"name": name, "model": {"name": "vae"}})


def test_config_out_gets_the_same_checks(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="working directory"):
        build_config({"out": ".", "model": {"name": "vae"}})
    assert build_config({"out": "runs/a", "model": {"name": "vae"}}).out == "runs/a"


def test_overwrite_refuses_a_folder_that_vaegan_did_not_write(tmp_path):
    (tmp_path / "metrics.csv").write_text("epoch\n")  # the user's own, with a name a run also writes
    (tmp_path / "config.yaml").write_text("mine: true\n")
    config = TrainConfig(epochs=1, batch_size=16, grid_size=8, progress=False, tensorboard=False)
    with pytest.raises(TrainingError, match="--resume"):
        Trainer(tiny_model("vae"), tiny_splits(), config, out_dir=tmp_path).fit()
    with pytest.raises(TrainingError, match="vaegan did not write it"):
        Trainer(tiny_model("vae"), tiny_splits(), config, out_dir=tmp_path).fit(overwrite=True)
    assert (tmp_path / "metrics.csv").read_text() == "epoch\n" and (tmp_path / "config.yaml").is_file()


def test_a_run_from_before_the_marker_is_still_overwritten(tmp_path):
    config = TrainConfig(epochs=1, batch_size=16, grid_size=8, progress=False, tensorboard=False)
    Trainer(tiny_model("vae"), tiny_splits(), config, out_dir=tmp_path).fit()
    (tmp_path / MARKER).unlink()
    (tmp_path / "data.bin").write_bytes(b"1")
    Trainer(tiny_model("vae"), tiny_splits(), config, out_dir=tmp_path).fit(overwrite=True)
    assert (tmp_path / "data.bin").read_bytes() == b"1" and (tmp_path / MARKER).is_file()


def test_nan_advice_names_only_what_exists_and_what_is_not_in_use(tmp_path):
    assert "last.pt" not in non_finite_advice(tmp_path, "32")
    assert "precision" not in non_finite_advice(tmp_path, "32")
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.pt").write_bytes(b"x")
    advice = non_finite_advice(tmp_path, "bf16")
    assert "last.pt" in advice and "train.precision=32" in advice


# -- --resume with a changed config ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change, key",
    [
        (["--set", "model.lr=0.01"], "model.lr"),
        (["--set", "train.seed=7"], "train.seed"),
        (["--set", "train.batch_size=8"], "train.batch_size"),
        (["--set", "data.val_size=24"], "data.val_size"),
    ],
)
def test_resume_refuses_a_changed_config_and_names_the_keys(tmp_path, capsys, change, key):
    config, run = write_config(tmp_path), tmp_path / "run"
    assert train(config, run, "--epochs", "1") == 0
    before = (run / "config.yaml").read_text()
    assert train(config, run, "--epochs", "2", "--resume", *change) == 2
    err = capsys.readouterr().err
    assert key in err and "->" in err and "--accept-changes" in err and len(err.strip().splitlines()) == 1
    assert (run / "config.yaml").read_text() == before
    assert not (run / "epoch002_fakes.png").exists()


def test_resume_ignores_epochs_device_progress_and_tensorboard(tmp_path):
    config, run = write_config(tmp_path), tmp_path / "run"
    assert train(config, run, "--epochs", "1") == 0
    extra = ["--set", "train.progress=true", "--set", "train.tensorboard=false", "--device", "cpu"]
    assert train(config, run, "--epochs", "2", "--resume", *extra) == 0


def test_more_epochs_for_a_cosine_run_are_a_change_to_accept(tmp_path, capsys):
    """The cosine schedule spans train.epochs: more of them would raise a decayed rate again."""
    config, run = write_config(tmp_path), tmp_path / "run"
    cosine = ["--set", "train.lr_schedule=cosine"]
    assert train(config, run, "--epochs", "1", *cosine) == 0
    assert train(config, run, "--epochs", "2", "--resume", *cosine) == 2
    err = capsys.readouterr().err
    assert "train.epochs" in err and "schedule" in err and "--accept-changes" in err
    assert train(config, run, "--epochs", "2", "--resume", *cosine, "--accept-changes") == 0


def test_accepted_changes_are_recorded_and_config_yaml_rewritten(tmp_path):
    config, run = write_config(tmp_path), tmp_path / "run"
    assert train(config, run, "--epochs", "1") == 0
    assert train(config, run, "--epochs", "2", "--resume", "--set", "model.lr=0.01", "--accept-changes") == 0
    assert yaml.safe_load((run / "config.yaml").read_text())["model"]["lr"] == 0.01
    changes = yaml.safe_load((run / "config_changes.yaml").read_text())
    assert changes[0]["epoch"] == 1 and changes[0]["changes"]["model.lr"]["new"] == 0.01
    # and used: loading the optimizer's state brought back the old rate with it, under a config saying 0.01
    (group,) = read_checkpoint(run / "checkpoints" / "last.pt")["optimizers"]["model"]["param_groups"]
    assert group["lr"] == group["initial_lr"] == 0.01
    assert train(config, run, "--epochs", "3", "--resume", "--set", "model.lr=0.01") == 0  # now the run's own


@pytest.mark.parametrize("text", ["- epoch: 1\n  changes: {a: [\n", "just a note of mine\n"])
def test_a_damaged_change_history_is_named_before_training_and_kept(tmp_path, capsys, text):
    """A hand-edited config_changes.yaml: broken YAML stopped the run with a traceback after an epoch, and a
    file that was not a list was silently written over."""
    config, run = write_config(tmp_path), tmp_path / "run"
    assert train(config, run, "--epochs", "1") == 0
    (run / "config_changes.yaml").write_text(text)
    before = (run / "metrics.csv").read_text()
    code = train(config, run, "--epochs", "2", "--resume", "--set", "model.lr=0.01", "--accept-changes")
    assert code == 2 and "config_changes.yaml" in capsys.readouterr().err
    assert (run / "config_changes.yaml").read_text() == text and (run / "metrics.csv").read_text() == before


def test_an_accepted_change_the_checkpoint_cannot_take_is_not_recorded(tmp_path, capsys):
    config, run = write_config(tmp_path), tmp_path / "run"
    assert train(config, run, "--epochs", "1") == 0
    before = (run / "config.yaml").read_text()
    code = train(config, run, "--epochs", "2", "--resume", "--set", "model.latent_dim=5", "--accept-changes")
    assert code == 2 and "does not match" in capsys.readouterr().err
    assert (run / "config.yaml").read_text() == before and not (run / "config_changes.yaml").exists()


# -- files written atomically ------------------------------------------------------------------------------


def test_report_and_evaluation_json_are_written_atomically(tmp_path, monkeypatch):
    from vaegan.evaluation.results import Evaluation
    from vaegan.visualization import write_report

    config, run = write_config(tmp_path), tmp_path / "run"
    assert train(config, run, "--epochs", "1") == 0
    renamed = []
    real = os.replace
    monkeypatch.setattr(os, "replace", lambda a, b: (renamed.append(os.path.basename(b)), real(a, b)))
    write_report(run)
    Evaluation("vae", "test-blobs").write(run / "evaluation.json")
    assert renamed == ["report.html", "evaluation.json"]


def test_a_fresh_run_refuses_to_write_over_files_of_the_users_own_names(tmp_path, capsys):
    # holds_run looked only for metrics.csv or last.pt: a folder holding the user's own config.yaml and
    # curves.png counted as empty, both were replaced, and the marker then claimed them for --overwrite
    config, run = write_config(tmp_path), tmp_path / "mine"
    run.mkdir()
    (run / "config.yaml").write_text("mine: true\n")
    (run / "curves.png").write_bytes(b"mine")
    assert train(config, run, "--epochs", "1") == 2
    err = capsys.readouterr().err
    assert "config.yaml" in err and "curves.png" in err and "vaegan did not write" in err
    assert (run / "config.yaml").read_text() == "mine: true\n" and (run / "curves.png").read_bytes() == b"mine"
    assert not (run / MARKER).exists()
    assert train(config, run, "--epochs", "1", "--overwrite") == 2  # nor with --overwrite: they are not a run's
    assert (run / "config.yaml").read_text() == "mine: true\n"


def _fails_in_epoch(model, epoch: int, error: BaseException):
    """``model`` whose training step raises ``error`` once ``epoch`` has begun."""
    start, step = model.on_epoch_start, model.train_step
    model.on_epoch_start = lambda e: (setattr(model, "_epoch", e), start(e))[1]
    model.train_step = lambda *a, **k: (_ for _ in ()).throw(error) if model._epoch >= epoch else step(*a, **k)
    return model


def _run_files(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt()])
def test_overwrite_keeps_the_old_run_until_the_new_one_has_a_checkpoint(tmp_path, error, caplog):
    """--overwrite deleted the old run first: a new run that failed in epoch 1 left an empty folder."""
    config = TrainConfig(epochs=1, batch_size=16, grid_size=8, progress=False, tensorboard=False)
    Trainer(tiny_model("vae"), tiny_splits(), config, out_dir=tmp_path).fit()
    before = {k: v for k, v in _run_files(tmp_path).items() if k != ".vaegan-run.lock"}
    with pytest.raises(type(error)):
        Trainer(_fails_in_epoch(tiny_model("vae"), 1, error), tiny_splits(), config, out_dir=tmp_path).fit(
            overwrite=True
        )
    after = {k: v for k, v in _run_files(tmp_path).items() if k != ".vaegan-run.lock"}
    assert after == before  # every file of the old run back, byte for byte, nothing of the new one
    assert "run it was to replace is back" in caplog.text


def test_overwrite_drops_the_old_run_once_the_new_one_has_a_checkpoint(tmp_path):
    config = TrainConfig(epochs=2, batch_size=16, grid_size=8, progress=False, tensorboard=False)
    Trainer(tiny_model("vae"), tiny_splits(), config, out_dir=tmp_path).fit()
    with pytest.raises(RuntimeError):
        failing = _fails_in_epoch(tiny_model("vae"), 2, RuntimeError("boom"))
        Trainer(failing, tiny_splits(), config, out_dir=tmp_path).fit(overwrite=True)
    assert read_checkpoint(tmp_path / "checkpoints" / "last.pt")["epoch"] == 1  # the new run's, resumable
    assert (tmp_path / "metrics.csv").read_text().count("\n") == 2
    assert not [p for p in tmp_path.rglob("*") if "replaced" in p.name]


def test_a_run_killed_while_overwriting_gets_the_old_run_back_on_the_next_start(tmp_path, caplog):
    """SIGKILL leaves no finally: the next start in the folder puts the old run back, then does as asked."""
    config = TrainConfig(epochs=1, batch_size=16, grid_size=8, progress=False, tensorboard=False)
    Trainer(tiny_model("vae"), tiny_splits(), config, out_dir=tmp_path).fit()
    old_epoch = (tmp_path / "metrics.csv").read_text().splitlines()[1]  # its seconds are this run's alone
    prepare_fresh(tmp_path, overwrite=True)  # what the killed run had done: the old run set aside
    (tmp_path / "epoch001_samples.png").write_bytes(b"half of the new run's first grid")
    assert not (tmp_path / "checkpoints" / "last.pt").exists()
    longer = TrainConfig(**{**config.model_dump(), "epochs": 2})
    again = Trainer(tiny_model("vae"), tiny_splits(), longer, out_dir=tmp_path)
    assert [row["epoch"] for row in again.fit(resume=True)] == [1, 2]  # the old run, continued
    assert "run it was to replace is back" in caplog.text
    assert (tmp_path / "metrics.csv").read_text().splitlines()[1] == old_epoch
    assert not [p for p in tmp_path.rglob("*") if "replaced" in p.name]


def test_a_plugin_models_own_grid_names_are_noted_for_overwrite(tmp_path):
    run = tmp_path / "run"
    prepare_fresh(run, overwrite=False)
    for name in ("epoch003_heatmaps.png", "epoch003_recons.png", "epoch3_heatmaps.png"):
        (run / name).write_text("x")
    assert {p.name for p in run_entries(run)} >= {"epoch003_recons.png"}
    assert "epoch003_heatmaps.png" not in {p.name for p in run_entries(run)}
    note_grids(run, ["heatmaps", "recons"])
    own = {p.name for p in run_entries(run)}
    assert "epoch003_heatmaps.png" in own and "epoch3_heatmaps.png" not in own
    assert is_run_file(run / "epoch010_heatmaps.png") and not is_run_file(run / "epoch010_mine.png")


def test_out_inside_another_run_or_inside_the_data_is_refused(tmp_path, capsys):
    """--out RUN/latent made a run whose --overwrite and the outer run's took each other's files; --out in the
    data folder wrote run files among the scans."""
    config, run = write_config(tmp_path), tmp_path / "run"
    assert train(config, run, "--epochs", "1") == 0
    assert train(config, run / "latent", "--epochs", "1") == 2
    assert "inside the run folder" in capsys.readouterr().err and not (run / "latent" / MARKER).exists()
    scans = tmp_path / "scans"
    (scans / "sub-01").mkdir(parents=True)
    for out in (scans, scans / "sub-01" / "run"):
        assert train(config, out, "--data-dir", str(scans), "--epochs", "1") == 2
        assert "data folder" in capsys.readouterr().err
    assert sorted(p.name for p in scans.rglob("*")) == ["sub-01"]


def test_a_csv_keeps_runs_from_its_scans_folders_not_from_every_folder_beside_it(tmp_path, monkeypatch):
    """train guarded the CSV file alone and effects the CSV's whole folder: runs/csv was a train --out, and its
    default effects folder, runs/csv/effects, was refused as 'among the scans'. Both now guard the CSV and the
    folders holding the scans it lists."""
    (tmp_path / "scans").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "scans" / "a.nii.gz").write_bytes(b"")
    (tmp_path / "elsewhere" / "b.nii.gz").write_bytes(b"")
    cohort = tmp_path / "cohort.csv"
    cohort.write_text(f"path,label\nscans/a.nii.gz,CN\n{tmp_path / 'elsewhere' / 'b.nii.gz'},AD\n")
    monkeypatch.chdir(tmp_path)
    assert check_out_dir("runs/x", data_dir=cohort) == Path("runs/x")
    for out in ("scans", "scans/run", tmp_path / "elsewhere" / "run"):
        with pytest.raises(ConfigError, match="holds scans that .*cohort.csv lists"):
            check_out_dir(out, data_dir=cohort)
    (tmp_path / "folder").mkdir()  # a data folder: everything inside it, as before
    with pytest.raises(ConfigError, match="inside the data folder"):
        check_out_dir("folder/run", data_dir="folder")


def test_resume_where_there_is_no_run_says_it_starts_one(tmp_path, caplog):
    """--out outputs/typo --resume trained from scratch and ended as if it had resumed."""
    import logging

    config, run = write_config(tmp_path), tmp_path / "typo"
    with caplog.at_level(logging.WARNING):
        assert train(config, run, "--epochs", "1", "--resume") == 0
    assert "no run to resume" in caplog.text and str(run) in caplog.text


def test_an_mri_size_too_small_for_the_network_is_refused_before_the_cohort_is_read(tmp_path, monkeypatch, capsys):
    """data.mri.size=4 under three stride-2 stages: refused only when the model was built, after every scan
    of the cohort had been preprocessed (and registered)."""
    from vaegan import experiment

    def never(config):
        raise AssertionError("the cohort was read before the network was checked against data.mri.size")

    monkeypatch.setattr(experiment, "load_data", never)
    (tmp_path / "scans").mkdir()
    args = ["train", "--config", "ad_cvae_2d", "--out", str(tmp_path / "run"), "--data-dir", str(tmp_path / "scans")]
    assert main([*args, "--set", "data.mri.size=4"]) == 2
    assert "network.channels" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("config", "overrides", "key"),
    [
        ("ad_cvaegan_2d", ["model.classifier.channels=[4,4,4,4,4,4,4]"], "model.classifier.channels"),
        ("ad_vae_2d", ["model.network.norm=instance", "model.network.channels=[8,8,8,8,8,8]"], "norm='instance'"),
    ],
)
def test_every_network_of_an_mri_model_is_checked_before_the_cohort_is_read(
    tmp_path, monkeypatch, config, overrides, key
):
    """The CVAE-GAN's classifier and instance norm on maps of one voxel were refused after the cohort."""
    from vaegan import experiment
    from vaegan.config import load_config
    from vaegan.foundation.errors import ConfigError

    monkeypatch.setattr(experiment, "load_data", lambda config: pytest.fail("the cohort was read first"))
    run = load_config(config, [*overrides, f"out={tmp_path / 'run'}", "train.device=cpu"])
    with pytest.raises(ConfigError, match=key.replace(".", r"\.").replace("[", r"\[")):
        experiment.train_from_config(run)


def test_resume_does_not_hold_the_whole_checkpoint_while_it_trains(tmp_path, monkeypatch):
    """last.pt (weights and both Adam moments) was read to take its run_config and kept for the whole run."""
    import gc
    import weakref

    from vaegan import experiment

    config, run = write_config(tmp_path), tmp_path / "run"
    assert train(config, run, "--epochs", "1") == 0
    held = []
    read = experiment.read_resume_point

    def reading(last):
        payload = read(last)
        held.append(weakref.ref(next(iter(payload["model"].values()))))
        return payload

    class Checked(experiment.Trainer):
        def fit(self, **kwargs):
            gc.collect()
            assert held and held[0]() is None, "the resume point is still held while training"
            return super().fit(**kwargs)

    monkeypatch.setattr(experiment, "read_resume_point", reading)
    monkeypatch.setattr(experiment, "Trainer", Checked)
    assert train(config, run, "--epochs", "2", "--resume") == 0


def test_a_kl_warm_up_longer_than_the_run_is_warned_about(tmp_path, caplog, monkeypatch):
    """--set model.kl_warmup_epochs=20 on an 8-epoch run ended at 8/20 of beta; best.pt was still chosen
    by the full-beta objective, which the run never optimised."""
    import logging

    from vaegan import experiment
    from vaegan.config import load_config

    monkeypatch.setattr(experiment, "Trainer", lambda *args, **kwargs: type("T", (), {"fit": lambda self, **k: []})())
    overrides = ["model.kl_warmup_epochs=20", "train.epochs=8", f"out={tmp_path / 'run'}"]
    with caplog.at_level(logging.WARNING):
        experiment.train_from_config(load_config(str(write_config(tmp_path)), overrides))
    assert "kl_warmup_epochs=20" in caplog.text and "train.epochs=8" in caplog.text


def test_an_image_shape_given_in_the_config_that_the_data_replaces_is_said(tmp_path, caplog):
    """--set model.image_shape=[1,32,32] on 16 x 16 images was accepted and silently replaced."""
    import logging

    from vaegan import experiment
    from vaegan.config import load_config

    config = load_config(str(write_config(tmp_path)), ["model.image_shape=[1,32,32]", "model.num_classes=7"])
    with caplog.at_level(logging.WARNING):
        prepared, data = experiment.prepare(config)
    assert tuple(prepared.model.image_shape) == tuple(data.image_shape)
    assert "model.image_shape=(1, 32, 32) is replaced" in caplog.text and "model.num_classes=7" in caplog.text


def test_a_folder_holding_one_csv_guards_the_scans_it_lists_too(tmp_path):
    """data_dir may be the folder that holds the CSV (layout csv): the scans it lists elsewhere were unguarded
    for train, and effects then refused that run's default folder."""
    (tmp_path / "d").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "b.nii.gz").write_bytes(b"")
    (tmp_path / "d" / "cohort.csv").write_text(f"path,label\n{tmp_path / 'elsewhere' / 'b.nii.gz'},AD\n")
    with pytest.raises(ConfigError, match="cohort.csv lists"):
        check_out_dir(tmp_path / "elsewhere" / "run", data_dir=tmp_path / "d")
    with pytest.raises(ConfigError, match="inside the data folder"):
        check_out_dir(tmp_path / "d" / "run", data_dir=tmp_path / "d")

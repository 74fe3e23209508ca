"""No user file is lost: --out never replaces a run's own files or an input, one training holds a run folder,
a full disk is named in one line, and an interrupted or failed run leaves the folder as it was."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import signal
from pathlib import Path

import pytest
import yaml
from filelock import FileLock

from tests.cli.test_cli import blobs_dataset, write_config  # noqa: F401  (the fixture registers test-blobs)
from tests.cli.test_errors import one_line_error
from vaegan.cli import main
from vaegan.foundation.checkpoints import read_checkpoint
from vaegan.models.vae import VAE
from vaegan.training.callbacks import Callback

LOCK = ".vaegan-run.lock"  # vaegan.training.run_folder.LOCK


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A two-epoch run, copied afresh for each test that changes it."""
    root = tmp_path_factory.mktemp("trained")
    out = root / "run"
    assert main(["train", "--config", str(write_config(root)), "--out", str(out)]) == 0
    return out


@pytest.fixture
def run(trained, tmp_path) -> Path:
    import shutil

    return Path(shutil.copytree(trained, tmp_path / "run"))


def digest(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` and the hash of its bytes."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != LOCK
    }


@pytest.mark.parametrize(
    ("command", "target"),
    [
        (["report"], "checkpoints/last.pt"),
        (["report"], "config.yaml"),
        (["evaluate", "--k", "2", "--nll-images", "4", "--samples", "8"], "checkpoints/best.pt"),
        (["evaluate", "--k", "2", "--nll-images", "4", "--samples", "8"], ".vaegan-run.json"),
        (["sample", "--n", "4"], "curves.png"),
        (["sample", "--n", "4"], "epoch001_recons.png"),
    ],
)
def test_out_never_replaces_a_file_of_a_run(run, capsys, command, target):
    before = digest(run)
    line = one_line_error(capsys, main([command[0], str(run), *command[1:], "--out", str(run / target)]))
    assert target.split("/")[-1] in line
    assert digest(run) == before


def test_visualize_out_never_writes_into_another_run(run, tmp_path, capsys):
    other = tmp_path / "other"
    assert main(["train", "--config", str(write_config(tmp_path)), "--out", str(other), "--epochs", "1"]) == 0
    before = digest(other)
    line = one_line_error(capsys, main(["visualize", str(run), "--out", str(other)]))
    assert str(other) in line and "run" in line
    assert digest(other) == before


def test_visualize_out_keeps_a_users_files_of_the_figures_names(run, tmp_path, capsys):
    """--out a folder of the user's: their curves.png and traversal.png were written over."""
    out = tmp_path / "figures"
    out.mkdir()
    (out / "curves.png").write_text("my own curves")
    (out / "notes.txt").write_text("mine")
    line = one_line_error(capsys, main(["visualize", str(run), "--methods", "pca", "--out", str(out)]))
    assert "curves.png" in line
    assert {p.name: p.read_text() for p in out.iterdir()} == {"curves.png": "my own curves", "notes.txt": "mine"}
    (out / "curves.png").unlink()
    assert main(["visualize", str(run), "--methods", "pca", "--out", str(out)]) == 0
    assert main(["visualize", str(run), "--methods", "pca", "--out", str(out)]) == 0  # its own figures again
    assert (out / "notes.txt").read_text() == "mine" and (out / "curves.png").stat().st_size > 1000


def test_reconstruct_never_replaces_its_own_input(run, tmp_path, capsys):
    from PIL import Image

    image = tmp_path / "digit.png"
    Image.new("L", (16, 16), 128).save(image)
    before = image.read_bytes()
    line = one_line_error(capsys, main(["reconstruct", str(run), str(image), "--out", str(image)]))
    assert "digit.png" in line and "input" in line
    assert image.read_bytes() == before


def test_a_report_must_be_html_and_an_evaluation_json(run, tmp_path, capsys):
    line = one_line_error(capsys, main(["report", str(run), "--out", str(tmp_path / "page.txt")]))
    assert ".html" in line
    args = ["evaluate", str(run), "--k", "2", "--nll-images", "4", "--samples", "8", "--out", str(tmp_path / "e.pt")]
    assert ".json" in one_line_error(capsys, main(args))


def test_a_second_training_in_a_held_run_folder_is_refused(run, tmp_path, capsys):
    before = digest(run)
    config = str(write_config(tmp_path))
    with FileLock(str(run / LOCK), timeout=0):  # another process trains there
        for extra in (["--resume", "--epochs", "3"], ["--overwrite"]):
            line = one_line_error(capsys, main(["train", "--config", config, "--out", str(run), *extra]))
            assert str(run) in line and "another" in line
    assert digest(run) == before
    assert main(["train", "--config", config, "--out", str(run), "--resume", "--epochs", "3"]) == 0  # released


def test_a_full_disk_while_writing_a_report_is_one_line_and_leaves_nothing(run, capsys, monkeypatch):
    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")  # as write() reports it: no file name

    monkeypatch.setattr(Path, "write_text", full)
    line = one_line_error(capsys, main(["report", str(run)]))
    assert "report.html" in line and "disk is full" in line
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]


def test_a_failed_resume_under_accepted_changes_keeps_the_runs_config(run, tmp_path, capsys, monkeypatch):
    config_before = (run / "config.yaml").read_text()
    original = VAE.losses

    def poisoned(self, batch):
        terms = original(self, batch)
        return {**terms, "loss": terms["loss"] * float("nan")}

    monkeypatch.setattr(VAE, "losses", poisoned)
    args = ["train", "--config", str(write_config(tmp_path)), "--out", str(run), "--resume", "--epochs", "3"]
    line = one_line_error(capsys, main([*args, "--set", "model.lr=0.5", "--accept-changes"]))
    assert "non-finite" in line
    assert (run / "config.yaml").read_text() == config_before  # the change never trained an epoch
    assert not (run / "config_changes.yaml").exists()


def test_resume_without_last_pt_names_best_pt(run, tmp_path, capsys):
    (run / "checkpoints" / "last.pt").unlink()
    args = ["train", "--config", str(write_config(tmp_path)), "--out", str(run), "--resume", "--epochs", "3"]
    line = one_line_error(capsys, main(args))
    assert "best.pt" in line and "--overwrite" not in line


def test_sigterm_stops_training_like_ctrl_c_and_leaves_no_temporary_file(run, tmp_path, capsys, caplog, monkeypatch):
    class Terminate(Callback):
        def on_epoch_end(self, trainer, row):
            os.kill(os.getpid(), signal.SIGTERM)  # what a batch scheduler sends at its time limit

    monkeypatch.setattr("vaegan.experiment.default_callbacks", _with(Terminate()))
    handler = signal.getsignal(signal.SIGTERM)
    args = ["train", "--config", str(write_config(tmp_path)), "--out", str(run), "--resume", "--epochs", "4"]
    assert main(args) == 130
    assert "interrupted" in capsys.readouterr().err
    assert "last.pt holds epoch 3" in caplog.text  # what --resume continues after
    assert not [p for p in run.rglob("*.tmp")]
    assert signal.getsignal(signal.SIGTERM) is handler  # put back


def test_a_stop_while_the_first_epoch_is_written_names_that_epoch(tmp_path, caplog, monkeypatch):
    """Stopped between epoch 1's metrics.csv and its checkpoint, the log said 'interrupted in epoch 2'."""
    from vaegan.training.callbacks import default_callbacks

    class Terminate(Callback):
        def on_epoch_end(self, trainer, row):
            raise KeyboardInterrupt

    monkeypatch.setattr("vaegan.experiment.default_callbacks", lambda config: [Terminate(), *default_callbacks(config)])
    assert main(["train", "--config", str(write_config(tmp_path)), "--out", str(tmp_path / "run")]) == 130
    assert "interrupted at the end of epoch 1, before any checkpoint was written" in caplog.text


def test_stale_temporary_files_of_a_dead_run_are_cleared_on_resume(run, tmp_path):
    stale = [run / "checkpoints" / ".last.pt.abc123.tmp", run / ".metrics.csv.x1y2.tmp"]
    for path in stale:
        path.write_bytes(b"\0" * 1000)
    assert main(["train", "--config", str(write_config(tmp_path)), "--out", str(run), "--resume", "--epochs", "3"]) == 0
    assert not any(path.exists() for path in stale)


def test_a_file_that_is_no_checkpoint_is_not_called_python_objects(run, tmp_path, capsys):
    (run / "checkpoints" / "best.pt").write_text("<html><body>a report</body></html>")
    line = one_line_error(capsys, main(["sample", str(run), "--out", str(tmp_path / "g.png")]))
    assert "best.pt" in line and "not a vaegan checkpoint" in line and "Python objects" not in line


def _with(extra: Callback):
    from vaegan.training.callbacks import default_callbacks

    return lambda config: [*default_callbacks(config), extra]


def test_out_may_write_into_a_users_folder_that_holds_a_config(run, tmp_path, capsys):
    project = tmp_path / "project"
    project.mkdir()
    (project / "config.yaml").write_text("mine: true\n")  # a folder of the user's, not a run
    assert main(["sample", str(run), "--n", "4", "--out", str(project / "curves.png")]) == 0


def test_out_never_replaces_another_runs_report_or_evaluation(run, tmp_path, capsys):
    import shutil

    other = Path(shutil.copytree(run, tmp_path / "other"))
    (other / "report.html").write_text("<html>the other run's page</html>")
    line = one_line_error(capsys, main(["report", str(run), "--out", str(other / "report.html")]))
    assert "report.html" in line
    assert "other run's page" in (other / "report.html").read_text()
    line = one_line_error(capsys, main(["visualize", str(run), "--out", str(other / "latent")]))
    assert "another run" in line
    assert "Curves.png" in one_line_error(capsys, main(["sample", str(run), "--out", str(run / "Curves.png")]))


def test_a_refused_training_leaves_no_lock_file_in_the_users_folder(tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "metrics.csv").write_text("epoch,loss\n1,0.5\n")
    one_line_error(capsys, main(["train", "--config", str(write_config(tmp_path)), "--out", str(mine)]))
    assert sorted(p.name for p in mine.iterdir()) == ["metrics.csv"]


def test_accepted_changes_are_recorded_even_when_a_later_callback_stops_the_epoch(run, tmp_path, monkeypatch):
    class Stop(Callback):
        def on_epoch_end(self, trainer, row):
            raise KeyboardInterrupt  # after the epoch's checkpoint, as Ctrl-C while figures are drawn

    monkeypatch.setattr("vaegan.experiment.default_callbacks", _with(Stop()))
    args = ["train", "--config", str(write_config(tmp_path)), "--out", str(run), "--resume", "--epochs", "3"]
    assert main([*args, "--set", "model.lr=0.0005", "--accept-changes"]) == 130
    assert yaml.safe_load((run / "config.yaml").read_text())["model"]["lr"] == 0.0005  # as last.pt now says
    assert (run / "config_changes.yaml").is_file()


def test_a_nifti_samples_sidecar_never_replaces_a_run_file_or_a_users_json(run, tmp_path, capsys):
    before = digest(run)
    line = one_line_error(capsys, main(["sample", str(run), "--n", "4", "--out", str(run / "evaluation.nii.gz")]))
    assert "evaluation.json" in line
    assert digest(run) == before
    results = tmp_path / "results"
    results.mkdir()
    (results / "study.json").write_text('{"my": "study protocol"}')
    assert main(["sample", str(run), "--n", "4", "--out", str(results / "study.v2.nii.gz")]) == 0
    assert "study.v2.json" in capsys.readouterr().out  # the sidecar is named where it went
    assert json.loads((results / "study.v2.json").read_text())["slice_axis"] == "axial"
    line = one_line_error(capsys, main(["sample", str(run), "--n", "4", "--out", str(results / "study.nii.gz")]))
    assert "study.json" in line and not (results / "study.nii.gz").exists()
    assert (results / "study.json").read_text() == '{"my": "study protocol"}'
    assert main(["sample", str(run), "--n", "4", "--out", str(results / "study.v2.nii.gz")]) == 0  # its own sidecar


def test_resume_with_more_epochs_rewrites_config_yaml_as_last_pt_says(run, tmp_path):
    args = ["train", "--config", str(write_config(tmp_path)), "--out", str(run), "--resume", "--epochs", "3"]
    assert main(args) == 0
    saved = read_checkpoint(run / "checkpoints" / "last.pt")["run_config"]
    assert yaml.safe_load((run / "config.yaml").read_text())["train"]["epochs"] == saved["train"]["epochs"] == 3
    assert not (run / "config_changes.yaml").exists()  # more epochs is no change of the run's settings


def test_an_accepted_change_of_the_objective_starts_best_pt_afresh(run, tmp_path, caplog):
    args = ["train", "--config", str(write_config(tmp_path)), "--out", str(run), "--resume", "--epochs", "3"]
    assert main([*args, "--set", "model.kl_weight=1000", "--accept-changes"]) == 0
    assert read_checkpoint(run / "checkpoints" / "best.pt")["epoch"] == 3  # the first epoch under the new objective
    assert "best.pt" in caplog.text


def test_an_accepted_change_of_the_learning_rate_keeps_the_best_so_far(run, tmp_path):
    best = read_checkpoint(run / "checkpoints" / "best.pt")
    args = ["train", "--config", str(write_config(tmp_path)), "--out", str(run), "--resume", "--epochs", "3"]
    assert main([*args, "--set", "model.lr=1e-9", "--accept-changes"]) == 0
    after = read_checkpoint(run / "checkpoints" / "last.pt")
    assert after["best"] <= best["best"]  # compared with the epochs before: the objective is the same


def test_resume_with_no_epoch_left_says_nothing_was_trained(run, tmp_path, caplog):
    before = (run / "metrics.csv").read_text()
    args = ["train", "--config", str(write_config(tmp_path)), "--out", str(run), "--resume", "--epochs", "1"]
    assert main(args) == 0
    assert "nothing to train" in caplog.text and "epoch 2" in caplog.text
    assert (run / "metrics.csv").read_text() == before


def test_moving_the_data_keeps_the_best_so_far(run, tmp_path, caplog):
    """An accepted --data-dir (the data moved) started best.pt afresh: the best model so far was lost."""
    best = read_checkpoint(run / "checkpoints" / "best.pt")["best"]
    args = ["train", "--config", str(write_config(tmp_path)), "--out", str(run), "--resume", "--epochs", "3"]
    assert main([*args, "--data-dir", str(tmp_path / "moved"), "--accept-changes"]) == 0
    assert "starts afresh" not in caplog.text
    assert read_checkpoint(run / "checkpoints" / "last.pt")["best"] <= best


def test_settings_of_how_the_data_are_held_resume_without_accept_changes(run, tmp_path):
    args = ["train", "--config", str(write_config(tmp_path)), "--out", str(run), "--resume", "--epochs", "3"]
    assert main([*args, "--set", "train.eval_batch_size=8", "--set", "train.data_on_device=never"]) == 0


def test_the_report_names_the_epoch_best_pt_holds_after_the_objective_changed(run, tmp_path):
    from vaegan.visualization.report_tables import metrics_section

    args = ["train", "--config", str(write_config(tmp_path)), "--out", str(run), "--resume", "--epochs", "3"]
    assert main([*args, "--set", "model.kl_weight=1000", "--accept-changes"]) == 0
    metrics = metrics_section(run, VAE.monitor, {})
    assert metrics["best_epoch"] == metrics["best_held"] == 3

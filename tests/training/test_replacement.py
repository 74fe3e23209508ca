"""--overwrite keeps the old run aside until the new one has a checkpoint, whatever stops it on the way:
a move that fails half-way, a second interrupt while the old run is put back, a SIGKILL, a symlinked
checkpoints/ folder; and a --resume after a killed --overwrite still checks the config."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tests.cli.test_cli import blobs_dataset, write_config  # noqa: F401  (the fixture registers test-blobs)
from vaegan.cli import main
from vaegan.training.replacement import DROPPING, REPLACING
from vaegan.training.run_folder import prepare_fresh
from vaegan.training.trainer import Trainer

HIDDEN = (".vaegan-run.lock",)


def files(run: Path) -> dict[str, bytes]:
    return {
        p.relative_to(run).as_posix(): p.read_bytes()
        for p in sorted(run.rglob("*"))
        if p.is_file() and p.name not in HIDDEN
    }


def kept(before: dict[str, bytes], run: Path) -> bool:
    """Every file of ``before`` as it was; a resume may add only a TensorBoard event file."""
    after = files(run)
    return {k: v for k, v in after.items() if k in before} == before and all(
        k.startswith("tensorboard/events.") for k in set(after) - set(before)
    )


def train(config, run, *extra) -> int:
    return main(["train", "--config", str(config), "--out", str(run), *extra])


@pytest.fixture
def old_run(tmp_path):
    config, run = write_config(tmp_path), tmp_path / "run"
    assert train(config, run, "--epochs", "1") == 0
    return config, run


def failing_rename(monkeypatch, when, error):
    """Path.rename and Path.replace raise ``error`` for the moves ``when(source, target)`` picks."""
    for method in ("rename", "replace"):
        real = getattr(Path, method)

        def move(self, target, real=real):
            if when(self, Path(target)):
                raise error
            return real(self, target)

        monkeypatch.setattr(Path, method, move)


@pytest.mark.parametrize("name", ["metrics.csv", "last.pt"])
def test_a_move_aside_that_fails_half_way_puts_everything_back(old_run, monkeypatch, name):
    config, run = old_run
    before = files(run)
    failing_rename(
        monkeypatch,
        lambda src, dst: src.name == name and "replac" in str(dst),
        PermissionError(13, "Permission denied", name),
    )
    assert train(config, run, "--overwrite") == 2
    monkeypatch.undo()
    assert files(run) == before and not [p for p in run.iterdir() if "replac" in p.name]


def test_a_second_interrupt_while_the_old_run_comes_back_is_finished_at_the_next_start(old_run, monkeypatch):
    config, run = old_run
    before = files(run)
    monkeypatch.setattr(Trainer, "train_epoch", lambda self, epoch: (_ for _ in ()).throw(KeyboardInterrupt()))
    failing_rename(monkeypatch, lambda src, dst: src.name == "last.pt" and "vaegan-re" in str(src), KeyboardInterrupt())
    assert train(config, run, "--overwrite") == 130
    monkeypatch.undo()
    assert train(config, run, "--resume", "--epochs", "1") == 0  # settles first: the old run, whole
    assert kept(before, run)


def test_a_set_aside_killed_half_way_is_moved_back_at_the_next_start(old_run):
    config, run = old_run
    before = files(run)
    moving = run / REPLACING  # what a SIGKILL in the middle of the moves leaves: no handler rolled back
    (moving / "checkpoints").mkdir(parents=True)
    (run / "metrics.csv").rename(moving / "metrics.csv")
    (run / "checkpoints" / "last.pt").rename(moving / "checkpoints" / "last.pt")
    assert train(config, run, "--resume", "--epochs", "1") == 0
    assert kept(before, run) and not moving.exists()


def test_a_failed_new_run_with_a_symlinked_checkpoints_folder_keeps_the_old_run(old_run, monkeypatch, tmp_path):
    config, run = old_run
    shutil.move(run / "checkpoints", tmp_path / "big_disk")
    (run / "checkpoints").symlink_to(tmp_path / "big_disk")
    before = files(run)
    monkeypatch.setattr(Trainer, "train_epoch", lambda self, epoch: (_ for _ in ()).throw(RuntimeError("boom")))
    with pytest.raises(RuntimeError):
        train(config, run, "--overwrite")
    monkeypatch.undo()
    assert files(run) == before


def test_resume_after_a_killed_overwrite_checks_the_config_of_the_run_that_comes_back(old_run, tmp_path, capsys):
    config, run = old_run
    changed = yaml.safe_load(config.read_text())
    changed["model"]["kl_weight"] = 7.0
    new = tmp_path / "new.yaml"
    new.write_text(yaml.safe_dump(changed))
    prepare_fresh(run, overwrite=True)  # a killed --overwrite: the old run aside, a new config.yaml written
    (run / "config.yaml").write_text("the killed run's config\n")
    assert train(new, run, "--resume", "--epochs", "2") == 2
    assert "trained under another config" in capsys.readouterr().err


def test_an_old_run_killed_while_being_deleted_is_not_brought_back_over_the_new_one(old_run):
    """Half deleted (its time stamp gone first), it was taken for an aside with no new checkpoint."""
    config, run = old_run
    assert train(config, run, "--overwrite", "--epochs", "2") == 0
    before = files(run)
    dropping = run / DROPPING  # what a SIGKILL during the deleting leaves
    (dropping / "checkpoints").mkdir(parents=True)
    (dropping / "checkpoints" / "last.pt").write_bytes(b"the old run's, half deleted")
    assert train(config, run, "--resume", "--epochs", "2") == 0
    assert kept(before, run) and not dropping.exists()


def test_a_callback_failing_after_the_new_runs_first_checkpoint_keeps_the_new_run(old_run, monkeypatch):
    """--overwrite, then a figure callback (t-SNE, the tuner's report) failed after epoch 1's checkpoint: the
    new run's checkpoint was deleted and the old run brought back, while the log said last.pt held epoch 1."""
    from vaegan.foundation.checkpoints import read_checkpoint
    from vaegan.training.callbacks import LatentFigures

    config, run = old_run
    old = read_checkpoint(run / "checkpoints" / "last.pt")

    def broken(self, trainer, row):
        raise RuntimeError("a figure failed")

    monkeypatch.setattr(LatentFigures, "on_epoch_end", broken)  # it runs after the checkpoint is written
    changes = ["--set", "train.visualize_every=1", "--set", "train.seed=7"]
    with pytest.raises(RuntimeError, match="a figure failed"):
        train(config, run, "--epochs", "2", "--overwrite", *changes)
    new = read_checkpoint(run / "checkpoints" / "last.pt")
    assert new["epoch"] == 1 and not _same_weights(new, old)  # the new run's epoch 1, kept
    assert not (run / ".vaegan-replaced").exists()


def _same_weights(a: dict, b: dict) -> bool:
    import torch

    return all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])


@pytest.mark.parametrize("name", [".vaegan-replacing", ".vaegan-restoring", ".vaegan-replaced"])
def test_an_aside_folder_that_is_a_link_moves_nothing_through_it(tmp_path, name):
    """A run folder someone sent, holding .vaegan-replacing -> ~/Documents: the next start renamed the
    link's files into the run (replacing its namesakes), then failed on rmtree of a link."""
    from vaegan.foundation.errors import TrainingError
    from vaegan.training import replacement

    run, victim = tmp_path / "run", tmp_path / "victim"
    run.mkdir(), victim.mkdir()
    (run / ".vaegan-run.json").write_text("{}")
    (victim / "notes.txt").write_text("mine")
    (run / name).symlink_to(victim, target_is_directory=True)
    with pytest.raises(TrainingError, match=rf"{name}.*link"):
        replacement.recover(run)
    assert (victim / "notes.txt").read_text() == "mine" and not (run / "notes.txt").exists()
    assert (run / ".vaegan-run.json").is_file()


def test_a_lock_file_that_is_a_link_is_refused_and_its_target_kept(tmp_path):
    """filelock before 3.20.1 opened a linked lock file with O_TRUNC: ~/.bashrc emptied by a run folder."""
    from vaegan.foundation.errors import TrainingError
    from vaegan.training.run_folder import LOCK, RunLock

    target = tmp_path / "bashrc"
    target.write_text("export PATH=...\n")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / LOCK).symlink_to(target)
    with pytest.raises(TrainingError, match="is a link"):
        RunLock.take(tmp_path / "run")
    assert target.read_text() == "export PATH=...\n"


def test_the_dependency_floors_leave_out_the_versions_with_known_holes():
    """torch before 2.6 runs code from a weights_only load (CVE-2025-32434); before 2.10 it can corrupt memory."""
    import tomllib

    from packaging.requirements import Requirement

    from tests.conftest import REPO

    floors = {
        Requirement(line).name.lower(): Requirement(line).specifier
        for line in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    }
    for name, old in {"torch": "2.9.1", "filelock": "3.20.0", "pillow": "10.0.0"}.items():
        assert not floors[name].contains(old), (name, str(floors[name]))

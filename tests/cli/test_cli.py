"""The vaegan command end to end: train, resume, sample, reconstruct, datasets, errors."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from PIL import Image

from tests.conftest import blob_images
from vaegan.cli import main
from vaegan.data import register_dataset, registry
from vaegan.data.datasets import DataLocation
from vaegan.foundation.checkpoints import read_checkpoint
from vaegan.training import Trainer


@pytest.fixture(scope="module", autouse=True)
def blobs_dataset():
    register_dataset(
        "test-blobs",
        lambda data_dir=None, **_: (blob_images(96, (1, 16, 16)), blob_images(32, (1, 16, 16), seed=5)),
        replace=True,
    )


def write_config(tmp_path, model="vae", **model_extra):
    config = {
        "name": "tiny",
        "data": {"dataset": "test-blobs", "val_size": 16},
        "model": {"name": model, "latent_dim": 3, "network": {"channels": [8, 16], "hidden": [32]}, **model_extra},
        "train": {"epochs": 2, "batch_size": 16, "grid_size": 16, "progress": False},
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def train(tmp_path, *extra, model="vae"):
    return main(["train", "--config", str(write_config(tmp_path, model)), "--out", str(tmp_path / "run"), *extra])


def test_train_writes_the_whole_run_folder(tmp_path):
    assert train(tmp_path) == 0
    run = tmp_path / "run"
    for name in (
        "config.yaml",
        "metrics.csv",
        "curves.png",
        "epoch001_recons.png",
        "epoch002_fakes.png",
        "checkpoints/last.pt",
        "checkpoints/best.pt",
    ):
        assert (run / name).is_file(), name
    assert list((run / "tensorboard").iterdir())
    header = (run / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"train/recon", "train/kl", "train/loss", "val/recon", "val/kl", "val/loss"} <= set(header)
    assert yaml.safe_load((run / "config.yaml").read_text())["model"]["image_shape"] == [1, 16, 16]


def test_existing_run_needs_resume_or_overwrite(tmp_path, capsys):
    assert train(tmp_path) == 0
    assert train(tmp_path) == 2
    assert "--resume" in capsys.readouterr().err
    assert train(tmp_path, "--epochs", "3", "--resume") == 0
    assert (tmp_path / "run" / "epoch003_fakes.png").is_file()
    assert train(tmp_path, "--overwrite", "--epochs", "1") == 0
    assert not (tmp_path / "run" / "epoch002_fakes.png").exists()


def test_sample_png_and_npz(tmp_path):
    train(tmp_path)
    assert main(["sample", str(tmp_path / "run"), "--n", "10", "--out", str(tmp_path / "grid.png")]) == 0
    assert np.asarray(Image.open(tmp_path / "grid.png")).std() > 0
    assert main(["sample", str(tmp_path / "run"), "--n", "7", "--out", str(tmp_path / "s.npz")]) == 0
    arrays = np.load(tmp_path / "s.npz")
    assert arrays["images"].shape == (7, 1, 16, 16) and arrays["images"].dtype == np.float32
    assert 0 <= arrays["images"].min() and arrays["images"].max() <= 1
    assert "labels" not in arrays


def test_conditional_sample_spreads_labels(tmp_path):
    assert train(tmp_path, model="cvae") == 0
    assert main(["sample", str(tmp_path / "run"), "--n", "6", "--labels", "0-2", "--out", str(tmp_path / "s.npz")]) == 0
    assert np.load(tmp_path / "s.npz")["labels"].tolist() == [0, 0, 1, 1, 2, 2]
    assert main(["sample", str(tmp_path / "run"), "--n", "6", "--labels", "7", "--out", str(tmp_path / "x.npz")]) == 2
    # 8 over 3 classes were [0,0,0,1,1,1,2,2], 4 over 3 [0,0,1,1]: every class gets its share, within one
    assert main(["sample", str(tmp_path / "run"), "--n", "4", "--labels", "0-2", "--out", str(tmp_path / "y.npz")]) == 0
    assert np.bincount(np.load(tmp_path / "y.npz")["labels"], minlength=3).tolist() in ([2, 1, 1], [1, 2, 1], [1, 1, 2])


def test_fewer_samples_than_the_classes_asked_for_is_refused_or_said(tmp_path, capsys, caplog):
    """--n 5 --labels 0-9 drew classes 0, 2, 4, 6, 8 and left the rest out without a word."""
    assert train(tmp_path, model="cvae") == 0
    run, out = str(tmp_path / "run"), str(tmp_path / "s.npz")
    assert main(["sample", run, "--n", "2", "--labels", "0-2", "--out", out]) == 2
    err = capsys.readouterr().err
    assert "--n 2" in err and "3 classes" in err and "Traceback" not in err
    assert not (tmp_path / "s.npz").exists()
    # all the classes by default: drawn, and which ones said
    assert main(["sample", run, "--n", "2", "--out", out]) == 0
    assert np.load(out)["labels"].tolist() == [0, 1]
    assert "--n 2" in caplog.text and "3 classes: drawing 0, 1, none of 2;" in caplog.text


def test_samples_from_the_fitted_codes(tmp_path, capsys):
    assert train(tmp_path, model="cvae") == 0
    args = ["sample", str(tmp_path / "run"), "--n", "6", "--labels", "0-2", "--latent", "fitted"]
    assert main([*args, "--out", str(tmp_path / "s.npz")]) == 0
    drawn = np.load(tmp_path / "s.npz")
    assert drawn["labels"].tolist() == [0, 0, 1, 1, 2, 2]
    assert drawn["images"].shape == (6, 1, 16, 16) and 0 <= drawn["images"].min() <= drawn["images"].max() <= 1
    assert main([*args, "--out", str(tmp_path / "again.npz")]) == 0
    assert np.array_equal(np.load(tmp_path / "again.npz")["images"], drawn["images"])  # seeded
    gan = tmp_path / "gan"
    gan.mkdir()
    assert train(gan, model="gan") == 0
    assert main(["sample", str(gan / "run"), "--latent", "fitted", "--out", str(gan / "g.png")]) == 2
    assert "no encoder" in capsys.readouterr().err


def test_reconstruct(tmp_path):
    train(tmp_path)
    assert main(["reconstruct", str(tmp_path / "run"), "--n", "8", "--out", str(tmp_path / "r.png")]) == 0
    assert np.asarray(Image.open(tmp_path / "r.png")).std() > 0


def test_errors_are_one_line_messages(tmp_path, capsys):
    assert main(["sample", str(tmp_path / "nowhere"), "--out", str(tmp_path / "g.png")]) == 2
    assert "no such run folder" in capsys.readouterr().err
    assert main(["train", "--config", str(write_config(tmp_path)), "--set", "model.latent_dim=-1"]) == 2
    err = capsys.readouterr().err
    assert "model.latent_dim" in err and "Traceback" not in err
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    (tmp_path / "run" / "checkpoints" / "last.pt").write_bytes(b"\x00" * 100)
    assert main(["sample", str(tmp_path / "run"), "--out", str(tmp_path / "g.png")]) == 2
    assert "last.pt" in capsys.readouterr().err


def test_datasets_lists_what_is_found_or_missing(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    here, nowhere = tmp_path / "toy", tmp_path / "nowhere"
    register_dataset("toy-found", lambda data_dir=None: None, locate=lambda d: DataLocation(d / "toy", [], [d]))
    missing = DataLocation(None, ["toy.gz"], [nowhere], "apt-get install toy")
    register_dataset("toy-missing", lambda data_dir=None: None, locate=lambda d: missing)
    assert main(["datasets", "--data-dir", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {line.split()[0]: i for i, line in enumerate(lines) if line and not line[0].isspace()}
    assert {"mnist", "fashion-mnist", "toy-found", "toy-missing"} <= set(rows)  # one row per dataset
    assert lines[rows["toy-found"]].split() == ["toy-found", "found", str(here)]
    assert lines[rows["toy-missing"]].split() == ["toy-missing", "missing", "toy.gz"]
    assert lines[rows["toy-missing"] + 1].split() == ["searched:", str(nowhere)]
    assert lines[rows["toy-missing"] + 2].strip() == "apt-get install toy"
    assert lines[rows["test-blobs"]].split()[1:] == ["found", "(generated,", "no", "files", "needed)"]


def test_real_mnist_epoch_gives_digit_grids(tmp_path, mnist_dir):
    """Integration: a short epoch on real MNIST through the CLI; the grids hold digits, not noise."""
    code = main(
        [
            "train",
            "--config",
            "mnist_vae",  # a shipped config by name: no path relative to the working directory
            "--epochs",
            "1",
            "--out",
            str(tmp_path / "m"),
            "--data-dir",
            str(mnist_dir),
            "--set",
            "data.limit=6000",
            "--set",
            "train.progress=false",
        ]
    )
    assert code == 0
    run = tmp_path / "m"
    metrics = (run / "metrics.csv").read_text().splitlines()
    assert len(metrics) == 2
    recons = np.asarray(Image.open(run / "epoch001_recons.png"), dtype=float) / 255
    fakes = np.asarray(Image.open(run / "epoch001_fakes.png"), dtype=float) / 255
    for grid in (recons, fakes):
        assert grid.std() > 0.1  # strokes on a dark background, not a flat grey
        assert 0.03 < (grid > 0.5).mean() < 0.5
    val_loss = float(metrics[1].split(",")[metrics[0].split(",").index("val/loss")])
    assert val_loss < 260  # an untrained Bernoulli decoder starts near 543 nats


def test_configs_lists_every_shipped_config_with_its_description(capsys):
    from vaegan.config import shipped_configs

    assert main(["configs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(shipped_configs()) >= 16
    vae = next(line for line in lines if line.startswith("mnist_vae "))
    assert "convolutional VAE on MNIST" in vae
    assert main(["configs", "--show", "mnist_gan"]) == 0
    assert "name: mnist_gan" in capsys.readouterr().out
    assert main(["configs", "--show", "no_such"]) == 2
    assert "shipped: " in capsys.readouterr().err


def test_a_config_is_found_by_name_from_any_folder(tmp_path, monkeypatch):
    from vaegan.config import load_config

    monkeypatch.chdir(tmp_path)
    assert load_config("mnist_vae").name == load_config("mnist_vae.yaml").name == "mnist_vae"


def test_exit_codes_for_nan_interrupt_and_refused_arguments(tmp_path, capsys, monkeypatch):
    # a loss that turns NaN: status 2, one line naming the epoch and the fix, no traceback
    assert train(tmp_path, "--set", "model.lr=1e12") == 2  # Adam steps of 1e12: the KL overflows at once
    err = capsys.readouterr().err
    assert "non-finite at epoch 1" in err and "model.lr" in err and "Traceback" not in err
    # Ctrl-C during epoch 2: status 130, and epoch 1 is kept in the run folder
    train_epoch = Trainer.train_epoch

    def interrupted_in_epoch_2(self, epoch):
        if epoch == 2:
            raise KeyboardInterrupt
        return train_epoch(self, epoch)

    monkeypatch.setattr(Trainer, "train_epoch", interrupted_in_epoch_2)
    assert train(tmp_path, "--overwrite") == 130
    assert "interrupted" in capsys.readouterr().err
    assert read_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["epoch"] == 1
    monkeypatch.undo()
    # --resume and --overwrite contradict each other: argparse refuses with status 2 before anything runs
    with pytest.raises(SystemExit) as exit_info:
        train(tmp_path, "--resume", "--overwrite")
    assert exit_info.value.code == 2 and "not allowed with argument" in capsys.readouterr().err
    assert read_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["epoch"] == 1


@pytest.mark.parametrize(
    ("model", "change"),
    [("vae", ["--set", "model.latent_dim=5"]), ("vae", ["--set", "model.network.channels=[4,8]"]), ("gan", [])],
)
def test_resuming_into_a_different_model_is_a_clear_error(tmp_path, capsys, model, change):
    assert train(tmp_path, "--epochs", "1") == 0
    before = (tmp_path / "run" / "checkpoints" / "last.pt").read_bytes()
    assert train(tmp_path, "--resume", *change, model=model) == 2  # refused: the config changed
    err = capsys.readouterr().err
    assert "trained under another config" in err and "model." in err and "Traceback" not in err
    # accepting the change cannot make the checkpoint fit another model: a clear error again
    assert train(tmp_path, "--resume", "--accept-changes", *change, model=model) == 2
    err = capsys.readouterr().err
    assert "last.pt" in err and "does not match this model" in err and "Traceback" not in err
    assert (tmp_path / "run" / "checkpoints" / "last.pt").read_bytes() == before


def test_help_of_every_command_imports_neither_torch_nor_matplotlib():
    """`vaegan --help` and `vaegan <cmd> --help` stay fast: the heavy stack loads only when a command runs."""
    import subprocess
    import sys

    from vaegan.cli import COMMANDS

    code = (
        "import contextlib, io, sys\n"
        "from vaegan.cli import main\n"
        f"for command in [[], *[[c] for c in {[name.rsplit('.', 1)[1] for name in COMMANDS]!r}]]:\n"
        "    command = [c.replace('_', '-') if c in ('check_model',) else c for c in command]\n"
        "    command = ['train-classifier'] if command == ['classifier'] else command\n"
        "    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "        main([*command, '--help'])\n"
        "print(sorted(m for m in ('torch', 'matplotlib', 'optuna', 'monai') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_visualize_command_offers_exactly_the_projections_there_are():
    from vaegan.cli.visualize import METHODS as offered
    from vaegan.visualization.scatter import METHODS

    assert tuple(offered) == tuple(METHODS)


@pytest.mark.parametrize("command", ["reconstruct", "visualize", "sample"])
def test_commands_that_read_the_data_take_data_dir(tmp_path, command):
    """Their error for a missing dataset says "pass --data-dir"; each must take it, and read from there."""
    assert train(tmp_path, model="cvae") == 0
    asked = []

    def blobs(data_dir=None, **_):
        asked.append(data_dir)
        return blob_images(96, (1, 16, 16)), blob_images(32, (1, 16, 16), seed=5)

    register_dataset("test-blobs", blobs, replace=True)
    run, out = str(tmp_path / "run"), str(tmp_path / "out.png")
    args = {
        "reconstruct": ["reconstruct", run, "--out", out],
        "visualize": ["visualize", run, "--methods", "pca", "--out", str(tmp_path / "figures")],
        "sample": ["sample", run, "--latent", "fitted", "--out", out],
    }[command]
    assert main([*args, "--data-dir", str(tmp_path / "elsewhere")]) == 0
    assert asked and all(str(tmp_path / "elsewhere") == str(d) for d in asked)


def test_visualize_out_leaves_the_run_folder_alone(tmp_path):
    assert train(tmp_path) == 0
    run, elsewhere = tmp_path / "run", tmp_path / "figures"
    before = (run / "curves.png").read_bytes()
    (run / "curves.png").touch()
    stamp = (run / "curves.png").stat().st_mtime_ns
    assert main(["visualize", str(run), "--methods", "pca", "--out", str(elsewhere)]) == 0
    assert (elsewhere / "curves.png").is_file() and (elsewhere / "scatter_pca.png").is_file()
    assert (run / "curves.png").stat().st_mtime_ns == stamp and (run / "curves.png").read_bytes() == before


@pytest.mark.parametrize("out", ["runs/try #2", "2024", "runs/yes", "runs/{a}: b"])
def test_out_and_data_dir_are_taken_as_written_not_as_yaml(tmp_path, out):
    """`--out "runs/try #2"` trained into runs/try (YAML read the rest as a comment); `--data-dir 2024` was
    refused as a number."""
    import argparse

    from vaegan.cli.train import config_from_args

    args = argparse.Namespace(config="mnist_vae", overrides=[], device=None, data_dir="2024")
    config = config_from_args(args, **{"out": out, "train.epochs": 3})
    assert config.out == out and config.data.data_dir == "2024" and config.train.epochs == 3

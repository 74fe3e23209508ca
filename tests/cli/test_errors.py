"""Every user error ends in one line that names the thing and what to do, exit status 2, never a traceback."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
import torch

from tests.cli.test_cli import blobs_dataset, write_config  # noqa: F401  (the fixture registers test-blobs)
from vaegan.cli import main
from vaegan.models.vae import VAE


def one_line_error(capsys, code: int) -> str:
    assert code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture
def run(tmp_path) -> Path:
    """A trained two-epoch run with best.pt and last.pt."""
    out = tmp_path / "run"
    assert main(["train", "--config", str(write_config(tmp_path)), "--out", str(out)]) == 0
    return out


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_truncated_last_pt_suggests_best(run, tmp_path, capsys):
    truncate(run / "checkpoints" / "last.pt")
    code = main(["sample", str(run), "--checkpoint", "last", "--out", str(tmp_path / "g.png")])
    line = one_line_error(capsys, code)
    assert "last.pt" in line and "truncated or corrupt" in line and "--checkpoint best" in line


def test_corrupt_best_pt_suggests_last(run, tmp_path, capsys):
    (run / "checkpoints" / "best.pt").write_bytes(b"garbage" * 20)
    line = one_line_error(capsys, main(["sample", str(run), "--out", str(tmp_path / "g.png")]))
    assert "best.pt" in line and "--checkpoint last" in line


def test_resume_from_an_unreadable_last_pt_names_best_pt(run, tmp_path, capsys):
    truncate(run / "checkpoints" / "last.pt")
    config = write_config(tmp_path)
    code = main(["train", "--config", str(config), "--out", str(run), "--resume", "--epochs", "3"])
    line = one_line_error(capsys, code)
    assert "last.pt is unreadable" in line and "best.pt exists" in line


def test_a_checkpoint_with_python_objects_is_refused_without_suggesting_weights_only_false(run, tmp_path, capsys):
    class Evil:
        def __reduce__(self):
            return (print, ("executed",))

    torch.save({"format": "vaegan-checkpoint-1", "x": Evil()}, run / "checkpoints" / "best.pt")
    line = one_line_error(capsys, main(["sample", str(run), "--out", str(tmp_path / "g.png")]))
    assert "best.pt" in line and "refused" in line and "tensors" in line
    assert "weights_only" not in line


@pytest.mark.parametrize("command", ["sample", "evaluate", "visualize", "train"])
def test_cuda_device_without_cuda(run, tmp_path, capsys, monkeypatch, command):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    if command == "train":
        args = ["train", "--config", str(write_config(tmp_path)), "--out", str(tmp_path / "new"), "--device", "cuda"]
    else:
        args = [command, str(run), "--device", "cuda"] + (["--out", str(tmp_path / "g.png")] * (command == "sample"))
    line = one_line_error(capsys, main(args))
    assert "no CUDA device is available" in line and "--device cpu" in line
    assert "corrupt" not in line and "checkpoint" not in line


def test_an_override_that_is_not_yaml(tmp_path, capsys):
    code = main(["train", "--config", str(write_config(tmp_path)), "--set", "a=[1,"])
    line = one_line_error(capsys, code)
    assert "'a=[1,'" in line and "not valid YAML" in line


def test_csv_layout_on_a_folder_without_a_csv(tmp_path, capsys):
    folder = tmp_path / "scans"
    (folder / "CN").mkdir(parents=True)
    config = write_config(tmp_path)
    sets = ["--set", "data.dataset=mri", "--set", f"data.data_dir={folder}", "--set", "data.mri.layout=csv"]
    line = one_line_error(capsys, main(["train", "--config", str(config), "--out", str(tmp_path / "r"), *sets]))
    assert str(folder) in line and ".csv" in line and "layout" in line


def test_an_unwritable_out(tmp_path, capsys, monkeypatch):
    out = tmp_path / "locked" / "run"
    real_mkdir = Path.mkdir

    def mkdir(self, *args, **kwargs):  # as a chmod 0500 parent does (the tests may run as root, where it does not)
        if self == out:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    line = one_line_error(capsys, main(["train", "--config", str(write_config(tmp_path)), "--out", str(out)]))
    assert str(out) in line and "Permission denied" in line and "--out" in line


@pytest.mark.parametrize("where, setting", [("train_step", "train.batch_size"), ("eval_step", "train.eval_batch_size")])
def test_out_of_memory_names_the_setting_to_lower(tmp_path, capsys, monkeypatch, where, setting):
    def out_of_memory(self, *args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(VAE, where, out_of_memory)
    code = main(["train", "--config", str(write_config(tmp_path)), "--out", str(tmp_path / "r")])
    line = one_line_error(capsys, code)
    assert "out of memory" in line and setting in line


def test_nan_in_the_first_epoch_names_no_checkpoint_and_no_precision_in_use(tmp_path, capsys, monkeypatch):
    original = VAE.losses

    def poisoned(self, batch):
        terms = original(self, batch)
        return {**terms, "loss": terms["loss"] * float("nan")}

    monkeypatch.setattr(VAE, "losses", poisoned)
    code = main(["train", "--config", str(write_config(tmp_path)), "--out", str(tmp_path / "r")])
    line = one_line_error(capsys, code)
    assert "non-finite at epoch 1, step 1" in line and "No checkpoint was written yet" in line
    assert "last.pt" not in line and "precision" not in line
    assert not (tmp_path / "r" / "checkpoints" / "last.pt").exists()


def test_nan_validation_loss_stops_before_checkpoints(tmp_path, capsys, monkeypatch):
    original = VAE.eval_step

    def poisoned(self, batch):
        return {key: value * float("nan") for key, value in original(self, batch).items()}

    monkeypatch.setattr(VAE, "eval_step", poisoned)
    code = main(["train", "--config", str(write_config(tmp_path)), "--out", str(tmp_path / "r")])
    line = one_line_error(capsys, code)
    assert "validation loss became non-finite at epoch 1" in line and "val/loss=nan" in line
    assert not (tmp_path / "r" / "checkpoints").exists() or not any((tmp_path / "r" / "checkpoints").iterdir())
    assert not (tmp_path / "r" / "metrics.csv").exists()


def test_a_config_with_several_problems_is_still_one_line(tmp_path, capsys):
    config = write_config(tmp_path)
    sets = ["--set", "model.latent_dim=-1", "--set", "train.batch_size=0"]
    line = one_line_error(capsys, main(["train", "--config", str(config), *sets]))
    assert "model.latent_dim" in line and "train.batch_size" in line


def test_a_run_can_be_sampled_from_inside_its_folder(run, monkeypatch):
    """Its recorded out is then the working directory, which a config to train with may not name."""
    monkeypatch.chdir(run)
    assert main(["sample", ".", "--n", "4", "--out", "inside.png"]) == 0


def test_both_checkpoints_unreadable_suggests_neither(run, tmp_path, capsys):
    truncate(run / "checkpoints" / "best.pt")
    truncate(run / "checkpoints" / "last.pt")
    line = one_line_error(capsys, main(["sample", str(run), "--out", str(tmp_path / "g.png")]))
    assert "best.pt" in line and "--checkpoint last" not in line and "last.pt" in line


def test_device_auto_is_what_train_takes_and_nonsense_is_named(run, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["sample", str(run), "--device", "auto", "--out", str(tmp_path / "g.png")]) == 0
    capsys.readouterr()
    line = one_line_error(capsys, main(["sample", str(run), "--device", "gpu", "--out", str(tmp_path / "g.png")]))
    assert "--device gpu" in line and "cpu" in line and "corrupt" not in line


def test_an_out_that_is_a_folder_names_it(run, tmp_path, capsys):
    folder = tmp_path / "figures.png"
    folder.mkdir()
    line = one_line_error(capsys, main(["sample", str(run), "--out", str(folder)]))
    assert str(folder) in line and "folder" in line and ".tmp" not in line


def test_latent_figures_of_too_few_images_are_refused_in_one_line(tmp_path, capsys):
    config = write_config(tmp_path)
    out = tmp_path / "small"
    assert main(["train", "--config", str(config), "--out", str(out), "--set", "data.val_size=2"]) == 0
    line = one_line_error(capsys, main(["visualize", str(out), "--split", "val", "--methods", "pca,tsne"]))
    assert "2 images" in line and "--split" in line


def test_labels_take_the_runs_class_names_and_the_error_lists_them():
    from vaegan.foundation.errors import VaeganError
    from vaegan.runs import parse_labels

    names = ["CN", "AD"]
    assert parse_labels("AD", 2, names) == [1] and parse_labels("cn, AD", 2, names) == [0, 1]
    assert parse_labels("0-1", 2, names) == [0, 1]
    with pytest.raises(VaeganError, match="0=CN, 1=AD"):
        parse_labels("MCI", 2, names)
    with pytest.raises(VaeganError, match="0=CN, 1=AD"):
        parse_labels("5", 2, names)


def test_a_model_too_big_for_the_cpus_memory_is_one_line(tmp_path, capsys):
    config = write_config(tmp_path)
    args = ["train", "--config", str(config), "--out", str(tmp_path / "r"), "--set", "model.latent_dim=1000000000"]
    line = one_line_error(capsys, main(args))
    assert "out of memory" in line and "model.network" in line
    assert not (tmp_path / "r" / "config.yaml").exists()  # refused before the run folder was written


@pytest.mark.parametrize("command", ["sample", "visualize"])
def test_a_seed_outside_what_numpy_and_torch_take_is_one_line(run, tmp_path, capsys, command):
    args = [command, str(run), "--seed", str(10**23)] + (["--out", str(tmp_path / "g.png")] * (command == "sample"))
    line = one_line_error(capsys, main(args))
    assert "--seed" in line and "4294967295" in line


def test_a_validation_fraction_of_no_image_is_refused_before_training(tmp_path, capsys):
    args = ["train", "--config", str(write_config(tmp_path)), "--out", str(tmp_path / "r"), "--set"]
    line = one_line_error(capsys, main([*args, "data.val_size=0.001"]))
    assert "val_size=0.001" in line and "no image" in line
    assert not (tmp_path / "r").exists()


def test_reconstruct_checks_labels_it_would_ignore(run, tmp_path, capsys):
    args = ["reconstruct", str(run), "--n", "4", "--out", str(tmp_path / "r.png")]
    line = one_line_error(capsys, main([*args, "--labels", "1"]))
    assert "--labels" in line


@pytest.mark.parametrize("model", ["cvae", "acgan"])
def test_a_conditional_model_on_data_of_one_class_is_refused(tmp_path, capsys, model):
    from tests.conftest import blob_images
    from vaegan.data import register_dataset

    def one_class(data_dir=None, **_):
        train, test = blob_images(96, (1, 16, 16), num_classes=1), blob_images(32, (1, 16, 16), num_classes=1)
        return train, test

    register_dataset("one-class-blobs", one_class, replace=True)
    config = write_config(tmp_path, model)
    args = ["train", "--config", str(config), "--out", str(tmp_path / "r"), "--set", "data.dataset=one-class-blobs"]
    line = one_line_error(capsys, main(args))
    assert model in line and "one class" in line
    assert not (tmp_path / "r").exists()


def test_a_run_folder_that_is_a_file_is_named_so(tmp_path, capsys):
    existing = tmp_path / "notes.txt"
    existing.write_text("mine")
    line = one_line_error(capsys, main(["train", "--config", str(write_config(tmp_path)), "--out", str(existing)]))
    assert "notes.txt" in line and "is a file" in line
    assert existing.read_text() == "mine"


def test_more_critic_steps_than_the_run_has_is_refused_before_training(tmp_path, capsys):
    config = write_config(tmp_path, "wgan_gp")
    args = ["train", "--config", str(config), "--out", str(tmp_path / "r"), "--set", "model.critic_steps=1000"]
    line = one_line_error(capsys, main(args))
    assert "critic_steps=1000" in line and "10 steps in all" in line  # 80 training images, batches of 16, 2 epochs
    assert not (tmp_path / "r").exists()


def test_a_config_that_is_not_utf8_text_is_one_line(tmp_path, capsys):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: r\u00e9sum\u00e9\nmodel: {name: vae}\n".encode("latin-1"))
    line = one_line_error(capsys, main(["train", "--config", str(path), "--out", str(tmp_path / "out")]))
    assert "latin1.yaml" in line and "UTF-8" in line and not (tmp_path / "out").exists()


def test_a_metrics_csv_with_a_cell_that_is_not_a_number_is_named(run, capsys):
    metrics = run / "metrics.csv"
    lines = metrics.read_text().splitlines()
    head, first = lines[0].split(","), lines[1].split(",")
    first[1] = "oops"
    metrics.write_text("\n".join([lines[0], ",".join(first), *lines[2:]]) + "\n")
    line = one_line_error(capsys, main(["visualize", str(run), "--methods", "pca", "--n-points", "8"]))
    assert "metrics.csv" in line and "line 2" in line and head[1] in line and "'oops'" in line


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("9-0,3", "runs upward"),  # the reversed range was dropped without a word: [3]
        ("0-99999999999", "0-9"),  # expanded before the bounds check: memory ran out
        ("-3", "0-9"),
    ],
)
def test_label_ranges_that_run_backwards_or_far_out_are_refused_at_once(spec, message):
    from vaegan.foundation.errors import VaeganError
    from vaegan.runs import parse_labels

    with pytest.raises(VaeganError, match=message):
        parse_labels(spec, 10)


def test_a_cuda_index_beyond_the_machines_devices_is_named(run, tmp_path, capsys, monkeypatch):
    """--device cuda:3 on a one-GPU machine was reported as a checkpoint with CUDA tensors and no CUDA."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    line = one_line_error(capsys, main(["sample", str(run), "--device", "cuda:3", "--out", str(tmp_path / "g.png")]))
    assert "--device cuda:3" in line and "1 CUDA device" in line and "checkpoint" not in line


def test_mps_where_there_is_none_is_named(run, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    line = one_line_error(capsys, main(["sample", str(run), "--device", "mps", "--out", str(tmp_path / "g.png")]))
    assert "--device mps" in line and "corrupt" not in line


def test_a_model_name_that_is_not_a_string_is_named(tmp_path, capsys):
    line = one_line_error(capsys, main(["train", "--config", str(write_config(tmp_path)), "--set", "model.name=[vae]"]))
    assert "model.name" in line


def test_configs_show_of_a_binary_file_is_named(run, capsys):
    line = one_line_error(capsys, main(["configs", "--show", str(run / "checkpoints" / "best.pt")]))
    assert "best.pt" in line and "YAML" in line


def test_check_model_of_a_file_that_fails_to_import_is_named(tmp_path, capsys):
    broken = tmp_path / "broken.py"
    broken.write_text("class MyVAE(:\n")
    line = one_line_error(capsys, main(["check-model", f"{broken}:MyVAE"]))
    assert "broken.py" in line and "SyntaxError" in line


def test_train_classifier_names_a_device_that_is_none(capsys):
    line = one_line_error(capsys, main(["train-classifier", "--dataset", "mnist", "--device", "gpu", "--force"]))
    assert "--device gpu" in line


def test_visualize_out_that_is_a_file_is_refused_before_any_work(run, tmp_path, capsys, monkeypatch):
    from vaegan import runs

    def never(*args, **kwargs):
        raise AssertionError("the run was loaded before --out was checked")

    target = tmp_path / "figures"
    target.write_text("a file of mine")
    monkeypatch.setattr(runs, "load_run", never)
    line = one_line_error(capsys, main(["visualize", str(run), "--out", str(target)]))
    assert "is a file" in line and target.read_text() == "a file of mine"


@pytest.mark.parametrize("flags", [["--workers", "-3"], ["--workers", "0"], ["--subjects", "1"]])
def test_phantoms_refuses_impossible_options_before_writing_anything(tmp_path, capsys, flags):
    out = tmp_path / "deep" / "phantoms"
    line = one_line_error(capsys, main(["phantoms", "--out", str(out), *flags]))
    assert flags[0] in line
    assert not (tmp_path / "deep").exists()


def test_sample_refuses_more_images_than_memory_holds_before_drawing(run, tmp_path, capsys):
    """--n 2000000000000 drew 1000-image chunks for hours, then ran out of memory with a note about latent_dim."""
    line = one_line_error(capsys, main(["sample", str(run), "--n", "2000000000000", "--out", str(tmp_path / "s.npz")]))
    assert "--n 2000000000000" in line and "GiB" in line


@pytest.mark.parametrize("device", ["foo", "mps"])
def test_train_offers_only_the_devices_it_trains_on(tmp_path, capsys, device):
    """--device foo on train suggested mps, which train.device then refused with another message."""
    args = ["train", "--config", str(write_config(tmp_path)), "--out", str(tmp_path / "new"), "--device", device]
    line = one_line_error(capsys, main(args))
    assert f"--device {device}" in line and "cpu, cuda, cuda:N or auto" in line and "mps or" not in line


def test_out_of_memory_in_a_command_that_does_not_train_names_its_own_options(run, tmp_path, capsys, monkeypatch):
    """vaegan sample out of GPU memory was told to lower train.batch_size, which it does not read."""

    def out_of_memory(self, *args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(VAE, "synthesize", out_of_memory)
    line = one_line_error(capsys, main(["sample", str(run), "--out", str(tmp_path / "s.png")]))
    assert "out of memory" in line and "--n" in line and "train.batch_size" not in line

"""``vaegan evaluate`` and ``vaegan train-classifier`` end to end, on tiny trained runs."""

from __future__ import annotations

import json

import pytest
import torch

from tests.evaluation.conftest import train_tiny_run
from vaegan.cli import main
from vaegan.evaluation.classifier_store import classifier_path, read_classifier


@pytest.fixture
def vae_run(tmp_path, blobs, cache):
    return train_tiny_run("cvae", tmp_path / "run")


def test_evaluate_writes_run_json_and_out_and_prints_floors(vae_run, tmp_path, blobs, capsys):
    out = tmp_path / "elsewhere" / "metrics.json"
    args = ["evaluate", str(vae_run), "--k", "8", "--nll-images", "10", "--samples", "40", "--tstr-epochs", "4"]
    assert main([*args, "--out", str(out), "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert "floor" in printed and "nll" in printed
    data = json.loads((vae_run / "evaluation.json").read_text())
    assert data == json.loads(out.read_text())
    assert data["model"] == "cvae" and data["dataset"] == blobs
    assert data["train"]["epochs"] == 2 and data["train"]["seconds_per_epoch"] > 0
    best = torch.load(vae_run / "checkpoints" / "best.pt", weights_only=True)["epoch"]
    assert data["checkpoint"] == "best" and data["checkpoint_epoch"] == best  # the model the figures are of
    assert classifier_path(blobs).is_file()  # trained on first use, into the (test's) user cache
    assert data["classifier"]["path"] == str(classifier_path(blobs))
    metrics = data["metrics"]  # a binarised cVAE: -log p(x|y), and the marginal over classes
    assert metrics["neg_elbo_given_label"]["value"] >= metrics["nll_given_label"]["value"]
    assert metrics["nll"]["unit"] == "nats" and metrics["fid"]["floor"] is not None
    assert {"recon_ssim", "cond_accuracy", "tstr_accuracy", "precision", "recall", "kid"} <= set(metrics)


def test_evaluate_prints_no_nll_for_a_bernoulli_decoder_trained_on_grey_levels(tmp_path, blobs, cache, capsys):
    run = train_tiny_run("vae", tmp_path / "grey", binarize=False)
    args = ["evaluate", str(run), "--k", "4", "--nll-images", "8", "--samples", "30", "--tstr-epochs", "1"]
    assert main([*args, "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    scored = [line.split()[0] for line in printed.splitlines() if line.strip()]  # "nll ↓  93.1 ..." rows
    assert not {"nll", "neg_elbo", "bits_per_dim"} & set(scored), printed
    assert "no likelihood" in printed and "data.binarize=true" in printed
    metrics = json.loads((run / "evaluation.json").read_text())["metrics"]
    assert not {"nll", "neg_elbo", "bits_per_dim"} & set(metrics)


def test_evaluate_rejects_bad_arguments_and_missing_runs(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "nope")]) == 2
    assert "no such run folder" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path), "--k", "0"]) == 2
    assert "--k 0" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path), "--samples", "3"]) == 2  # not after the minutes of NLL
    assert "--samples 3: must be at least 4" in capsys.readouterr().err


def test_train_classifier_command(blobs, cache, capsys):
    assert main(["train-classifier", "--dataset", blobs, "--epochs", "2", "--device", "cpu"]) == 0
    assert "test accuracy" in capsys.readouterr().out
    assert read_classifier(classifier_path(blobs)).metadata["epochs"] == 2
    assert main(["train-classifier", "--dataset", blobs]) == 0  # cached: says so, keeps it
    assert "--force" in capsys.readouterr().out


def test_evaluate_on_real_mnist_with_a_quick_classifier(mnist_dir, tmp_path, cache, monkeypatch, capsys):
    from vaegan.evaluation.classifier_store import train_classifier

    train_classifier("mnist", data_dir=mnist_dir, epochs=1, limit=2000, device="cpu")
    from vaegan.config import load_config
    from vaegan.experiment import train_from_config

    config = load_config(
        "mnist_vae",  # a shipped config by name: no path relative to the working directory
        [
            f"data.data_dir={mnist_dir}",
            "data.limit=600",
            "data.val_size=100",
            "train.epochs=1",
            "train.progress=false",
            "train.tensorboard=false",
            "train.device=cpu",
            "model.network.channels=[8,16]",
            "model.network.hidden=[32]",
            f"out={tmp_path / 'mnist_vae'}",
        ],
    )
    train_from_config(config)
    args = ["evaluate", str(tmp_path / "mnist_vae"), "--k", "4", "--nll-images", "20", "--samples", "200"]
    assert main([*args, "--device", "cpu"]) == 0
    data = json.loads((tmp_path / "mnist_vae" / "evaluation.json").read_text())
    assert data["dataset"] == "mnist" and data["n_test"] == 600 and data["classifier"]["limit"] == 2000
    # one epoch on 500 images draws blurry digits: far from the data, while real vs real is close
    assert data["metrics"]["fid"]["value"] > data["metrics"]["fid"]["floor"]


def test_evaluate_scores_samples_from_the_fitted_codes(vae_run, capsys):
    args = ["evaluate", str(vae_run), "--k", "4", "--nll-images", "8", "--samples", "30", "--tstr-epochs", "1"]
    assert main([*args, "--latent", "fitted", "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert "not the prior" in printed  # the notes are printed with the figures
    data = json.loads((vae_run / "evaluation.json").read_text())
    assert data["options"]["latent"] == "fitted" and "fid" in data["metrics"]


def test_evaluate_refuses_fitted_codes_for_a_model_without_an_encoder(tmp_path, blobs, cache, capsys):
    run = train_tiny_run("gan", tmp_path / "gan")
    args = ["evaluate", str(run), "--k", "4", "--nll-images", "8", "--samples", "30", "--latent", "fitted"]
    assert main([*args, "--device", "cpu"]) == 2
    assert "no encoder" in capsys.readouterr().err
    assert not (run / "evaluation.json").exists()
    assert not classifier_path(blobs).exists()  # refused before minutes of classifier training, not after


def test_evaluate_reads_the_data_from_data_dir(vae_run, tmp_path, monkeypatch, capsys):
    import vaegan.runs
    from vaegan.foundation.errors import VaeganError

    asked = []

    def load_data(config):
        asked.append(config.data.data_dir)
        raise VaeganError("stopped here: the data was asked for")

    monkeypatch.setattr(vaegan.runs, "load_data", load_data)  # a run's data, as Run.load_data reads it
    assert main(["evaluate", str(vae_run), "--data-dir", str(tmp_path / "moved")]) == 2
    assert asked == [str(tmp_path / "moved")] and "stopped here" in capsys.readouterr().err


def test_evaluate_keeps_its_figures_when_the_run_folder_cannot_take_them(vae_run, tmp_path, capsys):
    (vae_run / "evaluation.json").mkdir()  # as a read-only or full run folder refuses the file
    args = ["evaluate", str(vae_run), "--k", "4", "--nll-images", "8", "--samples", "30", "--tstr-epochs", "1"]
    out = tmp_path / "elsewhere.json"
    assert main([*args, "--out", str(out), "--device", "cpu"]) == 0  # --out holds them: the run's copy is a warning
    captured = capsys.readouterr()
    assert "fid" in captured.out and json.loads(out.read_text())["metrics"]
    assert "evaluation.json" in captured.err
    assert main([*args, "--device", "cpu"]) == 2  # no --out: an error, but after the figures were printed
    captured = capsys.readouterr()
    assert "fid" in captured.out and "evaluation.json" in captured.err and "--out" in captured.err


def test_the_reference_classifier_trained_for_an_evaluation_is_timed_and_announced(vae_run, blobs, caplog):
    # the first evaluate on MNIST spent ~6 minutes training it, silently, and its seconds summed to under 1 s
    from vaegan.evaluation.evaluator import EvaluationOptions, evaluate_run

    options = EvaluationOptions(k=4, nll_images=8, n_samples=30, tstr_epochs=1)
    with caplog.at_level("WARNING"):
        first = evaluate_run(vae_run, options=options)
    assert first.info["seconds"]["reference_classifier"] > 0
    (said,) = [record.getMessage() for record in caplog.records if "reference classifier" in record.getMessage()]
    assert ": 15 epochs over 120 images of 1x16x16" in said  # the 150 steps a small set gets
    assert str(classifier_path(blobs)) in said and "once" in said
    again = evaluate_run(vae_run, options=options)  # read from the cache: nothing trained, nothing timed
    assert "reference_classifier" not in again.info["seconds"]

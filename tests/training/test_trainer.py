"""Trainer: exact resume, NaN guard, refusing to overwrite, checkpoint safety."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from tests.conftest import blob_images, tiny_splits
from tests.models.tiny_configs import TINY, tiny_model
from vaegan import experiment
from vaegan.config import RunConfig
from vaegan.data import ImageDataset
from vaegan.data.config import DataConfig
from vaegan.foundation.checkpoints import read_checkpoint
from vaegan.foundation.errors import TrainingError
from vaegan.models import VAE
from vaegan.training import Trainer
from vaegan.training.config import TrainConfig


def tiny_vae(seed: int = 0) -> VAE:
    return tiny_model("vae", seed=seed)


def train_config(epochs: int) -> TrainConfig:
    return TrainConfig(epochs=epochs, batch_size=16, grid_size=8, progress=False, tensorboard=False)


def test_resume_is_bit_identical_to_an_uninterrupted_run(tmp_path):
    data = tiny_splits()
    straight = Trainer(tiny_vae(), data, train_config(3), out_dir=tmp_path / "a")
    straight.fit()
    Trainer(tiny_vae(), data, train_config(1), out_dir=tmp_path / "b").fit()
    resumed = Trainer(
        tiny_vae(seed=99), data, train_config(3), out_dir=tmp_path / "b"
    )  # other init: resume must overwrite it
    history = resumed.fit(resume=True)
    assert [row["epoch"] for row in history] == [1, 2, 3]
    for (key, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), key
    for a, b in zip(straight.history, history):
        assert {k: v for k, v in a.items() if k != "seconds"} == {k: v for k, v in b.items() if k != "seconds"}
    assert (tmp_path / "b" / "metrics.csv").read_text().count("\n") == 4  # header + 3 epochs


def test_nan_loss_stops_with_epoch_and_step_and_keeps_last_checkpoint(tmp_path):
    trainer = Trainer(tiny_vae(), tiny_splits(), train_config(1), out_dir=tmp_path)
    trainer.fit()
    last = tmp_path / "checkpoints" / "last.pt"
    before = last.read_bytes()
    trainer.config = train_config(2)
    original = trainer.model.losses
    calls = {"n": 0}

    def poisoned(batch):
        calls["n"] += 1
        terms = original(batch)
        if calls["n"] == 2:
            terms["loss"] = terms["loss"] * float("nan")
        return terms

    trainer.model.losses = poisoned
    with pytest.raises(TrainingError, match=r"epoch 2, step 2"):
        trainer.fit(resume=True)
    assert last.read_bytes() == before
    assert read_checkpoint(last)["epoch"] == 1
    assert not list((tmp_path / "checkpoints").glob("*.tmp"))


def test_existing_run_is_not_overwritten_without_permission(tmp_path):
    Trainer(tiny_vae(), tiny_splits(), train_config(2), out_dir=tmp_path).fit()
    last = tmp_path / "checkpoints" / "last.pt"
    before = last.read_bytes()
    with pytest.raises(TrainingError, match="--resume"):
        Trainer(tiny_vae(), tiny_splits(), train_config(1), out_dir=tmp_path).fit()
    assert last.read_bytes() == before and (tmp_path / "epoch002_recons.png").is_file()  # refused: untouched
    history = Trainer(tiny_vae(seed=1), tiny_splits(), train_config(1), out_dir=tmp_path).fit(overwrite=True)
    # replaced, not continued: a fresh one-epoch run, nothing left of the two-epoch one
    assert [row["epoch"] for row in history] == [1]
    assert read_checkpoint(last)["epoch"] == 1 and last.read_bytes() != before
    assert (tmp_path / "metrics.csv").read_text().count("\n") == 2  # header + 1 epoch
    assert not (tmp_path / "epoch002_recons.png").exists()


def test_checkpoint_is_weights_only_plain_data(tmp_path):
    Trainer(tiny_vae(), tiny_splits(), train_config(1), out_dir=tmp_path).fit()
    payload = torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=True)
    assert set(payload) >= {"model", "optimizers", "epoch", "rng", "model_config", "history"}
    assert isinstance(payload["model_config"], dict)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_checkpoint_gives_a_clear_error(tmp_path, damage):
    Trainer(tiny_vae(), tiny_splits(), train_config(1), out_dir=tmp_path).fit()
    last = tmp_path / "checkpoints" / "last.pt"
    data = last.read_bytes()
    last.write_bytes({"truncate": data[: len(data) // 2], "garbage": b"not a checkpoint" * 10, "empty": b""}[damage])
    with pytest.raises(TrainingError, match=str(last)):
        read_checkpoint(last)


def test_pickled_code_in_a_checkpoint_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("executed",))

    path = tmp_path / "evil.pt"
    torch.save({"format": "vaegan-checkpoint-1", "x": Evil()}, path)
    with pytest.raises(TrainingError, match="evil.pt"):
        read_checkpoint(path)


def test_kl_warmup_ramps_the_weight():
    model = tiny_vae()
    model.config.kl_warmup_epochs = 4
    weights = []
    for epoch in (1, 2, 4, 6):
        model.on_epoch_start(epoch)
        weights.append(model.warmup)
    assert weights == [0.25, 0.5, 1.0, 1.0]


def test_during_warmup_best_pt_is_chosen_by_the_full_objective_not_the_ramped_loss(tmp_path):
    model = tiny_vae()
    model.config.kl_warmup_epochs = 3
    history = Trainer(model, tiny_splits(), train_config(3), out_dir=tmp_path).fit()
    for row in history:  # the full -ELBO at the configured beta = 1, whatever the ramp
        assert row["val/objective"] == pytest.approx(row["val/recon"] + row["val/kl"], rel=1e-5)
    assert history[0]["val/loss"] < history[0]["val/objective"]  # epoch 1 optimises recon + KL / 3
    best = read_checkpoint(tmp_path / "checkpoints" / "best.pt")
    assert best["best"] == min(row["val/objective"] for row in history)
    assert model.monitor == "objective"


def test_binarize_trains_and_validates_on_fresh_binary_images(tmp_path, monkeypatch):
    """data.binarize: every batch the model sees is exactly 0/1, drawn anew, with the grey image as p(1)."""
    seen: dict[str, list[torch.Tensor]] = {"train": [], "eval": []}
    train_step, eval_step = VAE.train_step, VAE.eval_step
    monkeypatch.setattr(VAE, "train_step", lambda self, b, o: seen["train"].append(b.x) or train_step(self, b, o))
    monkeypatch.setattr(VAE, "eval_step", lambda self, b: seen["eval"].append(b.x) or eval_step(self, b))
    config = RunConfig(
        name="binary",
        out=str(tmp_path / "run"),
        data=DataConfig(dataset="mnist", binarize=True),  # the data come from load_data below
        model=TINY["vae"] | {"name": "vae"},
        train=train_config(2).model_dump(),
    )
    data = tiny_splits()
    monkeypatch.setattr(experiment, "load_data", lambda config: data)
    experiment.train_from_config(config)
    for split, batches in seen.items():
        x = torch.cat(batches)
        assert set(x.unique().tolist()) == {0.0, 1.0}, split
    train = torch.cat(seen["train"])
    epoch1, epoch2 = train[: len(data.train)], train[len(data.train) :]
    assert not torch.equal(epoch1.sum(0), epoch2.sum(0))  # resampled every epoch, not binarised once
    # E[x] = the grey level: 0.9 squares stay mostly on, the 0.05 background mostly off
    assert abs(float(train.mean()) - float(data.train.images.mean())) < 0.02


@pytest.mark.parametrize("name", ["gan", "acgan", "cvaegan"])
def test_a_nan_from_the_discriminator_stops_each_adversarial_model_and_keeps_last_checkpoint(name, tmp_path):
    model = tiny_model(name)
    trainer = Trainer(model, tiny_splits(), train_config(1), out_dir=tmp_path)
    trainer.fit()
    last = tmp_path / "checkpoints" / "last.pt"
    before = last.read_bytes()
    poisoned = [m for m in model.discriminator.modules() if not list(m.children())]  # every layer that computes
    for layer in poisoned:
        layer.register_forward_hook(lambda m, args, out: out * float("nan"))
    trainer.config = train_config(2)
    with pytest.raises(TrainingError, match=r"epoch 2, step 1 \(.*d_loss"):
        trainer.fit(resume=True)
    assert last.read_bytes() == before and read_checkpoint(last)["epoch"] == 1
    assert not list((tmp_path / "checkpoints").glob("*.tmp"))


def test_a_failed_best_pt_write_leaves_last_pt_agreeing_with_best_pt(tmp_path, monkeypatch):
    # last.pt was written with the new best before best.pt: when best.pt's write then failed (a full
    # disk), last.pt claimed a best no best.pt held, and after a resume only a better one rewrote it
    from vaegan.training import callbacks

    Trainer(tiny_vae(), tiny_splits(), train_config(1), out_dir=tmp_path).fit()
    real = callbacks.atomic_save

    def full_disk_for_best(payload, path):
        if path.name == "best.pt":
            raise OSError(28, "No space left on device", str(path))
        return real(payload, path)

    monkeypatch.setattr(callbacks, "atomic_save", full_disk_for_best)
    with pytest.raises(OSError, match="No space"):  # epoch 2 improves on an untrained epoch 1
        Trainer(tiny_vae(), tiny_splits(), train_config(2), out_dir=tmp_path).fit(resume=True)
    folder = tmp_path / "checkpoints"
    assert read_checkpoint(folder / "last.pt")["best"] == read_checkpoint(folder / "best.pt")["best"]


def test_resume_without_a_checkpoint_says_so_rather_than_asking_for_resume(tmp_path):
    # the state a failed first checkpoint leaves: metrics.csv written, no last.pt
    Trainer(tiny_vae(), tiny_splits(), train_config(1), out_dir=tmp_path).fit()
    for name in ("last.pt", "best.pt"):
        (tmp_path / "checkpoints" / name).unlink()
    with pytest.raises(TrainingError, match="no checkpoints/last.pt") as caught:
        Trainer(tiny_vae(), tiny_splits(), train_config(2), out_dir=tmp_path).fit(resume=True)
    assert "pass --resume" not in str(caught.value) and "--overwrite" in str(caught.value)
    assert (tmp_path / "metrics.csv").is_file()  # nothing deleted


def test_fit_binarizes_when_asked_as_the_config_path_does(tmp_path, monkeypatch):
    # the README's Python example trained a Bernoulli VAE with fit() on grey MNIST and printed its IWAE
    # bound in nats: the protocol the README calls no likelihood; fit() had no way to binarise
    seen: list[torch.Tensor] = []
    train_step = VAE.train_step
    monkeypatch.setattr(VAE, "train_step", lambda self, b, o: seen.append(b.x) or train_step(self, b, o))
    experiment.fit(tiny_vae(), tiny_splits(), out_dir=tmp_path, binarize=True, **train_config(1).model_dump())
    assert set(torch.cat(seen).unique().tolist()) == {0.0, 1.0}


def test_a_batch_too_small_for_batch_norm_is_refused_not_silently_skipped(tmp_path):
    # every batch under 2 images a rank was dropped: the epoch took no step, yet wrote best.pt and last.pt
    config = train_config(1).model_copy(update={"batch_size": 1})
    with pytest.raises(TrainingError, match="train.batch_size 1"):
        Trainer(tiny_vae(), tiny_splits(), config, out_dir=tmp_path).fit()
    assert not (tmp_path / "checkpoints").exists()


def test_a_training_set_too_small_for_any_batch_says_so_not_to_raise_the_batch_size(tmp_path):
    """One training image with batch_size 128: the advice was 'set train.batch_size to 2 or more'."""
    splits = tiny_splits()
    splits = dataclasses.replace(splits, train=splits.train.subset([0]))
    with pytest.raises(TrainingError, match="1 training image") as error:
        Trainer(tiny_vae(), splits, train_config(1), out_dir=tmp_path).fit()
    assert "set train.batch_size" not in str(error.value)


def test_a_fit_run_folder_records_how_it_was_trained(tmp_path):
    """fit(binarize=True) wrote no config: load_run fell back to the defaults, and evaluate saw grey levels."""
    from vaegan.runs import load_run

    out = tmp_path / "my_vae"
    experiment.fit(tiny_vae(), tiny_splits(), out_dir=out, binarize=True, epochs=1, progress=False, tensorboard=False)
    assert (out / "config.yaml").is_file()
    run = load_run(out)
    assert run.config.data.binarize and run.config.data.dataset == tiny_splits().train.name
    assert run.config.train.epochs == 1 and run.config.model.latent_dim == tiny_vae().config.latent_dim


def test_tensorboard_that_cannot_write_warns_once_and_training_goes_on(tmp_path, monkeypatch, capfd, caplog):
    """A full disk under TensorBoard's writer thread printed that thread's traceback, then ended the run
    with a bare OSError from the next add_scalar, though checkpoints still had room."""
    from tensorboard.summary.writer import record_writer

    def full(self, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(record_writer.RecordWriter, "write", full)
    config = TrainConfig(epochs=2, batch_size=16, grid_size=8, progress=False, tensorboard=True)
    history = Trainer(tiny_model("vae"), tiny_splits(), config, out_dir=tmp_path).fit()
    assert [row["epoch"] for row in history] == [1, 2]
    assert read_checkpoint(tmp_path / "checkpoints" / "last.pt")["epoch"] == 2
    stopped = [r for r in caplog.records if "TensorBoard" in r.getMessage()]
    assert len(stopped) == 1 and "No space left" in stopped[0].getMessage()
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.parametrize(
    ("name", "extra", "term"),
    [("beta_tcvae", {}, "tc"), ("cvae", {"invariance_weight": 10.0}, "mmd"), ("cvaegan", {}, "mean_d")],
)
def test_terms_of_batch_statistics_are_validated_on_batches_of_the_training_size(tmp_path, name, extra, term):
    """A minibatch estimate (total correlation, MMD, mean-feature matching) moves with its batch size: validated
    in batches of eval_batch_size, val/ was not comparable to train/, and moved with a setting of no meaning."""
    data = tiny_splits(n=64)
    data.val = blob_images(40, (1, 16, 16), 3, 1)
    scores = []
    for eval_size in (1000, 3):
        config = TrainConfig(epochs=1, batch_size=8, eval_batch_size=eval_size, progress=False, tensorboard=False)
        trainer = Trainer(tiny_model(name, **extra), data, config, out_dir=tmp_path / f"{name}{eval_size}")
        trainer.fit()
        scores.append(trainer.evaluate(data.val))
    assert term in scores[0]
    assert scores[0][term] == pytest.approx(scores[1][term], rel=1e-5)
    assert scores[0]["loss"] == pytest.approx(scores[1]["loss"], rel=1e-5)


def test_a_last_validation_batch_of_one_image_does_not_inflate_a_minibatch_estimate(tmp_path):
    """17 validation images in batches of 8 left a batch of one, whose total correlation is (D-1) log N
    (its own code is all the estimator sees of q(z)): val/tc rose with a setting of no meaning."""
    data = tiny_splits(n=64)
    config = TrainConfig(epochs=1, batch_size=8, progress=False, tensorboard=False)
    trainer = Trainer(tiny_model("beta_tcvae"), data, config, out_dir=tmp_path)
    trainer.fit()
    images = blob_images(17, (1, 16, 16), 3, 1)
    whole = trainer.evaluate(ImageDataset(images.images[:16], images.labels[:16], images.class_names, "blobs"))
    one_more = trainer.evaluate(images)  # alone, the 17th would add 3 log 64 / 17 = 0.73 nats
    assert one_more["tc"] == pytest.approx(whole["tc"], abs=0.25)


def test_best_row_names_the_epoch_best_pt_holds(tmp_path):
    """The report and the tuner read which epoch best.pt keeps from metrics.csv (best_row); the
    Checkpoints callback decides it as it trains. Drive the callback through a scripted val/ sequence
    (a dip, a tie, a rise, a NaN, a row without the term) and check the two agree after every epoch."""
    from vaegan.training.callbacks import Checkpoints
    from vaegan.visualization.curves import best_row

    trainer = Trainer(tiny_vae(), tiny_splits(), train_config(1), out_dir=tmp_path)
    (tmp_path / "checkpoints").mkdir(parents=True)
    callback = Checkpoints()
    for epoch, value in enumerate([5.0, 3.0, 3.0, 4.0, float("nan"), None, 2.5, 2.6], start=1):
        trainer.epoch = epoch
        row = {"epoch": float(epoch)} | ({} if value is None else {"val/objective": value})
        trainer.history.append(row)
        callback.on_epoch_end(trainer, row)
        kept = read_checkpoint(tmp_path / "checkpoints" / "best.pt")["epoch"]
        assert best_row(trainer.history, trainer.model.monitor)["epoch"] == kept, epoch
    assert kept == 7
    assert best_row(trainer.history, None) is trainer.history[-1]  # GANs: no monitor, best.pt is the last epoch


def test_a_refused_resume_releases_the_run_folders_lock(tmp_path):
    Trainer(tiny_vae(), tiny_splits(), train_config(1), out_dir=tmp_path).fit()
    with pytest.raises(TrainingError, match="does not match") as refused:  # kept, as a notebook keeps it
        Trainer(tiny_model("vae", latent_dim=5), tiny_splits(), train_config(2), out_dir=tmp_path).fit(resume=True)
    history = Trainer(tiny_vae(), tiny_splits(), train_config(2), out_dir=tmp_path).fit(resume=True)
    assert [row["epoch"] for row in history] == [1, 2] and refused.value is not None


def test_fit_refuses_to_resume_under_other_settings_and_records_more_epochs(tmp_path):
    """fit(resume=True) with another batch size went on silently: last.pt said 32, config.yaml 16."""
    import yaml

    from vaegan.foundation.errors import ConfigError

    options = {"progress": False, "tensorboard": False, "grid_size": 8}
    experiment.fit(tiny_vae(), tiny_splits(), out_dir=tmp_path, epochs=1, batch_size=16, **options)
    with pytest.raises(ConfigError, match="train.batch_size"):
        experiment.fit(tiny_vae(), tiny_splits(), out_dir=tmp_path, epochs=2, batch_size=32, resume=True, **options)
    history = experiment.fit(
        tiny_vae(), tiny_splits(), out_dir=tmp_path, epochs=2, batch_size=16, resume=True, **options
    )
    assert [row["epoch"] for row in history] == [1, 2]
    assert yaml.safe_load((tmp_path / "config.yaml").read_text())["train"]["epochs"] == 2


def test_fit_resumes_a_copied_run_and_one_that_recorded_its_data_the_old_way(tmp_path, caplog):
    import shutil

    import yaml

    options = {"progress": False, "tensorboard": False, "grid_size": 8, "batch_size": 16}
    experiment.fit(tiny_vae(), tiny_splits(), out_dir=tmp_path / "a", epochs=1, **options)
    shutil.copytree(tmp_path / "a", tmp_path / "b")  # another folder name: the same settings
    experiment.fit(tiny_vae(), tiny_splits(), out_dir=tmp_path / "b", epochs=2, resume=True, **options)
    # fit() before 2026-12-02 recorded the dataset's name alone; these splits record more
    last = tmp_path / "a" / "checkpoints" / "last.pt"
    payload = torch.load(last, weights_only=True)
    payload["run_config"]["data"]["limit"] = 7
    torch.save(payload, last)
    history = experiment.fit(tiny_vae(), tiny_splits(), out_dir=tmp_path / "a", epochs=2, resume=True, **options)
    assert [row["epoch"] for row in history] == [1, 2] and "data.limit" in caplog.text
    assert yaml.safe_load((tmp_path / "a" / "config.yaml").read_text())["data"].get("limit") is None

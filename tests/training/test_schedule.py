"""The learning-rate schedule: the cosine's ends, what the optimizers get, and an exact resume."""

from __future__ import annotations

import math

import pytest
import torch
from pydantic import ValidationError

from tests.conftest import tiny_splits
from tests.models.tiny_configs import tiny_model
from vaegan.training import Trainer
from vaegan.training.callbacks import Callback, default_callbacks
from vaegan.training.config import TrainConfig
from vaegan.training.schedule import LearningRate, cosine_fraction


def config(epochs: int, **extra) -> TrainConfig:
    return TrainConfig(epochs=epochs, batch_size=16, grid_size=8, progress=False, tensorboard=False, **extra)


def test_the_cosine_starts_at_one_ends_at_the_final_fraction_and_halves_the_way_in_the_middle():
    assert cosine_fraction(0.0, 0.1) == 1.0
    assert cosine_fraction(1.0, 0.1) == pytest.approx(0.1)
    assert cosine_fraction(0.5, 0.1) == pytest.approx(0.55)
    assert cosine_fraction(0.25, 0.0) == pytest.approx((1 + math.cos(math.pi / 4)) / 2)


def test_every_optimizer_gets_its_own_starting_rate_times_the_fraction():
    gan = tiny_model("gan")
    optimizers = gan.configure_optimizers()
    optimizers["discriminator"].param_groups[0]["lr"] = 4 * optimizers["generator"].param_groups[0]["lr"]  # TTUR
    starts = {name: o.param_groups[0]["lr"] for name, o in optimizers.items()}
    assert len(set(starts.values())) == 2
    rate = LearningRate(optimizers, "cosine", 0.0)
    assert rate.step(0.5) == pytest.approx(0.5 * next(iter(starts.values())))
    for name, optimizer in optimizers.items():
        assert optimizer.param_groups[0]["lr"] == pytest.approx(0.5 * starts[name])
    constant = LearningRate(optimizers, "constant", 0.0)
    assert constant.step(0.9) is None and optimizers["generator"].param_groups[0]["lr"] == pytest.approx(
        0.5 * starts["generator"]
    )


def test_a_cosine_run_logs_a_falling_rate_and_a_constant_run_logs_none(tmp_path):
    data = tiny_splits()  # 64 images in batches of 16: 4 steps an epoch
    history = Trainer(tiny_model("vae"), data, config(3, lr_schedule="cosine"), out_dir=tmp_path / "c").fit()
    lr = tiny_model("vae").config.lr
    rates = [row["train/lr"] for row in history]
    steps = 4 * 3
    assert rates == pytest.approx([lr * cosine_fraction((4 * e + 3) / steps, 0.01) for e in range(3)])
    assert rates[0] > rates[1] > rates[2] > 0.01 * lr
    plain = Trainer(tiny_model("vae"), data, config(1), out_dir=tmp_path / "p").fit()
    assert "train/lr" not in plain[0]


class Interrupt(Callback):
    """Stops the run after ``epoch``, once its checkpoint is written, as a killed job stops."""

    def __init__(self, epoch: int):
        self.epoch = epoch

    def on_epoch_end(self, trainer: Trainer, row: dict[str, float]) -> None:
        if trainer.epoch == self.epoch:
            raise KeyboardInterrupt


def test_an_interrupted_cosine_run_resumes_exactly_where_its_rate_stopped(tmp_path):
    data = tiny_splits()
    straight = Trainer(tiny_model("vae"), data, config(3, lr_schedule="cosine"), out_dir=tmp_path / "a")
    straight.fit()
    cut = config(3, lr_schedule="cosine")
    with pytest.raises(KeyboardInterrupt):
        Trainer(
            tiny_model("vae"), data, cut, out_dir=tmp_path / "b", callbacks=[*default_callbacks(cut), Interrupt(1)]
        ).fit()
    resumed = Trainer(tiny_model("vae", seed=9), data, config(3, lr_schedule="cosine"), out_dir=tmp_path / "b")
    history = resumed.fit(resume=True)
    for (key, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), key
    assert [row["train/lr"] for row in history] == [row["train/lr"] for row in straight.history]


def test_an_impossible_final_fraction_is_refused():
    with pytest.raises(ValidationError, match="lr_final_fraction"):
        config(1, lr_schedule="cosine", lr_final_fraction=1.5)


def test_a_dropped_last_batch_is_not_counted_as_a_step(tmp_path):
    # 65 images in batches of 16: the 1-image rest is dropped (batch norm), so 4 steps an epoch, not 5;
    # counted as 5, the rate jumped at every epoch's end and the progress bar never reached its total
    data = tiny_splits(n=65)
    history = Trainer(tiny_model("vae"), data, config(2, lr_schedule="cosine"), out_dir=tmp_path).fit()
    lr = tiny_model("vae").config.lr
    assert [row["train/lr"] for row in history] == pytest.approx(
        [lr * cosine_fraction(p, 0.01) for p in (3 / 8, 7 / 8)]
    )

"""train.compile: what torch.compile can and cannot take in the models' training steps.

The tests compile with the ``aot_eager`` backend (AOT autograd's graphs, run eagerly): the same tracing
and autograd as inductor, without a C++ compiler.
"""

from __future__ import annotations

import math

import pytest
import torch

from tests.conftest import tiny_splits
from tests.models.tiny_configs import tiny_model
from vaegan.training import Trainer
from vaegan.training.config import TrainConfig


@pytest.fixture
def aot_eager(monkeypatch):
    compile_ = torch.nn.Module.compile
    monkeypatch.setattr(torch.nn.Module, "compile", lambda self, **kwargs: compile_(self, backend="aot_eager"))


def test_a_critic_whose_gradient_is_differentiated_is_left_uncompiled_and_the_gan_trains(tmp_path, aot_eager, caplog):
    """WGAN-GP differentiates the critic's gradient (the penalty); torch.compile's backward cannot be
    differentiated, and the first critic step raised torch's RuntimeError about double backward."""
    config = TrainConfig(epochs=1, batch_size=16, grid_size=4, progress=False, tensorboard=False, compile=True)
    trainer = Trainer(tiny_model("wgan_gp"), tiny_splits(n=32), config, out_dir=tmp_path)
    (row,) = trainer.fit()
    assert math.isfinite(row["train/d_loss"]) and row["train/gp"] > 0
    assert trainer.model.discriminator._compiled_call_impl is None
    assert trainer.model.generator._compiled_call_impl is not None
    assert "discriminator of model wgan_gp left uncompiled" in caplog.text


def test_a_penalty_of_ones_own_that_does_not_declare_itself_is_told_in_one_line(tmp_path, aot_eager):
    """An objective of one's own (an R1 penalty, say) that differentiates the critic's gradient but does not
    set second_order got torch's bare RuntimeError about double backward at its first step."""
    from vaegan.foundation.errors import TrainingError
    from vaegan.models.adversarial import NonSaturating, gradient_penalty

    class Penalised(NonSaturating):
        def critic_terms(self, real, fake, critic, real_scores, fake_scores):
            terms = super().critic_terms(real, fake, critic, real_scores, fake_scores)
            return {**terms, "d_loss": terms["d_loss"] + gradient_penalty(critic, real, fake)}

    model = tiny_model("gan")

    class PenalisedGAN(type(model)):
        @property
        def objective(self):
            return Penalised()

    model.__class__ = PenalisedGAN  # the tiny GAN's weights, with the objective of one's own
    config = TrainConfig(epochs=1, batch_size=16, grid_size=4, progress=False, tensorboard=False, compile=True)
    with pytest.raises(TrainingError, match=r"train\.compile.*differentiated_twice"):
        Trainer(model, tiny_splits(n=32), config, out_dir=tmp_path).fit()

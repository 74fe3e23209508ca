"""train.compile: what torch.compile can and cannot take in the models' training steps.

The tests compile with the ``aot_eager`` backend (AOT autograd's graphs, run eagerly): the same tracing
and autograd as inductor, without a C++ compiler.
"""

from __future__ import annotations

import pytest
import torch

from tests.conftest import tiny_splits
from tests.models.tiny_configs import tiny_model
from vaegan.foundation.errors import VaeganError
from vaegan.training import Trainer
from vaegan.training.config import TrainConfig


@pytest.fixture
def aot_eager(monkeypatch):
    compile_ = torch.nn.Module.compile
    monkeypatch.setattr(torch.nn.Module, "compile", lambda self, **kwargs: compile_(self, backend="aot_eager"))


def test_a_gradient_penalty_through_a_compiled_critic_is_refused_naming_the_setting(tmp_path, aot_eager):
    """WGAN-GP differentiates the critic's gradient (the penalty); torch.compile's backward cannot be
    differentiated, and the first critic step raised torch's RuntimeError about double backward."""
    config = TrainConfig(epochs=1, batch_size=16, grid_size=4, progress=False, tensorboard=False, compile=True)
    trainer = Trainer(tiny_model("wgan_gp"), tiny_splits(n=32), config, out_dir=tmp_path)
    with pytest.raises(VaeganError, match=r"train\.compile=true.*wgan_gp.*set train\.compile=false"):
        trainer.fit()

"""The finiteness check every N steps names the step range and still stops before any checkpoint."""

from __future__ import annotations

import pytest

from tests.conftest import tiny_splits
from tests.models.tiny_configs import tiny_model
from vaegan.foundation.errors import TrainingError
from vaegan.training import TrainConfig, Trainer


def test_a_nan_between_checks_is_reported_with_its_step_range(tmp_path):
    config = TrainConfig(epochs=1, batch_size=8, grid_size=4, progress=False, tensorboard=False, check_finite_every=3)
    trainer = Trainer(tiny_model("vae"), tiny_splits(), config, out_dir=tmp_path)  # 8 steps: checks at 3, 6, 8
    original, calls = trainer.model.losses, {"n": 0}

    def poisoned(batch):
        calls["n"] += 1
        terms = original(batch)
        return {**terms, "kl": terms["kl"] * float("inf")} if calls["n"] == 7 else terms

    trainer.model.losses = poisoned
    with pytest.raises(TrainingError, match=r"epoch 1, steps 7-8 \(kl\)"):
        trainer.fit()
    assert not (tmp_path / "checkpoints" / "last.pt").exists()

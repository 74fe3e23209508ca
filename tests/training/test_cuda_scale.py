"""CUDA paths of the scale-out work (skipped without a GPU): NCCL collectives in a one-process
group, streamed batches from pinned memory, and the finiteness check every N steps."""

from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.distributed as dist

from tests.conftest import tiny_splits
from tests.models.tiny_configs import tiny_model
from vaegan.foundation.errors import TrainingError
from vaegan.models import list_models
from vaegan.training import TrainConfig, Trainer

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def config(**extra) -> TrainConfig:
    options = {"epochs": 1, "batch_size": 16, "grid_size": 4, "progress": False, "tensorboard": False}
    return TrainConfig(**{**options, "device": "cuda", **extra})


@pytest.fixture
def nccl_group():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("nccl", rank=0, world_size=1, device_id=torch.device("cuda", 0))
    yield
    dist.destroy_process_group()


@pytest.mark.parametrize("name", list_models())
def test_every_model_trains_in_a_one_process_nccl_group(name, tmp_path, nccl_group):
    trainer = Trainer(tiny_model(name), tiny_splits(), config(sync_batchnorm=True), out_dir=tmp_path)
    assert trainer.ranks.active and trainer.device.type == "cuda"
    history = trainer.fit()
    assert all(torch.isfinite(torch.tensor(v)) for row in history for v in row.values())
    assert (tmp_path / "checkpoints" / "last.pt").is_file()


def test_streamed_batches_match_the_device_path(tmp_path):
    runs = {}
    for placement in ("always", "never"):
        trainer = Trainer(
            tiny_model("vae"), tiny_splits(), config(data_on_device=placement), out_dir=tmp_path / placement
        )
        trainer.fit()
        runs[placement] = trainer.model.state_dict()
    for key, value in runs["always"].items():
        torch.testing.assert_close(runs["never"][key], value, atol=1e-5, rtol=1e-4, msg=key)


def test_nan_is_caught_every_25_steps_with_the_step_range(tmp_path):
    data = tiny_splits(n=640)  # 40 steps of 16
    trainer = Trainer(tiny_model("vae"), data, config(), out_dir=tmp_path)
    original, calls = trainer.model.losses, {"n": 0}

    def poisoned(batch):
        calls["n"] += 1
        terms = original(batch)
        return {**terms, "loss": terms["loss"] * float("nan")} if calls["n"] == 30 else terms

    trainer.model.losses = poisoned
    with pytest.raises(TrainingError, match=r"epoch 1, steps 26-40 \(loss"):
        trainer.fit()
    assert not (tmp_path / "checkpoints" / "last.pt").exists()

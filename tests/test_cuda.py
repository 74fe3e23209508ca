"""CUDA paths (skipped without a GPU): every model trains on the GPU in fp32 and bf16, and its
checkpoint loads back on the CPU."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import tiny_splits
from tests.models.test_contract import make
from vaegan.models import list_models
from vaegan.runs import load_run
from vaegan.training import Trainer
from vaegan.training.config import TrainConfig

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.mark.parametrize("precision", ["32", "bf16"])
@pytest.mark.parametrize("name", list_models())
def test_model_trains_on_cuda_and_loads_on_cpu(name, precision, tmp_path):
    model = make(name)
    config = TrainConfig(epochs=2, batch_size=16, grid_size=8, progress=False, device="cuda", precision=precision)
    trainer = Trainer(model, tiny_splits(), config, out_dir=tmp_path)
    history = trainer.fit()
    assert next(trainer.model.parameters()).is_cuda
    assert all(torch.isfinite(torch.tensor(v)) for row in history for v in row.values())
    assert (tmp_path / "epoch002_fakes.png").is_file()
    run = load_run(tmp_path, device="cpu")
    labels = torch.arange(4) % 3 if run.model.conditional else None
    images = run.model.sample(4, labels, torch.Generator().manual_seed(0))
    assert images.device.type == "cpu" and images.shape[0] == 4


def test_resume_on_cuda_continues_the_run(tmp_path):
    data = tiny_splits()
    config = lambda epochs: TrainConfig(epochs=epochs, batch_size=16, grid_size=8, progress=False, device="cuda")  # noqa: E731
    Trainer(make("vae"), data, config(1), out_dir=tmp_path).fit()
    history = Trainer(make("vae"), data, config(2), out_dir=tmp_path).fit(resume=True)
    assert [row["epoch"] for row in history] == [1, 2]

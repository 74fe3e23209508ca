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
    straight = Trainer(make("vae"), data, config(2), out_dir=tmp_path / "straight")
    straight.fit()
    Trainer(make("vae"), data, config(1), out_dir=tmp_path / "resumed").fit()
    after_one = {k: v.clone() for k, v in load_run(tmp_path / "resumed", device="cpu").model.state_dict().items()}
    resumed = Trainer(make("vae", seed=99), data, config(2), out_dir=tmp_path / "resumed")  # other init: overwritten
    history = resumed.fit(resume=True)
    assert [row["epoch"] for row in history] == [1, 2]
    # the same weights as the uninterrupted run (cuDNN may sum in another order: float tolerance, not bits)
    for (key, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-5, msg=key)
    moved = [k for k, v in resumed.model.state_dict().items() if v.is_floating_point() and k in after_one]
    assert any(not torch.allclose(resumed.model.state_dict()[k].cpu(), after_one[k]) for k in moved)  # epoch 2 ran


@pytest.mark.parametrize("name", ["vae", "cvae"])
def test_log_likelihood_takes_cpu_images_on_a_cuda_model(name):
    """The README's example: log_likelihood on CPU test images after fit() left the model on CUDA."""
    model = make(name).to("cuda")
    x = torch.rand(4, *model.config.image_shape).round()
    labels = torch.arange(4) % model.config.num_classes if model.conditional else None
    log_px = model.log_likelihood(x, labels, k=8)
    assert log_px.shape == (4,) and log_px.is_cuda and torch.isfinite(log_px).all()

"""train.precision=bf16 on the CPU (these CPUs support it): every registered model trains, finitely, in bf16."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from tests.conftest import tiny_splits
from tests.models.tiny_configs import tiny_model
from vaegan.models import list_models
from vaegan.training import Trainer
from vaegan.training.config import TrainConfig


@pytest.mark.parametrize("name", list_models())
def test_every_model_trains_a_few_steps_in_bf16_on_the_cpu(name, tmp_path):
    model = tiny_model(name)
    before = {key: value.detach().clone() for key, value in model.named_parameters()}
    dtypes: set[torch.dtype] = set()  # what the conv and linear layers computed in
    layers = [m for m in model.modules() if isinstance(m, nn.Linear | nn.modules.conv._ConvNd)]
    hooks = [layer.register_forward_hook(lambda m, args, out: dtypes.add(out.dtype)) for layer in layers]
    config = TrainConfig(epochs=1, batch_size=16, grid_size=4, progress=False, tensorboard=False, device="cpu")
    trainer = Trainer(model, tiny_splits(n=48), config.model_copy(update={"precision": "bf16"}), out_dir=tmp_path)
    history = trainer.fit()  # 3 steps
    for hook in hooks:
        hook.remove()
    assert torch.bfloat16 in dtypes  # autocast was on: the layers ran in bf16
    assert all(math.isfinite(value) for value in history[0].values()), history[0]
    assert any(not torch.equal(value, before[key]) for key, value in model.named_parameters()), "no weight moved"
    assert all(p.dtype == torch.float32 and torch.isfinite(p).all() for p in model.parameters())  # fp32 master weights


@pytest.mark.parametrize("kind", ["gaussian", "learned_gaussian"])
def test_a_gaussian_likelihood_compares_x_with_the_full_precision_mean_under_bf16(kind):
    """sigmoid is not among the ops autocast lifts to float32: the mean was rounded to bf16 (1/256 apart in
    [0.5, 1)) before x - mean, which at sigma 0.001 cost up to ~0.6 nats a bright pixel."""
    from vaegan.models.likelihoods import build_likelihood

    likelihood = build_likelihood(kind, sigma=0.001, min_sigma=0.001)
    channels = 2 if kind == "learned_gaussian" else 1
    out = torch.randn(4, channels, 8, 8).to(torch.bfloat16)  # what a bf16 decoder hands over
    x = torch.rand(4, 1, 8, 8)
    exact = likelihood.log_prob(out.float(), x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = likelihood.log_prob(out, x)
    assert mixed.dtype == torch.float32
    torch.testing.assert_close(mixed, exact, rtol=1e-5, atol=1e-3)

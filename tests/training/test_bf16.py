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

"""VAE.map_code: the code that best explains an image under the model (semi-amortized inference)."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import tiny_splits
from tests.models.tiny_configs import tiny_model
from vaegan.models.distributions import standard_normal_log_prob


def energy(model, z, x, labels=None) -> torch.Tensor:
    """-log p(x|z) - beta log p(z) per image: what map_code lowers."""
    with torch.no_grad():
        out = model.decode(z, labels)
        return -(model.likelihood.log_prob(out, x) + model.config.kl_weight * standard_normal_log_prob(z))


def test_zero_steps_is_the_encoders_mean_and_more_steps_lower_every_images_energy():
    model = tiny_model("vae").eval()
    x = tiny_splits().train.images[:6]
    start = model.map_code(x, steps=0)
    torch.testing.assert_close(start, model.encode(x))
    refined = model.map_code(x, steps=50)
    assert (energy(model, refined, x) < energy(model, start, x)).all()


def test_the_weights_stay_untouched_and_no_gradient_is_left_behind():
    model = tiny_model("vae")
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.map_code(tiny_splits().train.images[:4], steps=5)
    assert model.training  # the caller's mode comes back
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key  # batch-norm statistics too: decoded in eval mode
    assert all(p.grad is None for p in model.parameters())


def test_each_images_code_is_its_own_whatever_else_is_in_the_batch():
    model = tiny_model("vae").eval()
    x = tiny_splits().train.images[:6]
    together = model.map_code(x, steps=20)
    alone = model.map_code(x[:2], steps=20)
    torch.testing.assert_close(together[:2], alone, rtol=1e-4, atol=1e-5)


def test_a_conditional_model_refines_the_code_under_the_label_it_is_given():
    model = tiny_model("cvae").eval()
    data = tiny_splits().train
    x, labels = data.images[:4], data.labels[:4]
    refined = model.map_code(x, labels, steps=30)
    assert (energy(model, refined, x, labels) < energy(model, model.encode(x, labels), x, labels)).all()
    with pytest.raises(ValueError, match="steps"):
        model.map_code(x, labels, steps=-1)

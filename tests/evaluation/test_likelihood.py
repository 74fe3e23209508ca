"""Likelihood metrics: the bounds are ordered, reproducible, and bits/dim follows its formula."""

from __future__ import annotations

import math

import pytest
import torch

from tests.conftest import blob_images
from tests.evaluation.conftest import tiny_model
from vaegan.evaluation.likelihood import bits_per_dim, likelihood_metrics


@pytest.mark.parametrize("name", ["vae", "cvae"])
def test_elbo_is_below_the_importance_weighted_bound(name):
    model = tiny_model(name).eval()
    data = blob_images(24, (1, 16, 16), 3, seed=3)
    scores = likelihood_metrics(model, data.images, data.labels, k=64, batch_size=10)
    assert math.isfinite(scores["nll"]) and scores["nll"] > 0  # Bernoulli: -log p(x) > 0
    assert scores["neg_elbo"] >= scores["nll"]  # -ELBO >= -IWAE_k
    assert likelihood_metrics(model, data.images, data.labels, k=64, batch_size=10) == scores  # seeded


def test_more_importance_samples_tighten_the_bound():
    model = tiny_model("vae").eval()
    x = blob_images(16, (1, 16, 16), 3, seed=4).images
    loose = likelihood_metrics(model, x, k=2)["nll"]
    tight = likelihood_metrics(model, x, k=200)["nll"]
    assert tight < loose


def test_only_models_with_log_likelihood_qualify():
    assert tiny_model("vae").probabilistic
    assert not tiny_model("ae").probabilistic


def test_bits_per_dim_rescales_nats_to_8_bit_pixels():
    # a uniform density on [0, 1]^D has nll 0 nats: 8 bits per 8-bit pixel
    assert bits_per_dim(0.0, (1, 28, 28)) == pytest.approx(8.0)
    assert bits_per_dim(784 * math.log(2), (1, 28, 28)) == pytest.approx(9.0)


def test_likelihood_does_not_disturb_the_global_rng():
    model = tiny_model("vae").eval()
    state = torch.get_rng_state()
    likelihood_metrics(model, blob_images(4, (1, 16, 16), 3).images, k=3)
    assert torch.equal(state, torch.get_rng_state())

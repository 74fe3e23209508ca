"""The VAE's math against independent estimates."""

from __future__ import annotations

import torch

from vaegan.models import VAE, VAEConfig
from vaegan.models.distributions import DiagonalGaussian, standard_normal_log_prob
from vaegan.models.likelihoods import Bernoulli, Gaussian, LearnedGaussian


def test_closed_form_kl_matches_monte_carlo():
    torch.manual_seed(0)
    q = DiagonalGaussian(torch.randn(3, 5), torch.randn(3, 5) * 0.5)
    z = q.sample(200_000)  # (n, 3, 5)
    monte_carlo = (q.log_prob(z) - standard_normal_log_prob(z)).mean(0)
    assert torch.allclose(q.kl(), monte_carlo, rtol=0.02, atol=0.02)


def test_kl_agrees_with_torch_distributions():
    q = DiagonalGaussian(torch.randn(4, 3), torch.randn(4, 3))
    reference = torch.distributions.kl_divergence(
        torch.distributions.Normal(q.mean, q.std), torch.distributions.Normal(0.0, 1.0)
    ).sum(-1)
    assert torch.allclose(q.kl(), reference, atol=1e-5)


def test_likelihoods_agree_with_torch_distributions():
    x = torch.rand(2, 1, 4, 4)
    out = torch.randn(2, 1, 4, 4)
    bern = torch.distributions.Bernoulli(logits=out, validate_args=False).log_prob(x).flatten(1).sum(1)
    assert torch.allclose(Bernoulli().log_prob(out, x), bern, atol=1e-4)
    normal = torch.distributions.Normal(torch.sigmoid(out), 0.3).log_prob(x).flatten(1).sum(1)
    assert torch.allclose(Gaussian(0.3).log_prob(out, x), normal, atol=1e-4)
    two = torch.randn(2, 2, 4, 4)
    sigma = 0.01 + torch.nn.functional.softplus(two[:, 1:])
    learned = torch.distributions.Normal(torch.sigmoid(two[:, :1]), sigma).log_prob(x).flatten(1).sum(1)
    assert torch.allclose(LearnedGaussian(0.01).log_prob(two, x), learned, atol=1e-3)


def _trained_vae() -> tuple[VAE, torch.Tensor]:
    from tests.conftest import tiny_splits

    torch.manual_seed(0)
    model = VAE(
        VAEConfig(image_shape=(1, 16, 16), num_classes=3, latent_dim=3, network={"kind": "mlp", "hidden": [64]})
    )
    data = tiny_splits().train
    optimizers = model.configure_optimizers()
    for _ in range(60):
        model.train_step((data.images, data.labels), optimizers)
    return model.eval(), data.images[:8]


def test_importance_weighted_bound_is_above_the_elbo_and_rises_with_k():
    model, x = _trained_vae()
    torch.manual_seed(1)
    with torch.no_grad():
        elbo = -torch.stack([model.losses((x, None))["loss"] for _ in range(1000)]).mean()
    bounds = {}
    for k, repeats in ((1, 1000), (10, 5), (100, 5), (1000, 5)):
        torch.manual_seed(2)
        bounds[k] = torch.stack([model.log_likelihood(x, k=k).mean() for _ in range(repeats)]).mean()
    # k = 1 is the ELBO itself: 1000 draws leave ~0.1 nats of noise, while k = 2 is already ~2.5 nats above
    assert abs(bounds[1] - elbo) < 0.5
    assert bounds[10] > elbo and bounds[1000] >= bounds[100] >= bounds[10] > bounds[1]


def test_one_sample_bound_is_the_one_sample_elbo_for_the_same_draw():
    model, x = _trained_vae()
    torch.manual_seed(4)
    bound = model.log_likelihood(x, k=1)
    torch.manual_seed(4)  # the same noise: log p(x|z) + log p(z) - log q(z|x) at that one z
    with torch.no_grad():
        q = model.posterior(x)
        z = q.sample()
        expected = model.likelihood.log_prob(model.decode(z), x) + standard_normal_log_prob(z) - q.log_prob(z)
    torch.testing.assert_close(bound, expected, rtol=0, atol=1e-4)


def test_log_likelihood_chunking_does_not_change_the_estimate(monkeypatch):
    model, x = _trained_vae()
    k = 64
    bank = torch.randn(k, *model.posterior(x).mean.shape, generator=torch.Generator().manual_seed(3))
    used = []

    def from_the_bank(self, n=None, generator=None):  # the same k draws, however they are chunked
        eps = bank[sum(used) : sum(used) + n]
        used.append(n)
        return self.mean + self.std * eps

    monkeypatch.setattr(DiagonalGaussian, "sample", from_the_bank)
    whole = model.log_likelihood(x, k=k, chunk_rows=8 * k)
    assert used == [k]
    used.clear()
    chunked = model.log_likelihood(x, k=k, chunk_rows=8 * 5)
    assert used == [5] * 12 + [4]
    assert whole.shape == (8,) and torch.isfinite(whole).all()
    torch.testing.assert_close(chunked, whole, rtol=0, atol=1e-4)


def test_log_likelihood_moves_images_and_labels_to_the_model_device():
    """encode, reconstruct, sample and map_code move their inputs to the model's device; log_likelihood did not,
    and after fit() on CUDA the README's example failed on CPU images (the meta device stands in for CUDA)."""
    from tests.models.tiny_configs import tiny_model

    x, labels = torch.rand(3, 1, 16, 16).round(), torch.tensor([0, 1, 2])
    assert tiny_model("vae").to("meta").log_likelihood(x, k=2).device.type == "meta"
    assert tiny_model("cvae").to("meta").log_likelihood(x, labels, k=2).device.type == "meta"

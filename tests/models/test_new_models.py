"""beta-TCVAE and WGAN-GP: the math each adds to its parent, checked against direct computations."""

from __future__ import annotations

import math

import pytest
import torch

from tests.conftest import tiny_splits
from tests.models.tiny_configs import tiny_model
from vaegan.foundation.errors import ConfigError
from vaegan.models import Batch
from vaegan.models.adversarial import WassersteinGP, gradient_penalty
from vaegan.models.beta_tcvae import decomposed_kl
from vaegan.models.distributions import DiagonalGaussian, standard_normal_log_prob
from vaegan.training import TrainConfig, Trainer


def _posterior(m: int = 6, d: int = 3) -> tuple[DiagonalGaussian, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    q = DiagonalGaussian(torch.randn(m, d, generator=g), 0.5 * torch.randn(m, d, generator=g))
    return q, q.sample(generator=g)


def test_mws_estimates_match_a_loop_over_pairs():
    q, z = _posterior()
    m, n = len(z), 1000
    log_qz, log_prod = [], []
    for i in range(m):  # direct: log (1/(N M)) sum_j q(z_i | x_j), jointly and per dimension
        per_dim = torch.stack(
            [torch.distributions.Normal(q.mean[j], q.std[j]).log_prob(z[i]) for j in range(m)]
        )  # (M, D)
        log_qz.append(torch.logsumexp(per_dim.sum(1), 0) - math.log(n * m))
        log_prod.append((torch.logsumexp(per_dim, 0) - math.log(n * m)).sum())
    log_qz, log_prod = torch.stack(log_qz), torch.stack(log_prod)
    terms = decomposed_kl(q, z, n, estimator="mws")
    torch.testing.assert_close(terms["mi"], (q.log_prob(z) - log_qz).mean())
    torch.testing.assert_close(terms["tc"], (log_qz - log_prod).mean())
    torch.testing.assert_close(terms["dwkl"], (log_prod - standard_normal_log_prob(z)).mean())


def exact_log_qz(q: DiagonalGaussian, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """log q(z_i) and log prod_d q(z_i,d) when the batch is the whole dataset: (1/N) sum over all of it."""
    matrix = torch.distributions.Normal(q.mean.unsqueeze(0), q.std.unsqueeze(0)).log_prob(z.unsqueeze(1))
    n = math.log(len(z))
    return torch.logsumexp(matrix.sum(2), 1) - n, (torch.logsumexp(matrix, 1) - n).sum(1)


def test_mss_is_exact_when_the_batch_is_the_dataset():
    q, z = _posterior(m=8)
    log_qz, log_prod = exact_log_qz(q, z)
    terms = decomposed_kl(q, z, len(z), estimator="mss")
    torch.testing.assert_close(terms["tc"], (log_qz - log_prod).mean())
    torch.testing.assert_close(terms["mi"], (q.log_prob(z) - log_qz).mean())


def test_mss_removes_the_log_m_offset_of_mws_on_separated_posteriors():
    """Posteriors far apart (in every dimension): q(z_i) = q(z_i | x_i) / N, so MI = log N and TC = (D - 1) log N.

    MWS reads MI log M too high (the offset its docstring used to warn about); MSS gets both.
    """
    m, d, n = 16, 3, 1000
    mean = 100.0 * torch.arange(m, dtype=torch.float32).unsqueeze(1).repeat(1, d)  # no two overlap, per dimension
    q = DiagonalGaussian(mean, torch.full((m, d), -2.0))
    z = q.sample(generator=torch.Generator().manual_seed(0))
    truth = math.log(n)  # log q(z|x) - log q(z), with q(z) = q(z|x) / N
    mss, mws = decomposed_kl(q, z, n, estimator="mss"), decomposed_kl(q, z, n, estimator="mws")
    torch.testing.assert_close(mss["mi"], torch.tensor(truth), atol=1e-4, rtol=0)
    torch.testing.assert_close(mss["tc"], torch.tensor((d - 1) * truth), atol=1e-4, rtol=0)
    torch.testing.assert_close(mws["mi"], torch.tensor(truth + math.log(m)), atol=1e-4, rtol=0)


def test_mss_of_a_batch_of_one_is_finite():
    q, z = _posterior(m=1)
    assert all(torch.isfinite(value) for value in decomposed_kl(q, z, 100, estimator="mss").values())


def test_mss_estimates_match_a_loop_over_pairs():
    """Overlapping posteriors and N > M, where the weights of the other batch members count (Chen et al. 2018,
    minibatch stratified sampling): q(z_i) ~ q(z_i | x_i) / N + (N - 1) / (N (M - 1)) sum_{j != i} q(z_i | x_j)."""
    q, z = _posterior()
    m, n = len(z), 1000
    log_qz, log_prod = [], []
    for i in range(m):
        per_dim = torch.stack([torch.distributions.Normal(q.mean[j], q.std[j]).log_prob(z[i]) for j in range(m)])
        weights = torch.tensor([1 / n if j == i else (n - 1) / (n * (m - 1)) for j in range(m)]).log()
        log_qz.append(torch.logsumexp(per_dim.sum(1) + weights, 0))
        log_prod.append(torch.logsumexp(per_dim + weights.unsqueeze(1), 0).sum())
    log_qz, log_prod = torch.stack(log_qz), torch.stack(log_prod)
    terms = decomposed_kl(q, z, n, estimator="mss")
    torch.testing.assert_close(terms["mi"], (q.log_prob(z) - log_qz).mean())
    torch.testing.assert_close(terms["tc"], (log_qz - log_prod).mean())
    torch.testing.assert_close(terms["dwkl"], (log_prod - standard_normal_log_prob(z)).mean())


def test_beta_tcvae_learns_its_dataset_size_through_the_contract(tmp_path):
    model = tiny_model("beta_tcvae")
    data = tiny_splits()
    config = TrainConfig(epochs=1, batch_size=16, grid_size=4, progress=False, tensorboard=False)
    Trainer(model, data, config, out_dir=tmp_path).fit()
    assert int(model.dataset_size) == len(data.train)
    terms = model.eval_step(Batch(data.val.images, data.val.labels))
    c = model.config
    expected = terms["recon"] + c.mi_weight * terms["mi"] + c.tc_weight * terms["tc"] + c.dwkl_weight * terms["dwkl"]
    torch.testing.assert_close(terms["loss"], expected)


def test_gradient_penalty_of_a_linear_critic_is_its_weight_norm_minus_one_squared():
    w = torch.tensor([3.0, 4.0, 0.0, 0.0])  # ||w|| = 5 everywhere, so the penalty is (5 - 1)^2

    def critic(x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1) @ w

    real, fake = torch.rand(8, 1, 2, 2), torch.rand(8, 1, 2, 2)
    torch.testing.assert_close(gradient_penalty(critic, real, fake), torch.tensor(16.0))
    with torch.no_grad():  # also as a validation metric
        torch.testing.assert_close(gradient_penalty(critic, real, fake), torch.tensor(16.0))


def test_wasserstein_losses_follow_the_paper():
    objective = WassersteinGP(gp_weight=10.0)
    real_scores, fake_scores = torch.tensor([2.0, 4.0]), torch.tensor([1.0, -1.0])
    terms = objective.critic_terms(torch.zeros(2, 1), torch.zeros(2, 1), lambda x: x.sum(1), real_scores, fake_scores)
    # critic: E[D(fake)] - E[D(real)] + lambda * GP, and here grad of sum(x) has norm 1: GP = 0
    torch.testing.assert_close(terms["d_loss"], torch.tensor(0.0 - 3.0))
    torch.testing.assert_close(terms["wasserstein"], torch.tensor(3.0))
    torch.testing.assert_close(objective.generator_loss(fake_scores), torch.tensor(0.0))


def test_the_generator_steps_once_every_critic_steps():
    model = tiny_model("wgan_gp", critic_steps=3)
    optimizers = model.configure_optimizers()
    train = tiny_splits(n=8).train
    batch = Batch(train.images, train.labels)
    changed = []
    for _ in range(6):
        before = [p.clone() for p in model.generator.parameters()]
        model.train_step(batch, optimizers)
        changed.append(any(not torch.equal(a, b) for a, b in zip(before, model.generator.parameters())))
    assert changed == [False, False, True, False, False, True]
    assert int(model.critic_updates) == 6  # a buffer: saved in last.pt, so resume keeps the rhythm


def test_a_batch_norm_critic_is_refused_with_the_reason():
    with pytest.raises((ConfigError, ValueError), match="gradient penalty"):
        tiny_model("wgan_gp", discriminator={"channels": [8, 16], "norm": "batch"})

"""beta-TCVAE: the KL term split into index-code MI, total correlation and dimension-wise KL (Chen et al. 2018)."""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
from pydantic import Field
from torch import Tensor

from vaegan.models.distributions import DiagonalGaussian, standard_normal_log_prob
from vaegan.models.registry import register_model
from vaegan.models.vae import VAE, VAEConfig


class BetaTCVAEConfig(VAEConfig):
    """A beta-TCVAE: ``tc_weight`` is the paper's beta; ``mi_weight`` (alpha) and ``dwkl_weight`` (gamma) stay 1."""

    name: str = "beta_tcvae"
    mi_weight: float = Field(1.0, ge=0.0, description="alpha, on the index-code mutual information")
    tc_weight: float = Field(6.0, ge=0.0, description="beta, on the total correlation")
    dwkl_weight: float = Field(1.0, ge=0.0, description="gamma, on the dimension-wise KL")
    estimator: Literal["mss", "mws"] = Field(
        "mss", description="log q(z) from the batch: stratified (unbiased q(z)) or weighted sampling (log M low)"
    )


def log_density_matrix(q: DiagonalGaussian, z: Tensor) -> Tensor:
    """log q(z_i,d | x_j) for every pair of the batch: z (B, D) -> (B_i, B_j, D)."""
    mean, logvar = q.mean.unsqueeze(0), q.logvar.unsqueeze(0)  # (1, B_j, D)
    return -0.5 * ((z.unsqueeze(1) - mean).pow(2) / logvar.exp() + logvar + math.log(2 * math.pi))


def decomposed_kl(q: DiagonalGaussian, z: Tensor, dataset_size: int, estimator: str = "mss") -> dict[str, Tensor]:
    """Estimates of MI, TC and dimension-wise KL from one batch, averaged over it (Chen et al. 2018, sec. 4.1).

    Each needs log q(z_i) = log (1/N) sum_n q(z_i | x_n) over all N training points, and the same per
    dimension for log prod_d q(z_i,d); a batch of M points stands in for the sum. Then
    MI = E[log q(z|x) - log q(z)], TC = E[log q(z) - log prod_d q(z_d)] and
    dimension-wise KL = E[log prod_d q(z_d) - log p(z)]: their sum is the sampled KL(q(z|x) || p(z)).

    - ``mss`` (minibatch stratified sampling, the default): z_i was drawn from its own x_i, which is
      one of the N points; the other N - 1 are represented by the batch's other M - 1, so
      q(z_i) ~ (1/N) q(z_i | x_i) + (N - 1) / (N (M - 1)) sum_{j != i} q(z_i | x_j), an unbiased estimate
      of q(z_i) (exact when the batch is the dataset).
    - ``mws`` (minibatch weighted sampling): q(z_i) ~ 1/(N M) sum_j q(z_i | x_j). Where posteriors
      barely overlap it puts log q(z) about log M too low, so ``tc`` reads about (D - 1) log M too high
      and ``dwkl`` about D log M too low (it can turn negative).
    """
    m = len(z)
    matrix = log_density_matrix(q, z)  # (M_i, M_j, D)
    if estimator == "mss":
        own = -math.log(dataset_size)
        others = min(m, dataset_size) - 1  # a batch of one (or a dataset of one) has no one else to ask
        other = math.log((dataset_size - 1) / (dataset_size * others)) if others else -math.inf
        weights = torch.full((m, m), other, dtype=z.dtype, device=z.device).fill_diagonal_(own)
    elif estimator == "mws":
        weights = torch.full((m, m), -math.log(dataset_size * m), dtype=z.dtype, device=z.device)
    else:
        raise ValueError(f"estimator must be 'mss' or 'mws', got {estimator!r}")
    log_qz = torch.logsumexp(matrix.sum(2) + weights, dim=1)  # (M,)
    log_prod_qzd = torch.logsumexp(matrix + weights.unsqueeze(2), dim=1).sum(1)  # (M,)
    log_qz_x = q.log_prob(z)  # (M,)
    return {
        "mi": (log_qz_x - log_qz).mean(),
        "tc": (log_qz - log_prod_qzd).mean(),
        "dwkl": (log_prod_qzd - standard_normal_log_prob(z)).mean(),
    }


@register_model("beta_tcvae")
class BetaTCVAE(VAE):
    """A VAE that penalises the total correlation of its code, so its dimensions come apart.

    The VAE's KL(q(z|x) || p(z)), averaged over the data, is index-code mutual
    information + total correlation + dimension-wise KL; beta-TCVAE weights the
    three separately, mostly the total correlation (Chen et al. 2018, eq. 2-4):

        loss = recon + alpha * MI + beta * TC + gamma * dimension-wise KL.

    It overrides two hooks of the VAE (``latent`` and ``regularization``) and
    takes the training set's size, which the estimator needs, from the
    contract's ``on_fit_start``. The closed-form ``kl`` is still logged.

    Example:
        >>> model = BetaTCVAE(BetaTCVAEConfig(latent_dim=10))
        >>> model.sample(4).shape
        torch.Size([4, 1, 28, 28])
    """

    config_class = BetaTCVAEConfig
    config: BetaTCVAEConfig

    def __init__(self, config: BetaTCVAEConfig):
        super().__init__(config)
        # N of the estimator; saved with the weights so a loaded model scores as it trained
        self.register_buffer("dataset_size", torch.tensor(60_000, dtype=torch.long))
        self._size: int | None = None  # the same on the host, so a step never reads the GPU's

    def load_state_dict(self, *args: Any, **kwargs: Any) -> Any:
        self._size = None  # read again from the loaded buffer at the next step
        return super().load_state_dict(*args, **kwargs)

    def batch_statistics(self) -> bool:
        """True: MI, TC and dimension-wise KL are minibatch estimates of log q(z) (Chen et al. 2018, sec. 4.1)."""
        return True

    def on_fit_start(self, dataset_size: int) -> None:
        self.dataset_size.fill_(dataset_size)
        self._size = dataset_size

    def latent(self, x: Tensor, labels: Tensor | None) -> tuple[Tensor, dict[str, Tensor]]:
        c = self.config
        q = self.posterior(x, labels)
        z = q.sample()
        if self._size is None:
            self._size = int(self.dataset_size)
        return z, {"kl": q.kl().mean(), **decomposed_kl(q, z, self._size, c.estimator)}

    def regularization(self, terms: dict[str, Tensor]) -> Tensor:
        c = self.config
        return c.mi_weight * terms["mi"] + c.tc_weight * terms["tc"] + c.dwkl_weight * terms["dwkl"]

"""A model defined outside vaegan, as a student or another package would: a VAE with free bits.

Free bits (Kingma et al. 2016, eq. 15): each latent dimension's KL counts at least
``free_bits`` nats, so the optimiser gains nothing by collapsing a dimension below it.
"""

from __future__ import annotations

import torch
from torch import Tensor

from vaegan.models import VAE, GenerativeModel, VAEConfig


class FreeBitsVAEConfig(VAEConfig):
    name: str = "free_bits_vae"
    free_bits: float = 0.25


class FreeBitsVAE(VAE):
    """Only the regulariser differs from the VAE: two hooks, nothing copied."""

    config_class = FreeBitsVAEConfig

    def latent(self, x: Tensor, labels: Tensor | None) -> tuple[Tensor, dict[str, Tensor]]:
        q = self.posterior(x, labels)
        kl = q.kl_per_dim().mean(0)  # (D,) nats per dimension, averaged over the batch
        return q.sample(), {"kl": kl.sum(), "kl_free": kl.clamp(min=self.config.free_bits).sum()}

    def regularization(self, terms: dict[str, Tensor]) -> Tensor:
        return self.config.kl_weight * terms["kl_free"]


class ForgetfulConfig(FreeBitsVAEConfig):
    name: str = "forgetful_vae"


class ForgetfulVAE(FreeBitsVAE):
    """A broken model: it samples with the global RNG, ignoring the caller's generator."""

    config_class = ForgetfulConfig

    def prior_noise(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        return torch.randn(n, self.config.latent_dim).to(self.device)


NOT_A_MODEL = GenerativeModel.__name__


class NarrowConditionConfig(VAEConfig):
    name: str = "narrow_condition_cvae"


class NarrowConditionCVAE(VAE):
    """A broken conditional model: ``F.one_hot`` without the class count, so a batch lacking the top class
    is conditioned on fewer columns than the networks were built for."""

    config_class = NarrowConditionConfig
    conditional = True

    @property
    def cond_dim(self) -> int:
        return self.config.num_classes

    def condition(self, labels: Tensor | None) -> Tensor:
        if labels is None:
            raise ValueError("pass labels")
        return torch.nn.functional.one_hot(labels).float()

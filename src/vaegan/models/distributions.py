"""Small distribution objects the models share."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

LOG_2PI = math.log(2 * math.pi)


def standard_normal_log_prob(z: Tensor) -> Tensor:
    """log N(z; 0, I) summed over the last dimension."""
    return -0.5 * (z.pow(2) + LOG_2PI).sum(-1)


@dataclass
class DiagonalGaussian:
    """q(z|x) = N(mean, diag(exp(logvar))), parameters shaped (B, D).

    Example:
        >>> q = DiagonalGaussian(torch.zeros(4, 2), torch.zeros(4, 2))
        >>> q.kl().tolist()
        [0.0, 0.0, 0.0, 0.0]
    """

    mean: Tensor
    logvar: Tensor

    @classmethod
    def from_params(cls, params: Tensor) -> DiagonalGaussian:
        """Split an encoder's (B, 2D) output into mean and log-variance."""
        mean, logvar = params.chunk(2, dim=-1)
        return cls(mean, logvar.clamp(-30.0, 20.0))  # keeps exp() finite in float32

    @property
    def std(self) -> Tensor:
        return torch.exp(0.5 * self.logvar)

    def sample(self, n: int | None = None, generator: torch.Generator | None = None) -> Tensor:
        """Reparameterised draw z = mean + std * eps (Kingma & Welling 2014, eq. 10): (B, D), or (n, B, D)."""
        shape = self.mean.shape if n is None else (n, *self.mean.shape)
        eps = torch.randn(shape, generator=generator, device=self.mean.device, dtype=self.mean.dtype)
        return self.mean + self.std * eps

    def kl_per_dim(self) -> Tensor:
        """KL(q || N(0, 1)) of each dimension in closed form (Kingma & Welling 2014, appendix B): (B, D)."""
        return 0.5 * (self.mean.pow(2) + self.logvar.exp() - 1.0 - self.logvar)

    def kl(self) -> Tensor:
        """KL(q || N(0, I)), shape (B,)."""
        return self.kl_per_dim().sum(-1)

    def log_prob(self, z: Tensor) -> Tensor:
        """log q(z|x) summed over D; z shaped (..., B, D), result (..., B)."""
        return -0.5 * ((z - self.mean).pow(2) / self.logvar.exp() + self.logvar + LOG_2PI).sum(-1)

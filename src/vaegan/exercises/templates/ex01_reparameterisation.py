"""Exercise 1: the reparameterisation trick (Kingma & Welling 2014, sec. 2.4, eq. 10).

Graded by ``vaegan exercises check``: shapes, the same numbers as vaegan's own
``DiagonalGaussian.sample`` for the same generator seed, and gradients that reach
the mean and the log-variance.
"""

from __future__ import annotations

import torch
from torch import Tensor

from vaegan.models.distributions import DiagonalGaussian


class ReparameterisedGaussian(DiagonalGaussian):
    """q(z|x) = N(mean, diag(exp(logvar))), parameters ``self.mean``, ``self.logvar`` shaped (B, D)."""

    def sample(self, n: int | None = None, generator: torch.Generator | None = None) -> Tensor:
        """A differentiable draw z ~ q: shape (B, D), or (n, B, D) when ``n`` is given.

        z = mean + sigma * eps,  eps ~ N(0, I),  sigma = exp(logvar / 2)

        The noise eps carries the randomness, so z is a differentiable function of
        mean and logvar: gradients of a loss of z reach the encoder.
        Draw eps with ``torch.randn(shape, generator=generator, device=..., dtype=...)``
        (the checks compare your numbers with vaegan's for the same seed).
        """
        raise NotImplementedError("ToImplement: z = mean + exp(logvar / 2) * eps, eps ~ N(0, I)")

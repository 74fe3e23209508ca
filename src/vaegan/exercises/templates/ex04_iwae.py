"""Exercise 4: the importance-weighted bound on log p(x) (Burda et al. 2015, eq. 8).

Graded by ``vaegan exercises check``: the model contract, and vaegan's numbers for the same seed
at k = 1 (the ELBO's one-sample estimate), at k = 16, and on a conv VAE with batch norm. (More
samples never lower the bound on average: try it on your own.)
"""

from __future__ import annotations

import math

from torch import Tensor

from vaegan.models import VAE, VAEConfig
from vaegan.models.base import inference
from vaegan.models.distributions import standard_normal_log_prob


class IWAEVAEConfig(VAEConfig):
    name: str = "exercise_iwae_vae"


class IWAEVAE(VAE):
    """A VAE whose log-likelihood estimate you write."""

    config_class = IWAEVAEConfig

    # an estimate, not a training loss: @inference runs it in eval mode (batch norm on its running
    # statistics, no dropout) and without gradients, then restores the caller's mode; keep it
    @inference
    def log_likelihood(self, x: Tensor, labels: Tensor | None = None, *, k: int = 64, chunk_rows: int = 0) -> Tensor:
        """log p(x) >= L_k = log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x),  z_i ~ q(z|x),  shape (B,) in nats.

        In logs, for stability: L_k = logsumexp_i [log p(x|z_i) + log p(z_i) - log q(z_i|x)] - log k.
        Tools: ``q = self.posterior(x)``; ``z = q.sample(k)`` (shape (k, B, D), draw it once);
        ``q.log_prob(z)`` (k, B); ``standard_normal_log_prob(z)`` (k, B); decode the (k*B, D)
        rows with ``self.decode`` and score them with ``self.likelihood.log_prob(out, x_repeated)``.
        ``chunk_rows`` is vaegan's memory limit; you may ignore it.
        """
        _ = (math, standard_normal_log_prob)  # you will need these
        raise NotImplementedError("ToImplement: logsumexp over k importance weights, minus log k")

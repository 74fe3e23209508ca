"""Exercise 3: the VAE's objective, the negative ELBO (Kingma & Welling 2014, eq. 3 and 7).

Graded by ``vaegan exercises check``: the model contract (your VAE trains, samples, saves),
and, with the same weights and the same seed, the same loss terms as vaegan's ``VAE``.
"""

from __future__ import annotations

from torch import Tensor

from vaegan.models import VAE, Batch, VAEConfig


class ELBOVAEConfig(VAEConfig):
    name: str = "exercise_elbo_vae"  # the registry name ``check`` uses for your class


class ELBOVAE(VAE):
    """A VAE whose loss you write. Available: ``self.posterior(x)`` (a DiagonalGaussian with
    ``sample()`` and ``kl()``), ``self.decode(z)`` (the likelihood's parameters),
    ``self.likelihood.log_prob(out, x)`` (log p(x|z) per image, shape (B,)), ``self.config.kl_weight``
    (beta) and ``self.warmup`` (the KL warm-up's fraction this epoch, 1 without warm-up)."""

    config_class = ELBOVAEConfig

    def losses(self, batch: Batch) -> dict[str, Tensor]:
        """The batch mean of the negative ELBO and its two terms:

        recon     = E_q(z|x)[-log p(x|z)]              estimated with one reparameterised z ~ q(z|x)
        kl        = KL(q(z|x) || N(0, I))              in closed form
        objective = recon + beta * kl                  (beta = kl_weight; 1 for the ELBO itself)
        loss      = recon + warmup * beta * kl         what is optimised this epoch

        Return ``{"loss", "objective", "recon", "kl"}``, each a scalar tensor (mean over the batch).
        Draw z with ``self.posterior(x).sample()`` once, so the numbers match vaegan's for the same seed.
        """
        raise NotImplementedError("ToImplement: recon = -log p(x|z), kl = KL(q||p), objective = recon + beta * kl")

"""Exercise 5: one GAN training step with its two optimisers (Goodfellow et al. 2014, algorithm 1, k = 1).

Graded by ``vaegan exercises check``: the model contract, and, from the same weights and
the same seed, the same loss terms and the same weights after the step as vaegan's ``GAN``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from vaegan.models import GAN, Batch, GANConfig
from vaegan.models.adversarial import frozen


class MyGANConfig(GANConfig):
    name: str = "exercise_gan"


class MyGAN(GAN):
    """A GAN whose training step you write. Available: ``self.fake_batch(n)`` -> (fakes, labels),
    ``self.discriminator_terms(batch, fakes, labels)`` -> {"d_loss", "d_real", "d_fake", ...},
    ``self.generator_terms(fakes, labels)`` -> {"g_loss"}, ``frozen(self.discriminator)``."""

    config_class = MyGANConfig

    def train_step(self, batch: Batch, optimizers: dict[str, torch.optim.Optimizer]) -> dict[str, Tensor]:
        """One step of D, then one step of G against the updated D:

        D minimises  -[log D(x) + log(1 - D(G(z)))]   on a real batch and a *detached* fake batch
        G minimises  -log D(G(z))                     (non-saturating), through D but not into D's weights

        ``optimizers["discriminator"]`` and ``optimizers["generator"]``: zero_grad, backward, step each.
        Draw one fake batch first (``self.fake_batch(len(batch.x))``) and use it for both players.
        Return every term of both dicts, detached.
        """
        _ = frozen  # you will need this
        raise NotImplementedError("ToImplement: D step on real + detached fakes, then G step with D frozen")

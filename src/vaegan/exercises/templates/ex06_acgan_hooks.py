"""Exercise 6: the ACGAN's hooks (Odena et al. 2017, eq. 1-2): a GAN whose discriminator also classifies.

The GAN's ``train_step`` calls these hooks; you write only them. Graded by ``vaegan
exercises check``: the model contract, and, from the same weights and the same seed, the
same loss terms and weights as vaegan's ``ACGAN`` after two steps, with ``class_weight`` 0.5.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from vaegan.models import GAN, GANConfig
from vaegan.models.base import LabelConditioned
from vaegan.models.gan import Critique, Player


class MyACGANConfig(GANConfig):
    name: str = "exercise_acgan"
    class_weight: float = 1.0


class MyACGAN(LabelConditioned, GAN):
    """G(z, c) draws class c (LabelConditioned joins the one-hot c to z); D(x) says real/fake and which class."""

    config_class = MyACGANConfig

    @property
    def discriminator_outputs(self) -> int:
        """Logits per image from D's head: 1 (real vs fake) + K (the classes)."""
        raise NotImplementedError("ToImplement: 1 + num_classes")

    def discriminate(self, x: Tensor) -> Critique:
        """Split D's (B, 1 + K) output into ``Critique(source=(B,) logits, classes=(B, K) logits)``."""
        raise NotImplementedError("ToImplement: Critique(out[:, 0], out[:, 1:])")

    def fake_labels(self, n: int) -> Tensor:
        """c ~ uniform over the K classes, shape (n,): ``torch.randint(K, (n,))`` (on the CPU, then to the device)."""
        raise NotImplementedError("ToImplement: torch.randint(num_classes, (n,))")

    def auxiliary_terms(self, critique: Critique, labels: Tensor | None, which: str) -> dict[str, Tensor]:
        """On the ``which`` ("real" or "fake") batch: ``class_<which>`` = -log P(C=c | X), the mean
        cross-entropy of the class *logits* (F.cross_entropy applies the softmax itself), and
        ``acc_<which>`` = the fraction of argmax predictions equal to the labels (a metric, detached)."""
        _ = (F, torch)
        raise NotImplementedError("ToImplement: cross-entropy of the class logits, and accuracy")

    def auxiliary_loss(self, terms: dict[str, Tensor], player: Player) -> Tensor:
        """What each player adds to its loss, times ``config.class_weight``:

        generator:      -log P(C=c | G(z, c))   = terms["class_fake"]
        discriminator:  -log P(C=c | x_real)    = terms["class_real"]  (vaegan's default: real images only)
        """
        raise NotImplementedError("ToImplement: class_fake for G, class_real for D, times class_weight")

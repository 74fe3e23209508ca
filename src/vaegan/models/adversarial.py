"""Adversarial losses shared by the GAN family and the CVAE-GAN (Goodfellow et al. 2014).

All of them take discriminator *logits* and use binary cross-entropy on logits,
which is exact and stable where sigmoid(logit) saturates at 0 or 1.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def discriminator_loss(real_logits: Tensor, fake_logits: Tensor, *, smoothing: float = 0.0) -> Tensor:
    """-[log D(x) + log(1 - D(G(z)))] averaged over the batch (Goodfellow et al. 2014, eq. 1).

    ``smoothing`` > 0 is one-sided label smoothing: real targets become 1 - smoothing,
    fake targets stay 0 (Salimans et al. 2016, section 3.4).
    """
    real = F.binary_cross_entropy_with_logits(real_logits, torch.full_like(real_logits, 1.0 - smoothing))
    fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return real + fake


def generator_loss(fake_logits: Tensor) -> Tensor:
    """Non-saturating generator loss -log D(G(z)) (Goodfellow et al. 2014, section 3)."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def probability(logits: Tensor) -> Tensor:
    """Mean D(.) as a probability, for the metrics D(x) and D(G(z))."""
    return torch.sigmoid(logits.detach().float()).mean()

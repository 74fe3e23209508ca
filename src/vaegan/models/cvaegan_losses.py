"""The feature-matching losses of CVAE-GAN (Bao et al. 2017), as small pure functions.

Features are a network's activations before its head, shaped (B, F). Every
squared norm is summed over features and images are averaged over the batch,
as the paper's ``||.||_2^2`` terms read. Each is taken in float32: under bf16
autocast the features come in bf16, and the difference of two nearly equal
bf16 means keeps about two digits, lost just when the generator is good.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from vaegan.models.adversarial import discriminator_loss


def pairwise_feature_matching(real: Tensor, fake: Tensor) -> Tensor:
    """1/2 ||f(x) - f(x')||^2 per pair, averaged over the batch: (B, F), (B, F) -> ().

    The feature terms of L_G (Bao et al. 2017, sec. 3.3, eq. 6): a reconstruction
    x' must match its own original x in the discriminator's and classifier's features.
    """
    return 0.5 * (real.float() - fake.float()).pow(2).sum(1).mean()


def mean_feature_matching(real: Tensor, fake: Tensor) -> Tensor:
    """1/2 ||mean_i f(x_i) - mean_j f(G(z_j))||^2: (B, F), (B', F) -> ().

    L_GD (Bao et al. 2017, sec. 3.1, eq. 2): the generator matches the *centre*
    of the real features, not the discriminator's verdict (the asymmetric loss).
    """
    return 0.5 * (real.float().mean(0) - fake.float().mean(0)).pow(2).sum()


def class_mean_feature_matching(
    real: Tensor, fake: Tensor, real_labels: Tensor, fake_labels: Tensor, num_classes: int
) -> Tensor:
    """1/2 sum_c ||mean f(x | c) - mean f(G(z, c))||^2 over the classes present in both: () .

    L_GC (Bao et al. 2017, sec. 3.2, eq. 4): per-class feature centres of the
    classifier must agree. real (B, F) with real_labels (B,); fake (B', F) with fake_labels (B',).
    """
    k, real, fake = num_classes, real.float(), fake.float()
    one_real = F.one_hot(real_labels.long(), k).to(real.dtype)  # (B, K)
    one_fake = F.one_hot(fake_labels.long(), k).to(fake.dtype)  # (B', K)
    n_real, n_fake = one_real.sum(0), one_fake.sum(0)  # (K,) images per class
    centre_real = one_real.T @ real / n_real.clamp(min=1).unsqueeze(1)  # (K, F)
    centre_fake = one_fake.T @ fake / n_fake.clamp(min=1).unsqueeze(1)  # (K, F)
    present = (n_real > 0) & (n_fake > 0)  # (K,)
    return 0.5 * (centre_real - centre_fake)[present].pow(2).sum()


def three_way_discriminator_loss(real: Tensor, recon: Tensor, prior: Tensor, *, smoothing: float = 0.0) -> Tensor:
    """-[log D(x) + log(1 - D(x')) + log(1 - D(x_p))]: logits (B, 1) each -> ().

    L_D of Bao et al. 2017 (Algorithm 1): reconstructions x' = G(E(x), c) and
    prior samples x_p = G(z_p, c) are both fakes (Goodfellow et al. 2014, eq. 1).
    """
    prior_term = F.binary_cross_entropy_with_logits(prior, torch.zeros_like(prior))
    return discriminator_loss(real, recon, smoothing=smoothing) + prior_term

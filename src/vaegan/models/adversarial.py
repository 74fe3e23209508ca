"""Adversarial losses and helpers shared by the GAN family and the CVAE-GAN (Goodfellow et al. 2014).

All the losses take discriminator *logits* and use binary cross-entropy on logits,
which is exact and stable where sigmoid(logit) saturates at 0 or 1.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from pydantic import PositiveInt
from torch import Tensor, nn

from vaegan.networks.config import NetworkConfig

# the activations any network accepts, so the discriminator's choices never drift from them
Activation = NetworkConfig.model_fields["activation"].annotation


class DiscriminatorConfig(NetworkConfig):
    """A DCGAN discriminator: leaky ReLU, conv stages straight into the head (Radford et al. 2016).

    Its own defaults mean ``model.discriminator.channels=[32, 64]`` changes only the channels.
    """

    channels: tuple[PositiveInt, ...] = (32, 64)
    hidden: tuple[PositiveInt, ...] = ()
    activation: Activation = "leaky_relu"


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


def dcgan_init(module: nn.Module) -> None:
    """Weights ~ N(0, 0.02), batch-norm scales ~ N(1, 0.02), biases 0 (Radford et al. 2016, section 4).

    Use as ``network.apply(dcgan_init)``.
    """
    if isinstance(module, nn.Linear | nn.modules.conv._ConvNd):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.modules.batchnorm._BatchNorm | nn.modules.instancenorm._InstanceNorm):
        if module.weight is not None:
            nn.init.normal_(module.weight, 1.0, 0.02)
            nn.init.zeros_(module.bias)


@contextmanager
def frozen(module: nn.Module) -> Iterator[nn.Module]:
    """Turn off gradients for ``module``'s parameters inside the block (restored after).

    The generator's step backpropagates *through* the discriminator but must not
    compute (or leave behind) gradients for its weights.
    """
    flags = [p.requires_grad for p in module.parameters()]
    module.requires_grad_(False)
    try:
        yield module
    finally:
        for p, flag in zip(module.parameters(), flags):
            p.requires_grad_(flag)

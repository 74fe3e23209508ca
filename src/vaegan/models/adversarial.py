"""Adversarial objectives and helpers shared by the GAN family and the CVAE-GAN.

An :class:`AdversarialObjective` is a strategy: how the critic scores real
against fake images, and how the generator answers. The GAN is composed with
one (:class:`NonSaturating`, Goodfellow et al. 2014; :class:`WassersteinGP`,
Gulrajani et al. 2017), so a new objective is a small class, not a copy of
the GAN's training step. The cross-entropy losses take discriminator *logits*,
exact and stable where sigmoid(logit) saturates at 0 or 1.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from pydantic import PositiveInt
from torch import Tensor, nn

from vaegan.networks.config import Activation, HiddenForMLP


class DiscriminatorConfig(HiddenForMLP):
    """A DCGAN discriminator: leaky ReLU, conv stages straight into the head (Radford et al. 2016).

    Its own defaults mean ``model.discriminator.channels=[32, 64]`` changes only the channels.
    """

    role = "discriminator"
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


Critic = Callable[[Tensor], Tensor]  # images (B, C, *S) -> scores (B,)


class AdversarialObjective:
    """How the two players of a GAN score each other (a strategy the GAN family is composed with)."""

    critic_steps: int = 1  # critic updates per generator update
    units: ClassVar[dict[str, str | None]] = {}  # of its logged terms, where not nats per image (curves)
    second_order: ClassVar[bool] = False  # its critic loss differentiates the critic's gradient

    def critic_terms(self, real: Tensor, fake: Tensor, critic: Critic, real_scores: Tensor, fake_scores: Tensor):
        """The critic's loss under ``"d_loss"`` and named metrics, from its scores (B,) of real and fake."""
        raise NotImplementedError

    def generator_loss(self, fake_scores: Tensor) -> Tensor:
        """The generator's loss from the critic's scores (B,) of its fakes."""
        raise NotImplementedError


@dataclass
class NonSaturating(AdversarialObjective):
    """D minimises -[log D(x) + log(1 - D(G(z)))]; G minimises -log D(G(z)) (Goodfellow et al. 2014)."""

    smoothing: float = 0.0

    def critic_terms(self, real, fake, critic, real_scores, fake_scores) -> dict[str, Tensor]:
        return {
            "d_loss": discriminator_loss(real_scores, fake_scores, smoothing=self.smoothing),
            "d_real": probability(real_scores),  # mean D(x)
            "d_fake": probability(fake_scores),  # mean D(G(z))
        }

    def generator_loss(self, fake_scores: Tensor) -> Tensor:
        return generator_loss(fake_scores)


@dataclass
class WassersteinGP(AdversarialObjective):
    """The critic estimates the Wasserstein-1 distance, kept 1-Lipschitz by a gradient penalty.

    L_critic = E[D(G(z))] - E[D(x)] + lambda * E[(||grad D(x_hat)||_2 - 1)^2], with x_hat on
    straight lines between real and fake images; L_G = -E[D(G(z))] (Gulrajani et al. 2017,
    Algorithm 1, lambda = 10, n_critic = 5). The penalty is taken per image, so the critic
    must not normalise over the batch (no batch norm, section 4 of the paper).
    """

    gp_weight: float = 10.0
    critic_steps: int = 5
    second_order: ClassVar[bool] = True  # the gradient penalty
    units: ClassVar[dict[str, str | None]] = {
        "d_loss": "critic score",  # -(W estimate) + lambda * penalty
        "g_loss": "critic score",
        "wasserstein": "critic score",
    }

    def critic_terms(self, real, fake, critic, real_scores, fake_scores) -> dict[str, Tensor]:
        distance = real_scores.float().mean() - fake_scores.float().mean()  # the Wasserstein estimate
        penalty = gradient_penalty(critic, real, fake)
        d_loss = -distance + self.gp_weight * penalty
        return {"d_loss": d_loss, "wasserstein": distance.detach(), "gp": penalty.detach()}

    def generator_loss(self, fake_scores: Tensor) -> Tensor:
        return -fake_scores.float().mean()


def gradient_penalty(critic: Critic, real: Tensor, fake: Tensor) -> Tensor:
    """E[(||grad_x D(x_hat)||_2 - 1)^2] at x_hat = eps x + (1 - eps) G(z), eps ~ U[0, 1] per image.

    Differentiable (a second-order graph) when gradients are on; also computed,
    as a metric, inside ``torch.no_grad()`` (validation).
    """
    differentiable = torch.is_grad_enabled()
    eps = torch.rand(len(real), *([1] * (real.dim() - 1)), device=real.device, dtype=real.dtype)  # (B, 1, ...)
    between = (eps * real.detach() + (1.0 - eps) * fake.detach()).requires_grad_(True)
    with torch.enable_grad():
        scores = critic(between)
        (grad,) = torch.autograd.grad(scores.float().sum(), between, create_graph=differentiable)
    return (grad.flatten(1).float().norm(2, dim=1) - 1.0).pow(2).mean()


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

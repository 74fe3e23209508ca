"""Decoder likelihoods p(x|z): how a decoder's output scores an image and becomes one.

A decoder emits ``params_per_channel * C`` channels; the likelihood turns them
into a log-probability per image (summed over pixels, in nats) and into a mean
image in [0, 1] for display.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vaegan.models.distributions import LOG_2PI


def _per_image(values: Tensor) -> Tensor:
    return values.flatten(1).sum(1)  # (B, ...) -> (B,)


class Likelihood(nn.Module):
    """Base class; ``log_prob(out, x) -> (B,)``, ``mean(out) -> images``."""

    params_per_channel = 1
    continuous = False

    def log_prob(self, out: Tensor, x: Tensor) -> Tensor:
        raise NotImplementedError

    def mean(self, out: Tensor) -> Tensor:
        raise NotImplementedError


class Bernoulli(Likelihood):
    """Pixels as independent Bernoulli variables; the decoder emits logits."""

    def log_prob(self, out: Tensor, x: Tensor) -> Tensor:
        # on logits, not on sigmoid outputs: exact and stable where p is near 0 or 1
        return -_per_image(F.binary_cross_entropy_with_logits(out, x, reduction="none"))

    def mean(self, out: Tensor) -> Tensor:
        return torch.sigmoid(out)


class Gaussian(Likelihood):
    """N(x; sigmoid(out), sigma^2) with a fixed sigma."""

    continuous = True

    def __init__(self, sigma: float):
        super().__init__()
        self.sigma = sigma

    def log_prob(self, out: Tensor, x: Tensor) -> Tensor:
        # in float32: under bf16 autocast the sigmoid would round the mean to 1/256 before x - mean
        z = (x - torch.sigmoid(out.float())) / self.sigma
        return -_per_image(0.5 * z.pow(2) + math.log(self.sigma) + 0.5 * LOG_2PI)

    def mean(self, out: Tensor) -> Tensor:
        return torch.sigmoid(out)


class LearnedGaussian(Likelihood):
    """N(x; mean, sigma^2) with a per-pixel sigma that the decoder predicts.

    The decoder's first C channels are the mean (through a sigmoid), the next C
    the scale; sigma = min_sigma + softplus(raw) keeps the density bounded on
    pixels that never vary (MNIST's background), where it would otherwise collapse.
    """

    params_per_channel = 2
    continuous = True

    def __init__(self, min_sigma: float):
        super().__init__()
        self.min_sigma = min_sigma

    def log_prob(self, out: Tensor, x: Tensor) -> Tensor:
        mean_raw, scale_raw = out.float().chunk(2, dim=1)  # float32, as Gaussian.log_prob
        sigma = self.min_sigma + F.softplus(scale_raw)
        z = (x - torch.sigmoid(mean_raw)) / sigma
        return -_per_image(0.5 * z.pow(2) + sigma.log() + 0.5 * LOG_2PI)

    def mean(self, out: Tensor) -> Tensor:
        return torch.sigmoid(out.chunk(2, dim=1)[0])


def build_likelihood(kind: str, *, sigma: float, min_sigma: float) -> Likelihood:
    if kind == "bernoulli":
        return Bernoulli()
    if kind == "gaussian":
        return Gaussian(sigma)
    return LearnedGaussian(min_sigma)

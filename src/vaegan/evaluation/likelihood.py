"""Test-set likelihood of models that estimate log p(x): the ELBO and the importance-weighted bound.

Any model with a ``log_likelihood(x, labels, *, k)`` method qualifies (the VAE
family). With k = 1 that estimate is one draw of the ELBO (Burda et al. 2015,
eq. 8 with a single sample), so both numbers come from the same method and
ELBO <= IWAE_k <= log p(x) holds in expectation.

Example:
    >>> vae = VAE(VAEConfig(latent_dim=2))  # doctest: +SKIP
    >>> likelihood_metrics(vae, test.images[:100], test.labels[:100], k=50)  # doctest: +SKIP
    {'nll': 120.3, 'neg_elbo': 125.9}
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from vaegan.models.base import GenerativeModel

__all__ = ["bits_per_dim", "likelihood_metrics"]


@torch.no_grad()
def _mean_log_likelihood(
    model: GenerativeModel, images: Tensor, labels: Tensor | None, *, k: int, batch_size: int
) -> float:
    """Mean over images of the k-sample importance-weighted log p(x), nats per image."""
    total = 0.0
    for start in range(0, len(images), batch_size):
        x = images[start : start + batch_size].to(model.device)
        y = None if labels is None else labels[start : start + batch_size].to(model.device)
        total += float(model.log_likelihood(x, y, k=k).sum())
    return total / len(images)


def likelihood_metrics(
    model: GenerativeModel,
    images: Tensor,
    labels: Tensor | None = None,
    *,
    k: int = 5000,
    batch_size: int = 100,
    seed: int = 0,
) -> dict[str, float]:
    """Negative ELBO and importance-weighted negative log-likelihood on ``images``.

    Args:
        model: a model with ``log_likelihood`` (``model.probabilistic``).
        images: (N, C, *S) test images, as the model was trained on them
            (binarised if it was trained on binarised data).
        labels: (N,) classes, passed on to conditional models.
        k: importance samples per image for the NLL.
        batch_size: images per call; the model chunks the k samples itself.
        seed: seed of the posterior draws, so repeated evaluations agree.

    Returns:
        ``{"nll": -log p(x) (IWAE_k), "neg_elbo": -ELBO}``, both in nats per image.
    """
    model.eval()
    labels = labels if model.conditional else None
    devices = [model.device] if model.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        elbo = _mean_log_likelihood(model, images, labels, k=1, batch_size=batch_size)
        iwae = _mean_log_likelihood(model, images, labels, k=k, batch_size=batch_size)
    return {"nll": -iwae, "neg_elbo": -elbo}


def bits_per_dim(nll_nats: float, image_shape: tuple[int, ...]) -> float:
    """A continuous density on [0, 1] pixels as bits per dimension of 8-bit images.

    Rescaling x in [0, 1] to [0, 256) divides the density by 256 per pixel, so
    bits/dim = nll / (D ln 2) + 8 (the convention of Theis et al. 2016, sec. 3.1).
    """
    dims = math.prod(image_shape)
    return nll_nats / (dims * math.log(2)) + 8.0

"""Test-set likelihood, reported only where it is one: which protocol applies, and the estimates.

A Bernoulli decoder is a density over *binary* images: scored on grey levels
in [0, 1] it does not integrate to 1 (its mass there is 0.24 to 0.5 per pixel),
so "NLL" would be off by hundreds of nats. The protocols:

- ``binary``: a Bernoulli decoder trained with ``data.binarize`` (dynamic
  binarisation, the literature's protocol) is scored on the test set
  binarised once with a fixed seed; one trained on data that is binary
  already (masks: every value 0 or 1) on the test images as they are.
- ``dequantized``: a continuous decoder on 8-bit images is scored on
  y = (v + u) / 256, u ~ U[0, 1)^D (Theis et al. 2016, sec. 3.1), which bounds
  the NLL of the 256-level data: -log P(v) <= -E_u log p(y) + D log 256;
  ``nll`` is that bound in nats, ``bits_per_dim`` the same per dimension in bits.
- ``density``: a continuous decoder on float intensities (MRI) gets its
  density value -log p(x), named ``nll_density`` (and ``neg_elbo_density``, and so on: every
  figure of this protocol ends in ``_density``); no bits/dim (nothing is quantised).
- otherwise no likelihood at all, and one line says why (a Bernoulli decoder on grey levels; a
  continuous one trained with ``data.binarize``, which modelled binary images, not the grey test images).

The estimates are the k-sample importance-weighted bound (Burda et al. 2015,
eq. 8) and, with k = 1, the ELBO. For conditional models the estimate is
-log p(x|y) (``nll_given_label``); the marginal -log p(x) = -log sum_y p(x|y) p(y),
with the class prior of the training labels, is ``nll``, comparable with a VAE's.

Example:
    >>> protocol = likelihood_protocol(vae, test.images, binarize=True)  # doctest: +SKIP
    >>> likelihood_metrics(vae, protocol.prepare(test.images, seed=0), k=50)  # doctest: +SKIP
    {'nll': 97.1, 'neg_elbo': 101.9}
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from typing import Literal

import torch
from torch import Tensor
from tqdm import tqdm

from vaegan.models.base import GenerativeModel

__all__ = ["LikelihoodProtocol", "bits_per_dim", "is_8bit", "is_binary", "likelihood_metrics", "likelihood_protocol"]


def is_8bit(images: Tensor) -> bool:
    """True when every value is one of the 256 levels v / 255 (MNIST, PNGs); False for float intensities."""
    scaled = images.float() * 255.0
    return bool(((scaled - scaled.round()).abs() < 1e-3).all()) and bool(images.min() >= 0 and images.max() <= 1)


def is_binary(images: Tensor) -> bool:
    """True when every value is exactly 0 or 1 (masks, binarised digits)."""
    return bool(((images == 0) | (images == 1)).all())


@dataclass(frozen=True)
class LikelihoodProtocol:
    """How a run's test likelihood is measured, or why it is not (``kind`` None, ``reason`` says why)."""

    kind: Literal["binary", "dequantized", "density"] | None
    reason: str

    def prepare(self, images: Tensor, seed: int) -> Tensor:
        """The test images as this protocol scores them, drawn with a fixed seed."""
        generator = torch.Generator().manual_seed(seed)
        if self.kind == "binary":
            return torch.bernoulli(images.float(), generator=generator)
        if self.kind == "dequantized":
            levels = (images.float() * 255.0).round()  # v in {0, ..., 255}
            return (levels + torch.rand(images.shape, generator=generator)) / 256.0
        return images


def likelihood_protocol(model: GenerativeModel, images: Tensor, *, binarize: bool) -> LikelihoodProtocol:
    """Which likelihood is valid for ``model`` on these test images (see the module docstring)."""
    if not model.probabilistic:
        return LikelihoodProtocol(None, f"no likelihood: {model.name} has no posterior to estimate log p(x) with")
    if not model.likelihood.continuous:
        if binarize:
            return LikelihoodProtocol("binary", "Bernoulli decoder on the test set binarised once (seeded)")
        if is_binary(images):  # masks: binary already, without data.binarize
            return LikelihoodProtocol("binary", "Bernoulli decoder on binary test images")
        return LikelihoodProtocol(
            None,
            "no likelihood: the Bernoulli decoder was trained on grey levels, where its density does not integrate "
            "to 1; train with data.binarize=true (dynamic binarisation) for an NLL on binarised test images",
        )
    if binarize:  # it modelled binary images: a density on grey ones (dequantised or not) scores unseen data
        decoder = getattr(model.config, "likelihood", "continuous")
        return LikelihoodProtocol(
            None,
            f"no likelihood: the {decoder} decoder was trained with data.binarize=true on binarised images, and its "
            "density on the grey-level test images is no likelihood of the data it modelled; train with "
            "data.binarize=false for an NLL",
        )
    if is_8bit(images):
        return LikelihoodProtocol("dequantized", "continuous decoder on uniformly dequantised 8-bit images")
    return LikelihoodProtocol("density", "continuous density on float intensities (not quantised: no bits/dim)")


def _log_likelihoods(
    model: GenerativeModel, images: Tensor, labels: Tensor | None, *, k: int, batch: int, bar: tqdm
) -> Tensor:
    """Per-image k-sample importance-weighted log p(x) (or log p(x|y)), shape (N,), in nats."""
    out = []
    for start in range(0, len(images), batch):
        x = images[start : start + batch].to(model.device, torch.float32)
        y = None if labels is None else labels[start : start + batch].to(model.device)
        out.append(model.log_likelihood(x, y, k=k).double().cpu())
        bar.update(len(x) * k)
    return torch.cat(out)


def likelihood_metrics(
    model: GenerativeModel,
    images: Tensor,
    labels: Tensor | None = None,
    *,
    class_prior: Tensor | None = None,
    k: int = 5000,
    batch_size: int = 100,
    seed: int = 0,
    progress: bool = False,
) -> dict[str, float]:
    """Negative ELBO and importance-weighted NLL of ``images``, nats per image.

    Args:
        model: a probabilistic model (``log_likelihood``).
        images: (N, C, *S) test images, already prepared by the run's protocol.
        labels: (N,) classes, for conditional models.
        class_prior: (K,) p(y) for the marginal of a conditional model (default uniform).
        k: importance samples per image.
        batch_size: images per call; the model chunks the k samples itself.
        seed: seed of the posterior draws, so repeated evaluations agree.
        progress: a bar counting decoder passes, with the time left (k * N per class: slow for large
            images on a CPU, e.g. about 80 minutes for 680 64^2 MRI slices at k = 5000 on 2 cores).

    Returns:
        ``{"nll", "neg_elbo"}`` for an unconditional model; for a conditional one ``{"nll",
        "nll_given_label", "neg_elbo_given_label"}``: its ``nll`` is the marginal over classes, the
        other two are -log p(x|y) and its bound (a marginal ELBO would need q(y|x), which it has not).
    """
    if model.conditional and labels is None:
        raise ValueError(f"{model.name} is conditional: pass the test labels to score -log p(x|y)")
    classes = model.config.num_classes if model.conditional else 1
    total = len(images) * (1 + k * classes)  # decoder passes: the ELBO's one per image, then k per class
    devices = [model.device] if model.device.type == "cuda" else []
    with (
        torch.random.fork_rng(devices=devices),
        tqdm(
            total=total, desc=f"NLL, k={k}", unit="decodes", unit_scale=True, disable=not progress, leave=False
        ) as bar,
    ):
        torch.manual_seed(seed)
        score = partial(_log_likelihoods, model, images, batch=batch_size, bar=bar)
        if not model.conditional:
            elbo, iwae = score(None, k=1), score(None, k=k)
            return {"nll": -float(iwae.mean()), "neg_elbo": -float(elbo.mean())}
        prior = torch.full((classes,), 1.0 / classes) if class_prior is None else class_prior.double()
        elbo = score(labels, k=1)
        per_class = torch.stack([score(torch.full_like(labels, c), k=k) for c in range(classes)])  # (K, N)
    given = per_class.gather(0, labels.long().view(1, -1)).squeeze(0)  # (N,) log p(x | its own y)
    marginal = torch.logsumexp(per_class + prior.log().unsqueeze(1), dim=0)  # (N,) log sum_y p(x|y) p(y)
    return {
        "nll": -float(marginal.mean()),
        "nll_given_label": -float(given.mean()),
        "neg_elbo_given_label": -float(elbo.mean()),
    }


def bits_per_dim(nll_nats: float, image_shape: tuple[int, ...]) -> float:
    """An NLL in nats per image of discrete data as bits per dimension: nll / (D ln 2)."""
    return nll_nats / (math.prod(image_shape) * math.log(2))

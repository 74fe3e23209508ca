"""A model's latent codes, read through its capabilities only (never its name).

- ``has_encoder``: codes come from encoding images; otherwise from the prior.
- ``probabilistic``: a posterior, so dimensions can be ranked by their KL to
  the prior and swept in prior standard deviations.
- ``conditional``: every decode and encode takes class labels; ``soft_labels``:
  they may be class weights, so classes can be mixed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import Tensor

from vaegan.data import ImageDataset
from vaegan.foundation.errors import VaeganError
from vaegan.models.base import GenerativeModel


@dataclass
class LatentCodes:
    """Codes of a subsample of a dataset.

    Attributes:
        codes: (N, D) encoder outputs (a VAE's posterior means).
        labels: (N,) class indices.
        images: (N, C, *S) the images encoded.
        kl: (N, D) per-dimension KL(q(z|x) || N(0, I)) in nats, or None for a deterministic code.

    Example:
        >>> codes = encode_dataset(vae, splits.test, n=500)  # doctest: +SKIP
        >>> codes.codes.shape, codes.kl.mean(0).argmax()  # the busiest dimension  # doctest: +SKIP
        (torch.Size([500, 16]), tensor(3))
    """

    codes: Tensor
    labels: Tensor
    images: Tensor
    kl: Tensor | None = None


@contextmanager
def evaluating(model: GenerativeModel) -> Iterator[GenerativeModel]:
    """Eval mode and no gradients inside; the previous mode restored after."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        model.train(was_training)


def subsample(dataset: ImageDataset, n: int, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Up to ``n`` seeded random images (n, C, *S) and labels (n,) from ``dataset``, in file order."""
    if len(dataset) <= n:
        return dataset.images, dataset.labels
    index = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))[:n].sort().values
    return dataset.images[index], dataset.labels[index]


def labels_or_none(model: GenerativeModel, labels: Tensor) -> Tensor | None:
    """The labels on the model's device for a conditional model; None for an unconditional one."""
    return labels.to(model.device) if model.conditional else None


def encode_dataset(
    model: GenerativeModel, dataset: ImageDataset, n: int = 2000, *, seed: int = 0, chunk: int = 500
) -> LatentCodes:
    """Encode up to ``n`` images of ``dataset`` (``chunk`` at a time: fewer for 64^3 volumes) with a model
    that has an encoder."""
    if not model.has_encoder:
        raise ValueError(f"{type(model).__name__} has no encoder; its codes come from the prior")
    images, labels = subsample(dataset, n, seed)
    codes, kls = [], []
    with evaluating(model):
        for start in range(0, len(images), chunk):
            x = images[start : start + chunk].to(model.device, torch.float32)
            y = labels_or_none(model, labels[start : start + chunk])
            if model.probabilistic:
                q = model.posterior(x, y)
                kls.append(q.kl_per_dim().cpu())  # (B, D)
                codes.append(q.mean.cpu())
            else:
                codes.append(model.encode(x, y).cpu())
    return LatentCodes(torch.cat(codes), labels, images, torch.cat(kls) if kls else None)


def rank_dimensions(model: GenerativeModel, codes: LatentCodes | None, k: int) -> tuple[list[int], list[str]]:
    """The ``k`` most informative latent dimensions and a label for each.

    By mean KL for a probabilistic code (inactive dimensions carry ~0 nats), by
    the codes' variance for a deterministic one, in index order without an encoder.
    """
    d = model.config.latent_dim
    k = max(1, min(k, d))
    if codes is not None and codes.kl is not None:
        score = codes.kl.mean(0)
        order = score.argsort(descending=True)[:k].tolist()
        return order, [f"z{i} (KL {score[i]:.2f} nats)" for i in order]
    if codes is not None:
        score = codes.codes.var(0)
        order = score.argsort(descending=True)[:k].tolist()
        return order, [f"z{i} (var {score[i]:.2g})" for i in order]
    return list(range(k)), [f"z{i}" for i in range(k)]


def sweep_scale(model: GenerativeModel, codes: LatentCodes | None, split: str = "test") -> tuple[Tensor, str]:
    """Per-dimension step unit (D,) and its name: prior sd where codes have a prior, else the sd of the
    codes (of the ``split`` images encoded)."""
    if codes is None or codes.kl is not None:
        return torch.ones(model.config.latent_dim), "prior sd"
    return codes.codes.std(0).clamp_min(1e-6), f"sd of {split} codes"


@dataclass
class CodeDensity:
    """A Gaussian fitted to the codes of training images, one per class: a sampler for a model whose
    codes do not fill its N(0, I) prior (ex-post density estimation, Ghosh et al. 2020).

    The shipped 64^3 cVAE's prior draws decode to near-black volumes (mean intensity 0.01 against the
    data's 0.20) while its reconstructions are sharp: its 136 training codes sit apart from the prior.
    Draws from this density decode to brains. The model's own density (its NLL) is still the prior's.

    Attributes:
        means: (K, D), one row per class (K = 1 for an unconditional model).
        factors: (K, D, D) Cholesky factors of the Ledoit-Wolf shrunk covariances (fewer codes than
            dimensions still give a proper Gaussian).
    """

    means: Tensor
    factors: Tensor

    def sample(self, labels: Tensor | None, n: int | None = None, *, generator: torch.Generator) -> Tensor:
        """(N, D) codes on the CPU: one per label from its class's Gaussian, or ``n`` from the only one."""
        rows = labels.long().cpu() if labels is not None else torch.zeros(n or 0, dtype=torch.long)
        noise = torch.randn(len(rows), self.means.shape[1], generator=generator, dtype=self.means.dtype)
        codes = self.means[rows].clone()
        for k in rows.unique().tolist():  # per class, not a (N, D, D) gather of factors: 13 GB at N 1e5, D 128
            at = rows == k
            codes[at] += noise[at] @ self.factors[k].T
        return codes


def fit_code_density(model: GenerativeModel, dataset: ImageDataset, *, chunk: int = 16) -> CodeDensity:
    """Fit :class:`CodeDensity` to the codes (``model.encode``) of every image of ``dataset``, per class
    for a conditional model (each image encoded with its own label)."""
    from sklearn.covariance import LedoitWolf

    codes = encode_dataset(model, dataset, len(dataset), chunk=chunk).codes.double()  # every image, file order
    everyone = [torch.ones(len(dataset), dtype=torch.bool)]
    groups = [dataset.labels == c for c in range(model.config.num_classes)] if model.conditional else everyone
    means, factors = [], []
    for index, rows in enumerate(groups):
        picked = codes[rows]
        if len(picked) < 2:
            which = f"class {index}" if model.conditional else "the set"
            raise VaeganError(
                f"{dataset.name}: {which} has {len(picked)} image(s); a Gaussian of its codes needs at least 2"
            )
        covariance = torch.from_numpy(LedoitWolf().fit(picked.numpy()).covariance_)
        means.append(picked.mean(0))
        factors.append(torch.linalg.cholesky(covariance + 1e-9 * torch.eye(len(covariance), dtype=torch.float64)))
    return CodeDensity(torch.stack(means).float(), torch.stack(factors).float())


def prior_codes(model: GenerativeModel, n: int, seed: int = 0) -> Tensor:
    """``n`` seeded draws from the model's prior, shape (n, D), on the CPU."""
    return model.prior_noise(n, torch.Generator().manual_seed(seed)).cpu()


def decode(model: GenerativeModel, z: Tensor, labels: Tensor | None = None, chunk: int = 500) -> Tensor:
    """Images in [0, 1] (N, C, *S) on the CPU from codes (N, D); labels (N,) for conditional models.

    Labels may also be soft, (N, K) class weights, for models with ``soft_labels``.
    """
    if model.conditional and labels is None:
        raise ValueError(f"{type(model).__name__} is conditional: pass labels to decode")
    out = []
    with evaluating(model):
        for start in range(0, len(z), chunk):
            y = None if labels is None or not model.conditional else labels[start : start + chunk].to(model.device)
            out.append(model.generate(z[start : start + chunk].to(model.device), y).float().cpu())
    return torch.cat(out)

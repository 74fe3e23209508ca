"""Drawing the generated images that the sample-quality metrics judge, reproducibly.

Conditional models are asked for the class labels of the real test set (so
real and generated sets hold the classes in the same proportions); the others
draw ``n`` images. Codes come from the prior, or from a
:class:`~vaegan.visualization.codes.CodeDensity` fitted to the training images'
codes (ex-post density estimation, for a model whose codes do not fill its prior).

Example:
    >>> images, labels = draw_samples(model, 1000, class_labels=test.labels, seed=0)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from vaegan.models.base import GenerativeModel
from vaegan.visualization.codes import CodeDensity, decode

__all__ = ["Samples", "class_labels_for", "draw_samples"]


class Samples(NamedTuple):
    """Generated images (N, C, *S) on the CPU and, for conditional models, their labels (N,)."""

    images: Tensor
    labels: Tensor | None


def class_labels_for(class_labels: Tensor, n: int, seed: int = 0) -> Tensor:
    """``n`` labels holding the classes of ``class_labels`` in their proportions, to within one per class.

    Whole copies of ``class_labels`` come first, as they are; the remainder is split among the classes
    by largest remainder and shuffled (seeded). Cutting the labels to length ``n`` instead would ask for
    the first classes only where the test images come ordered, as MRI slices come subject by subject.
    """
    copies, rest = divmod(n, len(class_labels))
    classes, counts = torch.unique(class_labels, return_counts=True)
    quota = counts.double() * rest / len(class_labels)
    share = quota.floor().long()
    extra = torch.argsort(quota - share, descending=True, stable=True)[: rest - int(share.sum())]
    share[extra] += 1
    remainder = torch.repeat_interleave(classes, share)
    remainder = remainder[torch.randperm(rest, generator=torch.Generator().manual_seed(seed))]
    return torch.cat([class_labels.repeat(copies), remainder])


@torch.no_grad()
def draw_samples(
    model: GenerativeModel,
    n: int,
    *,
    class_labels: Tensor | None = None,
    seed: int = 0,
    batch_size: int = 1000,
    density: CodeDensity | None = None,
) -> Samples:
    """``n`` samples; a conditional model is asked for ``class_labels`` in their proportions (:func:`class_labels_for`).

    With a ``density``, each image decodes a code drawn from it (its class's Gaussian) instead of
    from the prior; the noise is seeded alike.

    Raises:
        ValueError: the model is conditional and no ``class_labels`` are given, or ``density`` was
            fitted to codes of another size.
    """
    if density is not None and density.means.shape[1] != model.config.latent_dim:
        raise ValueError(
            f"the code density has {density.means.shape[1]} dimensions, the model's latent code "
            f"{model.config.latent_dim}: fit it to this model's codes"
        )
    labels = None
    if model.conditional:
        if class_labels is None or len(class_labels) == 0:
            raise ValueError(f"{type(model).__name__} is conditional: pass class_labels to draw samples")
        labels = class_labels_for(class_labels.cpu(), n, seed)
    generator = torch.Generator().manual_seed(seed)  # CPU noise: the same samples on every device
    chunks = []
    for start in range(0, n, batch_size):
        size = min(batch_size, n - start)
        chunk_labels = None if labels is None else labels[start : start + size]
        if density is None:
            chunks.append(model.sample(size, chunk_labels, generator).float().cpu())
        else:
            chunks.append(decode(model, density.sample(chunk_labels, size, generator=generator), chunk_labels))
    return Samples(torch.cat(chunks), labels)

"""Image sharpness: the variance of the Laplacian, a no-reference focus measure.

Blur removes high spatial frequencies, so the discrete Laplacian (the sum of
second differences along every spatial axis) of a blurry image is small and
flat, and its variance low (Pech-Pacheco et al. 2000, "Diatom autofocusing in
brightfield microscopy"). Compare models against the same figure for real
images of the dataset: noise raises it too, so higher is better only up to
the real images' value.

Example:
    >>> images = torch.zeros(2, 1, 28, 28)
    >>> images[:, :, 10:18, 10:18] = 1.0  # a crisp square
    >>> crisp = laplacian_variance(images)
    >>> blurred = laplacian_variance(torch.nn.functional.avg_pool2d(images, 3, 1, 1))
    >>> bool((crisp > blurred).all())
    True
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["laplacian", "laplacian_variance", "sharpness"]


def laplacian(images: Tensor) -> Tensor:
    """Discrete Laplacian of (N, C, *S) images, 2-D or 3-D: (N, C, *(S - 2)), borders dropped.

    sum over axes of x[i-1] - 2 x[i] + x[i+1]: the 5-point stencil in 2-D, 7-point in 3-D.
    """
    spatial = images.shape[2:]
    if min(spatial, default=0) < 3:
        raise ValueError(f"laplacian: images need at least 3 pixels along every axis, got shape {tuple(images.shape)}")
    inner = [slice(1, size - 1) for size in spatial]
    out = -2.0 * len(spatial) * images[(..., *inner)]
    for axis, size in enumerate(spatial):
        for start in (0, 2):  # the neighbour before and after along this axis
            index = list(inner)
            index[axis] = slice(start, size - 2 + start)
            out = out + images[(..., *index)]
    return out


def laplacian_variance(images: Tensor) -> Tensor:
    """Per-image variance of the Laplacian, (N,): higher means sharper edges."""
    return laplacian(images.float()).flatten(1).var(dim=1)


@torch.no_grad()
def sharpness(images: Tensor, *, batch_size: int = 1000) -> float:
    """Mean Laplacian variance over a set of images (N, C, *S) in [0, 1]."""
    if len(images) == 0:
        raise ValueError("sharpness: no images to score")
    total = sum(float(laplacian_variance(images[i : i + batch_size]).sum()) for i in range(0, len(images), batch_size))
    return total / len(images)

"""benchmarks/ad_shape.py: a warp of the mean brain explains brains that are the mean brain moved."""

from __future__ import annotations

import torch

from benchmarks.ad_shape import warped_mean_explained


def blob(centre: torch.Tensor, size: int = 12) -> torch.Tensor:
    """(1, 1, size, size, size): a smooth ball at ``centre`` (voxels, from the middle)."""
    axis = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    z, y, x = torch.meshgrid(axis, axis, axis, indexing="ij")
    return torch.exp(-((z - centre[0]) ** 2 + (y - centre[1]) ** 2 + (x - centre[2]) ** 2) / 8.0).view(
        1, 1, size, size, size
    )


def test_brains_that_are_the_mean_moved_are_explained_and_noise_is_not():
    torch.manual_seed(0)
    mean = blob(torch.zeros(3))
    moved = torch.cat([blob(torch.tensor([0.0, 0.0, s])) for s in (-1.0, -0.5, 0.5, 1.0)])
    assert warped_mean_explained(mean, moved, grid=2, steps=200) > 0.9
    noise = mean + 0.1 * torch.randn(4, 1, 12, 12, 12)  # not a shape: a warp cannot draw it
    assert warped_mean_explained(mean, noise, grid=2, steps=200) < 0.1

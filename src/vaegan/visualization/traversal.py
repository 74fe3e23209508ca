"""Latent traversals (one dimension at a time) and the 2-D manifold grid of a generative model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from matplotlib.figure import Figure
from torch import Tensor

from vaegan.visualization.codes import decode
from vaegan.visualization.figures import grid_figure, show_grid

if TYPE_CHECKING:
    from vaegan.models.base import GenerativeModel


def traversal_codes(base: Tensor, dims: Sequence[int], offsets: Tensor, scale: Tensor) -> Tensor:
    """Codes that move one dimension at a time away from ``base``.

    Args:
        base: (D,) the code every row starts from.
        dims: the dimensions swept, one row each.
        offsets: (S,) steps in units of ``scale``, e.g. linspace(-3, 3, 9).
        scale: (D,) the unit of each dimension (1 for a N(0, I) prior).

    Returns:
        (len(dims) * S, D): row r, column s holds base + offsets[s] * scale[d_r] * e_{d_r}.
    """
    codes = base.expand(len(dims), len(offsets), len(base)).clone()  # (R, S, D)
    for row, dim in enumerate(dims):
        codes[row, :, dim] += offsets * scale[dim]
    return codes.flatten(0, 1)


def traversal_images(
    model: GenerativeModel,
    base: Tensor,
    dims: Sequence[int],
    offsets: Tensor,
    scale: Tensor,
    label: int | None = None,
) -> Tensor:
    """Decode :func:`traversal_codes`: (len(dims) * S, C, *S) images, with ``label`` for conditional models."""
    codes = traversal_codes(base, dims, offsets, scale)
    labels = None if label is None else torch.full((len(codes),), label, dtype=torch.long)
    return decode(model, codes, labels)


def plot_traversal(
    images: Tensor,
    offsets: Tensor,
    row_labels: Sequence[str],
    *,
    unit: str = "prior sd",
    title: str = "Latent traversal",
) -> Figure:
    """One row per swept dimension, one column per offset from the base code."""
    columns = len(offsets)
    fig, ax = grid_figure(images, columns, extra_inches=(2.8, 1.4))
    show_grid(ax, images, columns, column_labels=[f"{v:+.3g}" for v in offsets.tolist()], row_labels=row_labels)
    ax.set_xlabel(f"offset from the base code ({unit})")
    ax.set_ylabel("latent dimension swept")
    ax.set_title(title)
    return fig


def manifold_codes(axis_values: tuple[Tensor, Tensor]) -> Tensor:
    """The (n1 * n2, 2) grid of codes, rows from high z1 (top) to low, z0 left to right."""
    z0, z1 = axis_values
    rows = z1.flip(0)  # high values at the top, as on a plot's y axis
    return torch.stack(torch.meshgrid(rows, z0, indexing="ij")[::-1], dim=-1).reshape(-1, 2)


def gaussian_axis(n: int, coverage: float = 0.95) -> Tensor:
    """``n`` values spaced evenly in probability under N(0, 1) (Kingma & Welling 2014, fig. 4)."""
    tail = (1.0 - coverage) / 2
    return torch.distributions.Normal(0.0, 1.0).icdf(torch.linspace(tail, 1.0 - tail, n))


def plot_manifold(
    images: Tensor,
    axis_values: tuple[Tensor, Tensor],
    *,
    title: str = "2-D latent manifold",
    tick_every: int | None = None,
) -> Figure:
    """The decoded grid of :func:`manifold_codes`, its axes labelled in latent units."""
    z0, z1 = axis_values
    columns = len(z0)
    tick_every = tick_every or max(1, -(-columns // 8))  # at most 8 labels per axis, so they never overlap

    def labels(values: Sequence[float]) -> list[str]:
        return [f"{v:.2f}" if i % tick_every == 0 else "" for i, v in enumerate(values)]

    fig, ax = grid_figure(images, columns, cell_inches=0.5, extra_inches=(1.4, 1.2))
    show_grid(ax, images, columns, column_labels=labels(z0.tolist()), row_labels=labels(z1.flip(0).tolist()))
    ax.set_xlabel("z0")
    ax.set_ylabel("z1")
    ax.set_title(title)
    return fig

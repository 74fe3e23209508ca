"""Paths through latent space: between two codes (linear and spherical), and between classes."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from matplotlib.figure import Figure
from torch import Tensor

from vaegan.visualization.figures import grid_figure, show_grid


def lerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """Points (T, D) on the straight line from ``a`` (D,) to ``b`` (D,) at fractions ``t`` (T,)."""
    t = t[:, None]
    return (1 - t) * a + t * b


def slerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """Points (T, D) on the great circle from ``a`` to ``b`` (Shoemake 1985).

    For a Gaussian prior in many dimensions, nearly all mass lies near a sphere
    of radius sqrt(D); a straight line cuts through its low-density interior,
    the arc stays near it (White 2016, "Sampling generative networks").
    slerp(a, b; t) = sin((1 - t) w) / sin(w) a + sin(t w) / sin(w) b, cos(w) = a.b / (|a| |b|).
    """
    cos = torch.dot(a, b) / (a.norm() * b.norm()).clamp_min(1e-12)
    omega = torch.arccos(cos.clamp(-1.0, 1.0))
    if omega.abs() < 1e-4:  # (anti)parallel codes: the arc is the line
        return lerp(a, b, t)
    t = t[:, None]
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)


def class_mixtures(a: int, b: int, num_classes: int, t: Tensor) -> Tensor:
    """Soft labels (T, K) moving from one-hot class ``a`` to one-hot class ``b``."""
    eye = torch.eye(num_classes)
    return lerp(eye[a], eye[b], t)


def plot_interpolation(
    rows: Sequence[Tensor],
    row_labels: Sequence[str],
    t: Tensor,
    *,
    endpoints: tuple[Tensor, Tensor] | None = None,
    endpoint_labels: tuple[str, str] = ("image A", "image B"),
    title: str = "Interpolation",
    xlabel: str = "fraction t of the way from A to B",
    column_labels: Sequence[str] | None = None,
) -> Figure:
    """One row per path (each (T, C, *S) images); optional endpoint images framing every row.

    Columns are labelled by ``t`` (two decimals) unless ``column_labels`` names them (e.g. classes).
    """
    columns = len(t)
    labels = list(column_labels) if column_labels is not None else [f"{v:.2f}" for v in t.tolist()]
    tiles = []
    for images in rows:
        if endpoints is not None:
            images = torch.cat([endpoints[0][None], images, endpoints[1][None]])
        tiles.append(images)
    if endpoints is not None:
        columns += 2
        labels = [endpoint_labels[0], *labels, endpoint_labels[1]]
    grid = torch.cat(tiles)
    fig, ax = grid_figure(grid, columns, extra_inches=(2.0, 1.4))
    show_grid(ax, grid, columns, column_labels=labels, row_labels=row_labels)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    return fig

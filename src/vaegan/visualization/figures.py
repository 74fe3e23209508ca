"""Matplotlib helpers the latent-space figures share: an image grid on labelled axes, and saving."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.figure import Figure  # the object API: no pyplot state, works headless and in notebooks
from torch import Tensor

from vaegan.visualization.grids import make_grid

PADDING = 2  # pixels between tiles, as in make_grid


def tile_size(images: Tensor) -> tuple[int, int]:
    """(height, width) of one tile in make_grid's output; 3-D volumes become three slices side by side."""
    if images.dim() == 5:
        size = max(images.shape[-3:])
        return size, 3 * size
    return int(images.shape[-2]), int(images.shape[-1])


def grid_figure(
    images: Tensor,
    columns: int,
    *,
    cell_inches: float = 0.75,
    extra_inches: tuple[float, float] = (1.6, 1.2),
) -> tuple[Figure, Axes]:
    """A figure sized so each tile is about ``cell_inches`` tall, with room for tick labels and title."""
    rows = -(-len(images) // columns)
    h, w = tile_size(images)
    width = columns * cell_inches * w / h + extra_inches[0]
    height = rows * cell_inches + extra_inches[1]
    fig = Figure(figsize=(min(width, 18.0), min(height, 18.0)))
    return fig, fig.subplots()


def show_grid(
    ax: Axes,
    images: Tensor,
    columns: int,
    *,
    column_labels: Sequence[str] | None = None,
    row_labels: Sequence[str] | None = None,
) -> None:
    """Draw images (N, C, *S) in [0, 1] as one grid on ``ax``, ticks at the tile centres."""
    array = make_grid(images, columns, padding=PADDING)
    ax.imshow(array, cmap="gray" if array.ndim == 2 else None, vmin=0, vmax=255, interpolation="nearest")
    h, w = tile_size(images)
    rows = -(-len(images) // columns)
    ax.set_xticks([PADDING + i * (w + PADDING) + w / 2 for i in range(columns)])
    ax.set_yticks([PADDING + i * (h + PADDING) + h / 2 for i in range(rows)])
    ax.set_xticklabels(column_labels if column_labels is not None else [""] * columns)
    ax.set_yticklabels(row_labels if row_labels is not None else [""] * rows)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)


def save_figure(fig: Figure, path: str | Path, *, dpi: int = 110) -> Path:
    """Write ``fig`` as PNG (folders created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    return path

"""Matplotlib helpers the figures share: an image grid on labelled axes, a row of titled images, a run's grids, saving.

Example:
    >>> fig = image_row([(subject, "AD subject", "gray"), (loss, "tissue loss", "hot")])  # doctest: +SKIP
    >>> fig = epoch_grids("outputs/ad_cvae_2d", ["recons", "fakes"])  # doctest: +SKIP
    >>> fig = image_grid(model.sample(64), 8, "samples")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib.image
from matplotlib.axes import Axes
from matplotlib.figure import Figure  # the object API: no pyplot state, works headless and in notebooks
from torch import Tensor

from vaegan.foundation.files import atomic_write
from vaegan.visualization.grids import grid_files, make_grid

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


def image_grid(
    images: Tensor, columns: int, title: str = "", *, row_labels: Sequence[str] | None = None, cell_inches: float = 0.6
) -> Figure:
    """Images (N, C, *S) in [0, 1] as one titled grid, ``columns`` to a row: a figure a notebook shows as it is."""
    fig, ax = grid_figure(images, columns, cell_inches=cell_inches, extra_inches=(0.8, 0.6))
    show_grid(ax, images.detach().cpu(), columns, row_labels=row_labels)
    ax.set_title(title)
    return fig


def save_figure(fig: Figure, path: str | Path, *, dpi: int = 110) -> Path:
    """Write ``fig`` in the format its suffix names (PNG by default), atomically (folders created)."""
    path = Path(path)
    kind = path.suffix.lstrip(".") or "png"
    atomic_write(path, lambda tmp: fig.savefig(tmp, format=kind, dpi=dpi, bbox_inches="tight"))
    return path


DIVERGING = ("RdBu_r", "RdBu", "bwr", "seismic", "coolwarm", "cold_hot")  # drawn symmetric about 0


def image_row(panels: Sequence[tuple[Tensor, str, str]], *, inches: float = 3.5) -> Figure:
    """One row of 2-D images, each given as ``(image (H, W), title, colormap)``.

    ``gray`` images are intensities, drawn on [0, 1]; any other colormap draws
    a map on its own range with a colour bar, symmetric about 0 for a
    diverging colormap (:data:`DIVERGING`), so that 0 keeps its colour.
    """
    if not panels:
        raise ValueError("image_row: no panels; pass (image, title, colormap) tuples")
    widths = [inches * image.shape[-1] / image.shape[0] if image.dim() == 2 else inches for image, _, _ in panels]
    fig = Figure(figsize=(sum(widths) + 1.2 * sum(cmap != "gray" for _, _, cmap in panels), inches + 0.5))
    axes = fig.subplots(1, len(panels), squeeze=False, gridspec_kw={"width_ratios": widths})[0]
    for ax, (image, title, cmap) in zip(axes, panels):  # each panel as wide as its image's aspect asks
        if image.dim() != 2:
            raise ValueError(f"image_row: {title!r} has shape {tuple(image.shape)}; pass one 2-D image (H, W)")
        image = image.detach().float().cpu().numpy()
        if cmap == "gray":
            ax.imshow(image, cmap=cmap, vmin=0.0, vmax=1.0)
        else:
            peak = float(abs(image).max()) or 1.0
            limits = (-peak, peak) if cmap in DIVERGING else (None, None)
            fig.colorbar(ax.imshow(image, cmap=cmap, vmin=limits[0], vmax=limits[1]), ax=ax, shrink=0.8)
        ax.set_title(title)
        ax.axis("off")
    return fig


def epoch_grids(run: str | Path, names: Sequence[str], *, epoch: int | None = None, inches: float = 5.0) -> Figure:
    """The grids a run wrote at ``epoch`` (default: the last epoch with every one of ``names``), side by side.

    Args:
        run: a run folder, holding ``epochNNN_<name>.png`` from the grids callback.
        names: the grid kinds to show, e.g. ``["recons", "fakes", "analogies"]``.
    """
    files = grid_files(run)
    epochs = set.intersection(*(set(files.get(name, {})) for name in names)) if names else set()
    if epoch is None and epochs:
        epoch = max(epochs)
    if epoch not in epochs:
        at = f"epoch {epoch}" if epoch is not None else "any one epoch"
        raise FileNotFoundError(
            f"{run}: no grids {list(names)} at {at}; it holds {sorted(files) or 'no grids'} (train the run first)"
        )
    fig = Figure(figsize=(inches * len(names), inches))
    for ax, name in zip(fig.subplots(1, len(names), squeeze=False)[0], names):
        ax.imshow(matplotlib.image.imread(files[name][epoch]), cmap="gray", vmin=0.0, vmax=1.0)  # as saved
        ax.set_title(f"{name}, epoch {epoch}")
        ax.axis("off")
    return fig

"""Image grids: batches of 2-D images, or three orthogonal mid-slices of 3-D volumes; a run's grid files."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor

from vaegan.foundation.files import atomic_write

GRID_FILE = re.compile(r"epoch(\d+)_(.+)\.png$")  # RUN/epoch003_recons.png, as the grids callback names them


PAD_VALUE = 0.5  # the grey between and around a grid's tiles


def orthogonal_slices(volumes: Tensor) -> Tensor:
    """(N, C, D, H, W) -> (N, C, S, 3S): axial, coronal, sagittal mid-slices side by side."""
    n, c, d, h, w = volumes.shape
    size = max(d, h, w)
    views = [volumes[:, :, d // 2], volumes[:, :, :, h // 2], volumes[:, :, :, :, w // 2]]
    padded = []
    for view in views:
        canvas = volumes.new_zeros(n, c, size, size)
        vh, vw = view.shape[-2:]
        canvas[:, :, (size - vh) // 2 : (size - vh) // 2 + vh, (size - vw) // 2 : (size - vw) // 2 + vw] = view
        padded.append(canvas.flip(-2))  # put superior/anterior up
    return torch.cat(padded, dim=-1)


def make_grid(images: Tensor, columns: int, padding: int = 2, pad_value: float = PAD_VALUE) -> np.ndarray:
    """Tile (N, C, H, W) images in [0, 1] into one (rows*H, columns*W[, 3]) uint8 array."""
    images = images.detach().float().cpu().clamp(0, 1)
    if images.dim() == 5:
        images = orthogonal_slices(images)
    n, c, h, w = images.shape
    if c not in (1, 3):
        images, c = images[:, :1], 1  # show the first channel of multi-channel images
    rows = -(-n // columns)
    grid = torch.full((c, rows * (h + padding) + padding, columns * (w + padding) + padding), pad_value)
    for i in range(n):
        r, col = divmod(i, columns)
        top, left = padding + r * (h + padding), padding + col * (w + padding)
        grid[:, top : top + h, left : left + w] = images[i]
    array = (grid.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    return array[:, :, 0] if c == 1 else array


def save_grid(
    images: Tensor, path: str | Path, columns: int, *, min_size: int = 448, row_labels: list[str] | None = None
) -> Path:
    """Write a PNG grid, enlarged with nearest-neighbour steps so small digits stay legible.

    ``row_labels``: one name a row (a conditional model's classes), written in a white margin left of it.
    """
    array = make_grid(images, columns)
    image = Image.fromarray(array)
    scale = max(1, -(-min_size // max(image.size)))  # rounded up: a 242 px grid of digits doubles
    if scale > 1:
        image = image.resize((image.width * scale, image.height * scale), Image.NEAREST)
    if row_labels:
        image = labelled_rows(image, row_labels)
    path = Path(path)
    atomic_write(path, lambda tmp: image.save(tmp, format="PNG"))  # a grid is never left half-written
    return path


def labelled_rows(image: Image.Image, labels: list[str], size: int = 14) -> Image.Image:
    """``image`` (a grid of ``len(labels)`` equal rows) with each row's label in a white margin on its left."""
    try:
        font = ImageFont.load_default(size=size)
    except (ImportError, OSError):  # a Pillow built without FreeType: its small bitmap font
        font = ImageFont.load_default_imagefont()
    width = max(int(font.getlength(label)) for label in labels) + size  # half a line of space each side
    canvas = Image.new(image.mode, (image.width + width, image.height), 255 if image.mode == "L" else (255,) * 3)
    canvas.paste(image, (width, 0))
    draw, pitch = ImageDraw.Draw(canvas), image.height / len(labels)
    for row, label in enumerate(labels):  # right-aligned, centred on the row (no anchor: bitmap fonts lack it)
        left, middle = width - size // 2 - font.getlength(label), (row + 0.5) * pitch - font.getbbox(label)[3] / 2
        draw.text((left, middle), label, fill=0 if image.mode == "L" else (0,) * 3, font=font)
    return canvas


def layout_grid(images: Tensor, image_dims: int) -> tuple[Tensor, int]:
    """Lay out a model's image set as (N, C, *S) images and a column count for :func:`make_grid`.

    ``images`` is a batch (N, C, *S), laid out near-square, or a grid (R, K, C, *S)
    whose rows mean something (a class, an original and its reconstruction). A
    grid much wider than tall (e.g. 2 rows of 32) is folded into blocks of columns
    stacked downward, so each block keeps its rows together: originals above their
    reconstructions, block after block.
    """
    if images.dim() == image_dims + 1:
        return images, max(1, int(len(images) ** 0.5))
    rows, columns = images.shape[:2]
    if columns <= 2 * rows:
        return images.flatten(0, 1), columns
    width = max(1, round((rows * columns) ** 0.5))  # about square overall
    blocks = -(-columns // width)
    pad = blocks * width - columns
    # the separators' grey, not black tiles that would read as a black image reconstructed perfectly
    filler = images.new_full((rows, pad, *images.shape[2:]), PAD_VALUE)
    padded = torch.cat([images, filler], dim=1)  # (R, blocks*width, ...)
    folded = padded.unflatten(1, (blocks, width)).transpose(0, 1)  # (blocks, R, width, ...)
    return folded.flatten(0, 2), width


def grid_files(run: str | Path) -> dict[str, dict[int, Path]]:
    """The per-epoch grids in a run folder, ``{kind: {epoch: path}}``: ``{"recons": {1: RUN/epoch001_recons.png}}``."""
    kinds: dict[str, dict[int, Path]] = {}
    for path in Path(run).glob("epoch*_*.png"):
        match = GRID_FILE.match(path.name)
        if match:
            kinds.setdefault(match.group(2), {})[int(match.group(1))] = path
    return kinds

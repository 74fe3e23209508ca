"""Image grids: batches of 2-D images, or three orthogonal mid-slices of 3-D volumes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor


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


def make_grid(images: Tensor, columns: int, padding: int = 2, pad_value: float = 0.5) -> np.ndarray:
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


def save_grid(images: Tensor, path: str | Path, columns: int, *, min_size: int = 448) -> Path:
    """Write a PNG grid, enlarged with nearest-neighbour steps so small digits stay legible."""
    array = make_grid(images, columns)
    image = Image.fromarray(array)
    scale = max(1, -(-min_size // max(image.size)))  # rounded up: a 242 px grid of digits doubles
    if scale > 1:
        image = image.resize((image.width * scale, image.height * scale), Image.NEAREST)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


def above_below(originals: Tensor, recons: Tensor, columns: int) -> Tensor:
    """Interleave rows: originals[0:columns], recons[0:columns], originals[columns:2*columns], ...

    Pads the last row with blanks, so any count works.
    """
    rows = -(-len(originals) // columns)
    pad = rows * columns - len(originals)
    pairs = [
        torch.cat([t, t.new_zeros(pad, *t.shape[1:])]).view(rows, columns, *t.shape[1:]) for t in (originals, recons)
    ]
    return torch.stack(pairs, 1).flatten(0, 2)  # (rows * 2 * columns, C, *S)

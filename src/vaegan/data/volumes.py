"""Volumes as the models see them, cut into 2-D slices and back, and written out as NIfTI.

Volumes are (N, 1, D, H, W) = (inferior->superior, posterior->anterior, left->right),
the layout :mod:`vaegan.data.mri_transforms` makes; slices come out with anterior (axial)
or superior (coronal, sagittal) up. Nothing here imports MONAI, so cutting slices and
writing samples stay quick to import.

Example:
    >>> slices, source = to_slices(volumes, "coronal", (0.35, 0.6))  # doctest: +SKIP
    >>> save_nifti(model.sample(8, labels), Path("samples.nii.gz"), spacing=2.5)  # doctest: +SKIP
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import torch
from torch import Tensor

from vaegan.foundation.files import write_bytes_atomic, write_text_atomic

# which dimension of (N, 1, D, H, W) each slice direction cuts
SLICE_DIMS = {"axial": 2, "coronal": 3, "sagittal": 4}


def slice_positions(depth: int, slice_range: tuple[float, float], step: int = 1) -> Tensor:
    """Indices of the slices between the ``slice_range`` fractions of an axis of ``depth`` voxels."""
    low, high = (round(f * (depth - 1)) for f in slice_range)
    return torch.arange(low, high + 1, step)


def to_slices(volumes: Tensor, axis: str, slice_range: tuple[float, float], step: int = 1) -> tuple[Tensor, Tensor]:
    """Cut (N, 1, D, H, W) volumes into 2-D slices.

    Returns:
        ``(slices, source)``: (N * S, 1, P, Q) slices, volume by volume, with
        anterior/superior up; and (N * S,) the volume each came from.
    """
    dim = SLICE_DIMS[axis]
    positions = slice_positions(volumes.shape[dim], slice_range, step)
    stack = volumes.movedim(dim, 1)[:, positions]  # (N, S, 1, P, Q)
    slices = stack.flatten(0, 1).flip(-2).contiguous()  # image row 0 = anterior (axial) / superior
    source = torch.arange(len(volumes)).repeat_interleave(len(positions))
    return slices, source


def from_slices(slices: Tensor, axis: str) -> Tensor:
    """Undo :func:`to_slices` for one volume: its S slices (S, 1, P, Q) -> a slab (1, D, H, W), S along ``axis``."""
    stack = slices.flip(-2).unsqueeze(0)  # (1, S, 1, P, Q), rows back in volume order
    return stack.movedim(1, SLICE_DIMS[axis])[0]


# which axis of RAS voxels (X, Y, Z) each slice direction steps along
RAS_AXES = {"axial": 2, "coronal": 1, "sagittal": 0}


def slab_affine(grid: np.ndarray, axis: str, first: int, step: int = 1) -> np.ndarray:
    """The affine of planes ``first``, ``first + step``, ... along ``axis`` of volumes on ``grid``."""
    k = RAS_AXES[axis]
    slab = np.array(grid, np.float64)
    slab[:3, 3] += slab[:3, k] * first
    slab[:3, k] *= step
    return slab


def nominal_grid(shape: tuple[int, int, int], spacing: float) -> np.ndarray:
    """Voxel (X, Y, Z) -> nominal mm of a volume of ``shape``: ``spacing`` mm voxels, the origin at its centre."""
    affine = np.diag([spacing, spacing, spacing, 1.0])
    affine[:3, 3] = -spacing * (np.asarray(shape, np.float64) - 1) / 2
    return affine


def to_nifti(
    volume: Tensor,
    zooms: tuple[float, float, float] = (1.0, 1.0, 1.0),
    *,
    affine: np.ndarray | None = None,
    mni: bool | None = None,
) -> nib.Nifti1Image:
    """A NIfTI image of a volume (D, H, W) or volumes (N, D, H, W) in this module's layout.

    Voxels go back to RAS order (X, Y, Z[, N]). ``affine`` (voxel X, Y, Z -> mm), where the
    volumes have one: registered scans' :func:`~vaegan.data.mri_transforms.registered_grid`, in
    MNI152 mm, and marked so (sform and qform code 4, "mni"), as viewers read it, unless ``mni``
    is False (a slab of :func:`nominal_grid`). Else ``zooms`` are the voxel sizes in mm along X,
    Y, Z and the origin is the volume's centre (nominal millimetres, marked as no template's space).
    """
    x = volume.detach().float().cpu()
    data = x.permute(2, 1, 0) if x.dim() == 3 else x.permute(3, 2, 1, 0)  # (D, H, W) = (Z, Y, X) -> (X, Y, Z)
    on_template = affine is not None if mni is None else mni
    if affine is None:
        affine = np.diag([*zooms, 1.0])
        affine[:3, 3] = -np.asarray(zooms) * (np.asarray(data.shape[:3]) - 1) / 2
    img = nib.Nifti1Image(np.ascontiguousarray(data.numpy()), np.asarray(affine, np.float64))
    img.header.set_xyzt_units("mm")
    if on_template:
        img.set_sform(img.affine, code="mni")
        img.set_qform(img.affine, code="mni")
    return img


SIDECAR_KEYS = {"slice_axis", "space", "labels", "class_names"}


def sidecar_path(path: Path) -> Path:
    """The JSON sidecar :func:`save_nifti` writes beside ``path``: its name less .nii(.gz), as BIDS names it."""
    name = path.name
    for suffix in (".nii.gz", ".nii"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    return path.with_name(name + ".json")


def is_own_sidecar(path: Path) -> bool:
    """Whether ``path`` is missing or a sidecar :func:`save_nifti` wrote (a JSON object of its keys only)."""
    if not path.exists():
        return True
    try:
        about = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(about, dict) and set(about) <= SIDECAR_KEYS


def save_nifti(
    images: Tensor,
    path: Path,
    *,
    spacing: float = 1.0,
    labels: Tensor | None = None,
    class_names: list[str] | None = None,
    slice_axis: str = "axial",
    grid: np.ndarray | None = None,
    plane: int = 0,
) -> Path:
    """Write images as one 4-D NIfTI, (X, Y, Z, N), with a JSON sidecar of their labels (and slice axis).

    Volumes (N, C, D, H, W) in this module's layout go back to RAS voxel order;
    2-D images (N, C, H, W), slices as :func:`to_slices` cuts them (first axis up), become
    one-plane volumes along ``slice_axis``: (X, 1, Z, N) for coronal slices, (X, Y, 1, N) for
    axial ones, placed at ``plane`` of the volume. The first channel is written. With ``grid``
    (the volumes' voxel -> MNI152 mm affine, registered scans) the file is in MNI mm; else voxels
    are ``spacing`` mm around the volume's centre (nominal where preprocessing resized the brain).
    """
    x = images.detach().float().cpu()[:, 0]  # (N, *S)
    flat = x.dim() == 3
    if flat:  # (N, P, Q) slices -> (N, D, H, W) volumes one plane thick along the slice axis
        x = torch.stack([from_slices(image[None, None], slice_axis)[0] for image in x])
    path = Path(path)
    affine = grid
    if flat:  # the plane's place in its volume: on the template grid, else on the volume's nominal one
        volume = grid if grid is not None else nominal_grid((max(x.shape[1:]),) * 3, spacing)
        affine = slab_affine(volume, slice_axis, plane)
    data = to_nifti(x, (spacing,) * 3, affine=affine, mni=grid is not None).to_bytes()  # one .nii, in memory
    # each file through a temporary one renamed over it: a failed write leaves the old file whole
    write_bytes_atomic(path, gzip.compress(data, mtime=0) if path.name.lower().endswith(".gz") else data)
    if labels is not None or flat or grid is not None:
        sidecar = sidecar_path(path)
        about: dict[str, object] = {"slice_axis": slice_axis} if flat else {}
        if grid is not None:
            about["space"] = "MNI152 (nilearn's template), affine registration"
        if labels is not None:
            about["labels"] = labels.tolist()
            about["class_names"] = [class_names[i] if class_names else str(i) for i in labels.tolist()]
        write_text_atomic(sidecar, json.dumps(about, indent=1) + "\n")
    elif is_own_sidecar(sidecar_path(path)):  # an earlier file's labels would be taken for these images'
        sidecar_path(path).unlink(missing_ok=True)
    return path

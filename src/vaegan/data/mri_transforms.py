"""From a T1w NIfTI file to a normalised tensor: checks and MONAI transforms.

Raw scans first go through :func:`vaegan.data.registration.to_template` (N4,
affine to MNI152, template brain mask; ``data.mri.registration`` and
``bias_correction``). Then (MONAI dictionary transforms, so an atrophy or label
map beside the image follows the same geometry): reorient to RAS, resample to ``spacing`` mm,
normalise intensity inside the brain (clip at the ``percentiles`` of the brain
voxels, scale to [0, 1], background 0), crop to the brain (a registered scan: to
the template's brain, so that every registered scan shares one grid in MNI mm,
:func:`registered_grid`), then either resize
the brain so its longest side is ``size`` voxels (``fit="resize"``, aspect kept)
or keep the spacing (``fit="pad"``), and pad or crop to ``size``^3.

Volumes come out as (1, D, H, W) = (inferior->superior, posterior->anterior,
left->right), the layout :func:`vaegan.visualization.grids.orthogonal_slices`
draws; :mod:`vaegan.data.volumes` cuts them into 2-D slices and writes them as NIfTI.

Example:
    >>> image, affine = read_volume(Path("sub-01_T1w.nii.gz"))  # doctest: +SKIP
    >>> volume, _ = preprocess(image, affine, MRIConfig(size=64))  # doctest: +SKIP
    >>> volume.shape  # doctest: +SKIP
    torch.Size([1, 64, 64, 64])
"""

from __future__ import annotations

import errno
import logging
import zlib
from pathlib import Path

import nibabel as nib
import numpy as np
import torch
from monai.data import MetaTensor
from monai.transforms import (
    Compose,
    CropForegroundd,
    MapTransform,
    Orientationd,
    Resized,
    ResizeWithPadOrCropd,
    Spacingd,
    SpatialCropd,
)
from scipy import ndimage
from torch import Tensor

from vaegan.data.bad_inputs import BadFile
from vaegan.data.config import MRIConfig

logger = logging.getLogger(__name__)

BRAIN_THRESHOLD = 0.1  # brain = voxels above this fraction of the 99th percentile of positive voxels
# physically possible heads: a field of view per axis in this range (mm), at most this many voxels
FOV_MM = (20.0, 500.0)
MAX_SIDE = 2048
MAX_VOXELS = 2**28  # 1 GiB as float32; a 0.5 mm whole head is 2**26


def _reason(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


# errors of the machine, not of the file: permissions, I/O, a vanished mount, exhausted handles
PASSING_ERRNOS = frozenset(
    {errno.EACCES, errno.EPERM, errno.EIO, errno.ENOENT, errno.EBUSY, errno.ESTALE, errno.EMFILE, errno.ENFILE}
)


def passing(error: BaseException) -> bool:
    """Whether reading failed for a reason outside the file, which a retry (or a chmod) may cure."""
    return isinstance(error, OSError) and error.errno in PASSING_ERRNOS


def read_volume(path: Path, *, allow_blank: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """A 3-D NIfTI file as (float32 array (X, Y, Z), affine 4x4).

    ``allow_blank`` accepts a constant volume (a map of zeros, e.g. no atrophy).

    Raises:
        BadFile: unreadable, truncated, not 3-D, NaN or infinite voxels, blank, or a
            physically impossible header (see :func:`check_header`).
    """
    try:
        img = nib.load(path)
    except Exception as error:  # nibabel raises many types for foreign or damaged headers
        if passing(error):  # the file may be fine: not a BadFile, so the cache does not keep the verdict
            raise
        raise BadFile(f"cannot be read as NIfTI ({_reason(error)})") from None
    if isinstance(img, nib.analyze.AnalyzeImage) and not isinstance(img, nib.Nifti1Pair | nib.Nifti2Pair):
        raise BadFile(
            f"is an {type(img).__name__.removesuffix('Image')} file, whose header cannot say which side is left "
            "(the scan could train mirrored); convert it to NIfTI with its orientation known"
        )
    shape = tuple(int(s) for s in img.shape)
    if len(shape) == 4 and shape[3] == 1:
        shape = shape[:3]
    if len(shape) > 3:
        raise BadFile(f"is {len(shape)}-D (shape {shape}); expected one 3-D T1w volume")
    if len(shape) < 3 or min(shape) < 2:
        raise BadFile(f"is 2-D (shape {shape}); expected a 3-D T1w volume")
    affine = check_header(img, shape)
    kind = img.get_data_dtype()
    if kind.fields is not None or np.issubdtype(kind, np.complexfloating):
        raise BadFile(f"holds {kind} voxels (RGB or complex); save the T1w image as one grey channel")
    try:
        data = np.asarray(img.get_fdata(dtype=np.float32)).reshape(shape)
    except (EOFError, OSError, ValueError, zlib.error) as error:
        if passing(error):
            raise
        raise BadFile(f"is truncated or corrupt ({_reason(error)})") from None
    bad = int(np.count_nonzero(~np.isfinite(data)))
    if bad:
        raise BadFile(f"contains {bad} NaN or infinite voxels")
    if not allow_blank and data.max() <= data.min():
        raise BadFile(f"is blank (every voxel is {float(data.min()):g})")
    return data, affine


def check_header(img: nib.Nifti1Image, shape: tuple[int, int, int]) -> np.ndarray:
    """The affine (4x4) of a header that describes a possible head; checked before any voxel is read.

    A voxel size of 1000 mm would make the resampler allocate until the process
    is killed; a header claiming 30000^3 voxels would do the same on reading.

    Raises:
        BadFile: absurd dimensions, zero/negative/NaN voxel sizes, a singular or
            non-finite affine, or a field of view outside ``FOV_MM`` on some axis.
    """
    voxels = int(np.prod(shape, dtype=np.int64))
    if max(shape) > MAX_SIDE or voxels > MAX_VOXELS:
        raise BadFile(
            f"has {' x '.join(map(str, shape))} voxels, more than a head scan holds "
            f"(at most {MAX_SIDE} per side, {MAX_VOXELS} in all); fix the header's dim field"
        )
    zooms = _stored_zooms(img)
    for axis, zoom in enumerate(zooms):
        if not np.isfinite(zoom) or zoom <= 0:
            raise BadFile(f"has a voxel size {zoom:g} mm along axis {axis}; fix the header's pixdim field")
    if img.affine is None:
        raise BadFile("has no affine (voxel-to-world matrix); save it as NIfTI with a qform or sform")
    affine = np.asarray(img.affine, dtype=np.float64)
    if not np.all(np.isfinite(affine)):
        raise BadFile("has an affine (voxel-to-world matrix) that is not finite; fix the header's qform/sform")
    if abs(np.linalg.det(affine[:3, :3])) < 1e-9:
        raise BadFile("has a singular affine (voxel-to-world matrix); fix the header's qform/sform")
    sizes = np.sqrt((affine[:3, :3] ** 2).sum(axis=0))  # mm per voxel along each array axis
    for axis, (count, size) in enumerate(zip(shape, sizes)):
        fov = count * float(size)
        if not FOV_MM[0] <= fov <= FOV_MM[1]:
            raise BadFile(
                f"has a field of view of {fov:g} mm along axis {axis} ({count} voxels of {size:g} mm), "
                f"outside the {FOV_MM[0]:g}-{FOV_MM[1]:g} mm of a head; fix the header's voxel sizes (pixdim/affine)"
            )
    codes = [int(img.header[name]) for name in ("qform_code", "sform_code") if name in img.header]
    if codes and not any(codes):  # NIfTI's Analyze fallback: nibabel would guess a flipped x
        raise BadFile(
            "has qform_code and sform_code 0, so its header says nothing of orientation and which side is left "
            "is unknown (the scan could train mirrored); convert it again with its orientation (e.g. dcm2niix) "
            "or set the qform/sform"
        )
    return affine


def _stored_zooms(img: nib.Nifti1Image) -> list[float]:
    """The voxel sizes as stored: nibabel's loader quietly turns 0 into 1 and -3 into 3 in ``img.header``."""
    if isinstance(img.header, nib.Nifti1Header):
        holder = img.file_map.get("header") or img.file_map["image"]
        try:
            with holder.get_prepare_fileobj("rb") as file:
                raw = type(img.header).from_fileobj(file, check=False)
            return [float(z) for z in raw["pixdim"][1:4]]
        except Exception:  # noqa: BLE001  (then the loaded header's, already read once)
            pass
    return [float(z) for z in img.header.get_zooms()[:3]]


class BrainIntensityd(MapTransform):
    """Clip at brain percentiles and scale to [0, 1] inside the brain; 0 outside.

    The brain is the largest connected region above ``BRAIN_THRESHOLD`` of the
    99th percentile of the positive voxels, opened once (to cut off specks of
    noise) and with its holes filled: all of a skull-stripped brain, none of
    the Rician noise floor around it.
    """

    def __init__(self, keys: str, percentiles: tuple[float, float]):
        super().__init__(keys)
        self.percentiles = percentiles

    def __call__(self, data: dict) -> dict:
        out = dict(data)
        for key in self.key_iterator(out):
            image = out[key]
            values = np.asarray(image.detach().cpu().numpy(), dtype=np.float32)
            positive = values[values > 0]
            if positive.size == 0:
                raise BadFile("has no positive voxels after resampling (blank or all negative)")
            brain = brain_mask(values[0], BRAIN_THRESHOLD * np.percentile(positive, 99))[None]
            low, high = np.percentile(values[brain], self.percentiles)
            scaled = ((image - float(low)) / max(float(high - low), 1e-6)).clamp(0.0, 1.0)
            out[key] = scaled * torch.as_tensor(brain, device=image.device)
        return out


def brain_mask(values: np.ndarray, threshold: float) -> np.ndarray:
    """Largest connected region of ``values > threshold`` after one opening, holes filled."""
    mask = ndimage.binary_opening(values > threshold)
    labels, count = ndimage.label(mask)
    if count > 1:
        sizes = np.bincount(labels.ravel())
        sizes[0] = 0
        mask = labels == int(np.argmax(sizes))
    return ndimage.binary_fill_holes(mask) if count else values > threshold


def _pipeline(options: MRIConfig, keys: tuple[str, ...], registered: bool) -> Compose:
    steps = [
        Orientationd(keys, axcodes="RAS", labels=(("L", "R"), ("P", "A"), ("I", "S"))),
        Spacingd(keys, pixdim=options.spacing, mode="bilinear", padding_mode="zeros", dtype=np.float32),
        BrainIntensityd("image", tuple(options.percentiles)),
    ]
    return Compose(steps + _fitted(options, keys, registered))


def _fitted(options: MRIConfig, keys: tuple[str, ...], registered: bool) -> list:
    """Crop to the brain (a registered scan: the template's, so that all share one grid), then fit ``size``^3."""
    if registered:
        from vaegan.data.registration import template_box

        start, end = template_box(options.spacing)
        steps = [SpatialCropd(keys, roi_start=start, roi_end=end)]
    else:
        steps = [CropForegroundd(keys, source_key="image", select_fn=lambda x: x > 0, margin=1)]
    size = options.size
    if options.fit == "resize":
        steps.append(Resized(keys, spatial_size=size, size_mode="longest", mode="trilinear", anti_aliasing=True))
    steps.append(ResizeWithPadOrCropd(keys, spatial_size=(size, size, size)))
    return steps


def registered_grid(options: MRIConfig) -> np.ndarray:
    """The voxel -> MNI152 mm affine (4x4, RAS voxel order X, Y, Z) of every registered volume.

    Registered scans are all cropped to the template brain's box and fitted to ``size``^3 alike,
    so one affine holds for all of them; :func:`vaegan.data.volumes.to_nifti` writes it.
    """
    from vaegan.data.registration import template_grid

    shape, affine = template_grid(options.spacing)
    blank = MetaTensor(torch.zeros(1, *shape), affine=torch.as_tensor(affine))
    return np.asarray(Compose(_fitted(options, ("image",), True))({"image": blank})["image"].affine, np.float64)


def preprocess(
    image: np.ndarray,
    affine: np.ndarray,
    options: MRIConfig,
    extra: np.ndarray | None = None,
    *,
    source: Path | None = None,
) -> tuple[Tensor, Tensor | None]:
    """Volume (1, D, H, W) in [0, 1] (see the module doc), and ``extra`` given the same geometry.

    Args:
        image: (X, Y, Z) intensities in any units.
        affine: voxel -> world mm.
        options: registration, bias_correction, spacing, size, fit and percentiles.
        extra: an optional (X, Y, Z) map on the image's grid (e.g. true atrophy);
            resampled and cropped like the image, without intensity scaling.
        source: the file read, for ``registration="auto"`` (``space-MNI*`` files are resampled onto the
            template grid, not registered) and logs.

    Raises:
        BadFile: a header or a scan that cannot be brought onto the template.
    """
    from vaegan.data.registration import named_mni, raw_steps, to_template

    register_scan, n4 = raw_steps(options.registration, options.bias_correction, source)
    in_mni = not register_scan and options.registration == "auto" and named_mni(source)
    on_template = register_scan or in_mni
    if on_template or n4:
        maps = () if extra is None else (extra,)
        done = to_template(
            image,
            affine,
            spacing=options.spacing,
            register_scan=register_scan,
            bias_correction=n4,
            in_mni=in_mni,
            extra=maps,
        )
        image, affine, extra = done.image, done.affine, (done.extra[0] if maps else None)
        steps = ", ".join(f"{step} {seconds:.1f} s" for step, seconds in done.seconds.items())
        fit = f", correlation with MNI152 {done.correlation:.2f}" if on_template else ""
        logger.info("%s: %s%s", source.name if source else "scan", steps, fit)
    arrays = {"image": image} if extra is None else {"image": image, "extra": extra}
    data = {
        key: MetaTensor(torch.from_numpy(np.array(a, np.float32)[None]), affine=torch.as_tensor(affine))
        for key, a in arrays.items()
    }
    out = _pipeline(options, tuple(data), registered=on_template)(data)

    def layout(x: Tensor) -> Tensor:  # (1, X, Y, Z) RAS -> (1, Z, Y, X), a plain tensor without MONAI's metadata
        x = x.as_tensor() if isinstance(x, MetaTensor) else torch.as_tensor(x)
        return x.float().permute(0, 3, 2, 1).contiguous()

    volume = layout(out["image"]).clamp_(0.0, 1.0)
    return volume, (layout(out["extra"]) if extra is not None else None)

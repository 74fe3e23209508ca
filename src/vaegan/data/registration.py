"""Raw T1w scans onto the MNI152 template: N4 bias-field correction, affine registration, template brain mask.

Steps, for a scan as read by :func:`~vaegan.data.mri_transforms.read_volume`:

1. **N4** (Tustison et al. 2010, IEEE TMI 29:1310) on a copy shrunk to about
   ``N4_MM`` mm voxels inside an Otsu head mask; the smooth bias field it finds is
   evaluated on the full-resolution grid and divided out.
2. **Affine registration** to nilearn's ICBM 2009 MNI152 T1 template (2 mm,
   bundled with nilearn, offline): centre-of-mass initialisation, then a rigid
   and an affine stage, each with Mattes mutual information and three
   resolutions (8, 4, 2 mm, smoothed 2, 1, 0 voxels; stopping at 4 or 8 mm
   when the output spacing is that coarse).
3. **Resampling** of the corrected scan onto the template's field of view at
   ``data.mri.spacing`` mm (RAS axes), linear interpolation, 0 outside.
4. **Masking** with the template's brain mask: an approximate skull strip,
   as good as the affine fit (no nonlinear warp; see ``docs/real_mri.md``).

A fit whose correlation with the template inside the brain mask is below
``MIN_CORRELATION``, or whose scale is implausible for a head, raises
:class:`~vaegan.data.bad_inputs.BadFile` (the scan is skipped and named, as any
bad file is).

SimpleITK rather than ANTsPy (antspyx): SimpleITK is ITK's own wrapper, one
wheel without dependencies for every platform and Python vaegan supports
(about 260 MB installed); its N4 and Mattes-MI affine registration are the
ITK code that ANTs is built on. What antspyx adds, SyN nonlinear registration,
vaegan does not use (affine only, see ``docs/real_mri.md``), and its wheels
have lagged behind new Python releases.

Example:
    >>> image, affine = read_volume(Path("sub-01_T1w.nii.gz"))  # doctest: +SKIP
    >>> result = to_template(image, affine, spacing=2.0)  # doctest: +SKIP
    >>> result.image.shape, round(result.correlation, 2)  # doctest: +SKIP
    ((99, 117, 95), 0.93)
"""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vaegan.data.bad_inputs import BadFile

logger = logging.getLogger(__name__)

TEMPLATE_MM = 2  # nilearn template resolution registered to
N4_MM = 6.0  # voxel size the bias field is estimated at (4 mm: 3x the time, the same field)
MIN_CORRELATION = 0.5  # below this the fit is taken as failed
SCALE_RANGE = (0.6, 1.6)  # plausible head size relative to MNI152, per axis
_FLIP = np.diag([-1.0, -1.0, 1.0, 1.0])  # RAS <-> LPS (ITK's world)


@dataclass
class Registered:
    """A scan on the template grid.

    Attributes:
        image: (X, Y, Z) float32 intensities, RAS, zero outside the template brain mask.
        affine: voxel -> MNI mm of ``image``.
        extra: maps given with the scan, resampled the same way (not masked).
        transform: 4x4 template world (RAS mm) -> scan world (RAS mm); identity when not registered.
        correlation: Pearson correlation with the template inside its brain mask.
        seconds: time per step ("n4", "registration", "resampling").
    """

    image: np.ndarray
    affine: np.ndarray
    extra: list[np.ndarray] = field(default_factory=list)
    transform: np.ndarray = field(default_factory=lambda: np.eye(4))
    correlation: float = float("nan")
    seconds: dict[str, float] = field(default_factory=dict)


def to_sitk(array: np.ndarray, affine: np.ndarray):
    """A SimpleITK image of ``array`` (X, Y, Z) with the nibabel ``affine`` (voxel -> RAS mm).

    Raises:
        BadFile: the affine is sheared (ITK images need orthogonal axes).
    """
    import SimpleITK as sitk

    lps = _FLIP @ affine
    spacing = np.linalg.norm(lps[:3, :3], axis=0)
    direction = lps[:3, :3] / spacing
    if not np.allclose(direction.T @ direction, np.eye(3), atol=1e-3):
        raise BadFile("has a sheared affine (non-orthogonal voxel axes); reslice it (e.g. nibabel, FSL) first")
    image = sitk.GetImageFromArray(np.ascontiguousarray(np.asarray(array, np.float32).transpose(2, 1, 0)))
    image.SetSpacing(spacing.tolist())
    image.SetDirection(direction.flatten().tolist())
    image.SetOrigin(lps[:3, 3].tolist())
    return image


def from_sitk(image) -> np.ndarray:
    """(X, Y, Z) float32 array of a SimpleITK image (the inverse of :func:`to_sitk`'s voxel order)."""
    import SimpleITK as sitk

    return np.ascontiguousarray(sitk.GetArrayFromImage(image).transpose(2, 1, 0).astype(np.float32))


SAMPLING_SEED = 1  # of the metric's random sample; not 0, which SimpleITK takes for "the wall clock"


@functools.lru_cache(maxsize=1)
def _template() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """nilearn's MNI152 T1 and brain mask at ``TEMPLATE_MM`` mm: (t1, mask, affine)."""
    from nilearn import datasets

    t1 = datasets.load_mni152_template(resolution=TEMPLATE_MM)
    mask = datasets.load_mni152_brain_mask(resolution=TEMPLATE_MM)
    return np.asarray(t1.get_fdata(), np.float32), np.asarray(mask.get_fdata(), np.float32), np.asarray(t1.affine)


def template_grid(spacing: float) -> tuple[tuple[int, int, int], np.ndarray]:
    """The template's field of view at ``spacing`` mm: (shape, affine), RAS axes, same corner voxel."""
    t1, _, affine = _template()
    shape = tuple(int(n) for n in np.ceil(np.array(t1.shape) * TEMPLATE_MM / spacing))
    grid = np.diag([spacing, spacing, spacing, 1.0])
    grid[:3, 3] = affine[:3, 3]
    return shape, grid


@functools.lru_cache(maxsize=4)
def template_on_grid(spacing: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(t1, brain mask, affine) resampled onto :func:`template_grid` (for checks and tests)."""
    import SimpleITK as sitk

    t1, mask, affine = _template()
    reference = _reference(spacing)
    identity = sitk.Transform(3, sitk.sitkIdentity)
    out = [from_sitk(sitk.Resample(to_sitk(a, affine), reference, identity, sitk.sitkLinear, 0.0)) for a in (t1, mask)]
    return out[0], (out[1] > 0.5).astype(np.float32), template_grid(spacing)[1]


def template_box(spacing: float) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """(start, end) voxels of the template's brain on :func:`template_grid`, one voxel of margin (end exclusive).

    Every registered scan is cropped to this one box, not to its own brain: a scan whose field of
    view misses the cerebellum keeps each other voxel where every other registered scan has it.
    """
    _, mask, _ = template_on_grid(spacing)
    where = np.argwhere(mask > 0)
    start = np.maximum(where.min(0) - 1, 0)
    end = np.minimum(where.max(0) + 2, mask.shape)
    return tuple(int(i) for i in start), tuple(int(i) for i in end)


def _reference(spacing: float):
    shape, affine = template_grid(spacing)
    return to_sitk(np.zeros(shape, np.float32), affine)


def bias_corrected(image):
    """``image`` divided by the N4 bias field, estimated at ~``N4_MM`` mm inside an Otsu head mask."""
    import SimpleITK as sitk

    image = sitk.Cast(image, sitk.sitkFloat32)
    image = sitk.Clamp(image, sitk.sitkFloat32, 0.0)  # N4 fits the log: no negative intensities
    mask = sitk.OtsuThreshold(image, 0, 1, 200)
    factors = [max(1, round(N4_MM / s)) for s in image.GetSpacing()]
    corrector = sitk.N4BiasFieldCorrectionImageFilter()
    corrector.SetMaximumNumberOfIterations([50, 40, 30])
    corrector.Execute(sitk.Shrink(image, factors), sitk.Shrink(mask, factors))
    log_field = corrector.GetLogBiasFieldAsImage(image)  # the B-spline field, evaluated at full resolution
    return sitk.Cast(image / sitk.Exp(log_field), sitk.sitkFloat32)


def _stage(fixed, moving, initial, *, finest: int = 1, seed: int = SAMPLING_SEED):
    """One registration stage (Mattes MI, up to three resolutions, the finest shrunk ``finest`` times).

    The metric's random sample is seeded (``seed`` >= 1: SimpleITK takes 0 for the wall clock), so a scan
    registers the same way every time and on every machine.
    """
    if seed < 1:
        raise ValueError(f"seed={seed}: SimpleITK takes 0 for the wall clock; give a seed of 1 or more")
    import SimpleITK as sitk

    method = sitk.ImageRegistrationMethod()
    method.SetMetricAsMattesMutualInformation(numberOfHistogramBins=32)
    method.SetMetricSamplingStrategy(method.RANDOM)
    method.SetMetricSamplingPercentage(0.1, seed)
    method.SetInterpolator(sitk.sitkLinear)
    method.SetOptimizerAsRegularStepGradientDescent(
        learningRate=1.0, minStep=1e-3, numberOfIterations=100, gradientMagnitudeTolerance=1e-6
    )
    method.SetOptimizerScalesFromPhysicalShift()
    levels = [f for f in (4, 2, 1) if f >= finest]
    method.SetShrinkFactorsPerLevel(levels)
    method.SetSmoothingSigmasPerLevel([{4: 2, 2: 1, 1: 0}[f] for f in levels])
    method.SmoothingSigmasAreSpecifiedInPhysicalUnitsOff()
    method.SetInitialTransform(initial, inPlace=False)
    return method.Execute(fixed, moving)


def _single(transform):
    """The one transform inside what ``ImageRegistrationMethod.Execute`` returns (a composite of one)."""
    import SimpleITK as sitk

    if transform.GetName() == "CompositeTransform":
        transform = sitk.CompositeTransform(transform).GetNthTransform(0)
    return transform


def register(moving, spacing: float = TEMPLATE_MM) -> tuple[object, np.ndarray]:
    """Affine transform (template LPS -> scan LPS) of ``moving`` onto the template, and it as a RAS 4x4.

    The finest resolution is the coarsest of 2, 4 and 8 mm that is not coarser
    than the output ``spacing``: no need to fit finer than the result is sampled.

    Raises:
        BadFile: the optimiser fails, or the fitted scale is not that of a head.
    """
    import SimpleITK as sitk

    t1, _, affine = _template()
    fixed = to_sitk(t1, affine)
    finest = max(f for f in (1, 2, 4) if f == 1 or f * TEMPLATE_MM <= spacing)
    # fit on the scan averaged down to about the template's voxels: a 1 mm scan smoothed
    # and shrunk per level would cost 10x the time for no accuracy the 2 mm template can use
    moving = sitk.BinShrink(moving, [max(1, round(TEMPLATE_MM / s)) for s in moving.GetSpacing()])
    try:
        start = sitk.CenteredTransformInitializer(
            fixed, moving, sitk.Euler3DTransform(), sitk.CenteredTransformInitializerFilter.MOMENTS
        )
        rigid = sitk.Euler3DTransform(_single(_stage(fixed, moving, start, finest=finest)))
        initial = sitk.AffineTransform(3)
        initial.SetCenter(rigid.GetCenter())
        initial.SetMatrix(rigid.GetMatrix())
        initial.SetTranslation(rigid.GetTranslation())
        transform = sitk.AffineTransform(_single(_stage(fixed, moving, initial, finest=finest)))
    except RuntimeError as error:  # ITK reports failures (e.g. no overlap left) as RuntimeError
        reason = str(error).strip().splitlines()[-1] if str(error).strip() else "unknown error"
        raise BadFile(f"could not be registered to MNI152 ({reason}); is it a T1w head scan?") from None
    lps = np.eye(4)
    lps[:3, :3] = np.array(transform.GetMatrix()).reshape(3, 3)
    centre = np.array(transform.GetCenter())
    lps[:3, 3] = np.array(transform.GetTranslation()) + centre - lps[:3, :3] @ centre
    scales = np.linalg.svd(lps[:3, :3], compute_uv=False)
    if scales.min() < SCALE_RANGE[0] or scales.max() > SCALE_RANGE[1]:
        raise BadFile(
            f"registered to MNI152 with scales {np.round(scales, 2).tolist()} (expected {SCALE_RANGE[0]}-"
            f"{SCALE_RANGE[1]} of the template); is it a T1w head scan? Else set data.mri.registration=off"
        )
    return transform, _FLIP @ lps @ _FLIP


def named_mni(source: Path | None) -> bool:
    """Whether a file's name says it is in MNI space already (BIDS ``_space-MNI*``)."""
    return source is not None and "_space-mni" in source.name.lower()


def raw_steps(register_setting: str, bias_setting: str, source: Path | None = None) -> tuple[bool, bool]:
    """(register, N4) for one file: ``"auto"`` registers unless the file name says ``space-MNI*``.

    ``bias_setting="auto"`` follows the registration decision.
    """
    register_scan = register_setting == "on" or (register_setting == "auto" and not named_mni(source))
    n4 = bias_setting == "on" or (bias_setting == "auto" and register_scan)
    return register_scan, n4


def to_template(
    image: np.ndarray,
    affine: np.ndarray,
    *,
    spacing: float,
    register_scan: bool = True,
    bias_correction: bool = True,
    in_mni: bool = False,
    extra: tuple[np.ndarray, ...] = (),
) -> Registered:
    """N4-correct and/or register a scan onto the template grid at ``spacing`` mm (see the module doc).

    With ``register_scan=False`` only N4 runs and the scan keeps its own grid (no template mask
    either), unless ``in_mni``: a scan in MNI space already is resampled onto the template grid as
    it is (no fit) and masked, and must correlate with the template as a registered one must.

    Raises:
        BadFile: a sheared header, a failed registration, or a poor fit (see ``MIN_CORRELATION``).
    """
    import SimpleITK as sitk

    seconds: dict[str, float] = {}
    clock = time.perf_counter()
    moving = to_sitk(image, affine)
    if bias_correction:
        moving = bias_corrected(moving)
        seconds["n4"] = time.perf_counter() - clock
    if not register_scan and not in_mni:
        return Registered(from_sitk(moving), affine, list(extra), seconds=seconds)
    if register_scan:
        clock = time.perf_counter()
        transform, matrix = register(moving, spacing)
        seconds["registration"] = time.perf_counter() - clock
    else:
        transform, matrix = sitk.Transform(3, sitk.sitkIdentity), np.eye(4)
    clock = time.perf_counter()
    reference = _reference(spacing)
    out = from_sitk(sitk.Resample(moving, reference, transform, sitk.sitkLinear, 0.0))
    maps = [from_sitk(sitk.Resample(to_sitk(m, affine), reference, transform, sitk.sitkLinear, 0.0)) for m in extra]
    t1, mask, grid = template_on_grid(spacing)
    inside = mask > 0
    correlation = float(np.corrcoef(out[inside], t1[inside])[0, 1]) if out[inside].std() > 0 else 0.0
    seconds["resampling"] = time.perf_counter() - clock
    if not correlation >= MIN_CORRELATION:
        raise BadFile(
            f"does not match MNI152 {'after registration' if register_scan else 'although named space-MNI'} "
            f"(correlation {correlation:.2f} < {MIN_CORRELATION}); is it a T1w head scan? Else set "
            "data.mri.registration=off"
        )
    return Registered(out * mask, grid, maps, matrix, correlation, seconds)

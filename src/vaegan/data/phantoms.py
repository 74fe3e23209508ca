"""Synthetic T1w brains of cognitively normal (CN) and Alzheimer's (AD) subjects, as a BIDS folder.

Each subject is the MNI152 template (:mod:`vaegan.data.anatomy`) with

- an age effect for everyone (a nuisance: ventricles and cortex shrink a little with age),
- for AD subjects, graded atrophy (enlarged ventricles, thinner temporo-parietal
  cortex, smaller hippocampi) whose ground-truth map is saved beside the image,
- subject variability: head size, a small rotation and shift, a smooth random
  deformation, tissue contrast, a multiplicative bias field, gain and Rician noise,
- one of a few storage orientations (RAS, LAS, LPS), as scanners write them.

Layout written::

    DIR/dataset_description.json
    DIR/participants.tsv                       participant_id, diagnosis, age, severity
    DIR/sub-0001/anat/sub-0001_T1w.nii.gz      int16 image
    DIR/sub-0001/anat/sub-0001_label-atrophy_probseg.nii.gz   tissue the disease removed, a fraction of
                                                              each voxel (AD; zeros for CN)

Example:
    >>> write_phantoms(Path("phantoms"), subjects=20, seed=0)  # doctest: +SKIP
    PosixPath('phantoms')
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage
from tqdm.auto import tqdm

from vaegan.data.anatomy import ANATOMY_VERSION, TEMPLATE_MM, Anatomy, atrophy, load_anatomy
from vaegan.data.config import SPACING_MM
from vaegan.data.shared_folder import MANIFEST, write_manifest
from vaegan.foundation.errors import DataError

ATROPHY_SUFFIX = "_label-atrophy_probseg.nii.gz"
ORIENTATIONS = ("RAS", "LAS", "LPS")
# what the saved atrophy maps hold; 2 (2026-12-02): the tissue the disease removes, a fraction of each voxel
TRUTH_MAP = 2
# how every message names the maps of a set written before TRUTH_MAP 2
OLD_TRUTH = "the phantoms' older truth maps (the disease's relative loss of each voxel's tissue, before 2026-12-02)"
# how every message names phantoms drawn before ANATOMY_VERSION 2
OLD_ANATOMY = "measured on phantoms drawn on an older anatomy (the hippocampi tilted the wrong way, before 2026-12-03)"


@dataclass(frozen=True)
class PhantomSubject:
    """One synthetic subject: who it is and the seed of everything random about it.

    Example:
        >>> PhantomSubject("sub-0001", "AD", age=74.5, severity=0.8, seed=7).diagnosis
        'AD'
    """

    subject_id: str
    diagnosis: str  # "CN" or "AD"
    age: float
    severity: float  # 0 for CN; AD in [0.4, 1]
    seed: int


def draw_subjects(n: int, seed: int = 0, *, ad_fraction: float = 0.5) -> list[PhantomSubject]:
    """``n`` subjects, ``round(n * ad_fraction)`` of them AD in shuffled order; ages 60-90 for both groups."""
    rng = np.random.default_rng(seed)
    is_ad = np.zeros(n, dtype=bool)
    is_ad[: round(n * ad_fraction)] = True
    rng.shuffle(is_ad)
    ages = rng.uniform(60.0, 90.0, n)
    severities = np.where(is_ad, rng.uniform(0.4, 1.0, n), 0.0)
    seeds = rng.integers(0, 2**31, n)
    width = max(4, len(str(n)))
    return [
        PhantomSubject(f"sub-{i + 1:0{width}d}", "AD" if ad else "CN", round(float(age), 1), float(s), int(sd))
        for i, (ad, age, s, sd) in enumerate(zip(is_ad, ages, severities, seeds))
    ]


def synthesize(
    anatomy: Anatomy, subject: PhantomSubject, spacing: float, *, atrophy_scale: float = 1.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One subject's (image int16 (X, Y, Z), atrophy map float32 (X, Y, Z), affine 4x4) in RAS.

    The atrophy map is the tissue the disease removes (not ageing), as a fraction of each voxel
    (:func:`tissue_loss`), warped like the image.
    ``atrophy_scale`` multiplies the subject's severity (1: the default disease;
    0.25: a quarter of the ventricle growth, cortical thinning and hippocampal
    loss), to ask how small an effect a method finds; everything else is unchanged.
    """
    rng = np.random.default_rng(subject.seed)
    lost, removed = tissue_loss(anatomy, subject, atrophy_scale)
    template = anatomy.t1 * (1.0 - lost) + anatomy.csf_intensity * lost * anatomy.brain
    shape, affine = _output_grid(anatomy, spacing)
    coords = _warp(anatomy, shape, affine, rng)
    image = ndimage.map_coordinates(template, coords, order=1, mode="constant", cval=0.0)
    truth = ndimage.map_coordinates(removed, coords, order=1, mode="constant", cval=0.0)
    return _scanner(image, rng), truth.astype(np.float32), affine


def tissue_loss(anatomy: Anatomy, subject: PhantomSubject, atrophy_scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """On the template grid: (the fraction of each voxel's tissue that disease and ageing turn to fluid,
    the tissue the disease alone removes, as a fraction of the voxel's volume).

    The second is the saved truth: the subject's healthy twin (the same age, no disease) holds
    ``tissue * (1 - ageing)`` of each voxel, the patient ``tissue * (1 - ageing) * (1 - disease)``; their
    difference is what a perfect counterfactual shows. (Until 2026-12-02 the truth was the disease's relative
    loss alone, blind to how much tissue a voxel holds and to what ageing took first: a twin's image minus its
    patient's correlated with it at 0.85, which capped every map's r.)
    """
    disease = atrophy(anatomy, subject.severity * atrophy_scale)
    ageing = atrophy(anatomy, 0.35 * (subject.age - 60.0) / 30.0, regional=False, hippocampus=False)
    lost = 1.0 - (1.0 - disease) * (1.0 - ageing)
    return lost, (anatomy.tissue * (1.0 - ageing) * disease).astype(np.float32)


def check_settings(
    subjects: int, spacing: float, atrophy_scale: float, workers: int | None = None, *, named=lambda key: f"{key}="
) -> None:
    """Refuse settings :func:`write_phantoms` cannot honour; ``named(key)`` spells a setting in the message
    (``subjects=``, or the CLI's ``--subjects``).

    Raises:
        DataError: naming the first impossible setting.
    """
    if subjects < 2:
        raise DataError(f"{named('subjects')}{subjects}: need at least 2 (one CN, one AD)")
    if not SPACING_MM[0] <= spacing <= SPACING_MM[1]:  # NaN too
        raise DataError(
            f"{named('spacing')}{spacing}: give a voxel size from {SPACING_MM[0]:g} to {SPACING_MM[1]:g} mm"
        )
    if not 0.0 <= atrophy_scale <= 1.6:
        raise DataError(
            f"{named('atrophy_scale')}{atrophy_scale}: use a value in [0, 1.6] (1 = the default disease, "
            "0 = healthy twins)"
        )
    if workers is not None and workers < 1:
        raise DataError(f"{named('workers')}{workers}: give 1 or more processes (leave it out for one per core)")


def write_phantoms(
    out: Path,
    *,
    subjects: int = 200,
    seed: int = 0,
    spacing: float = 2.5,
    progress: bool = False,
    workers: int | None = None,
    atrophy_scale: float = 1.0,
) -> Path:
    """Write a BIDS folder of ``subjects`` phantoms into ``out`` (created; must be empty or absent).

    About 0.2 s a subject at 2.5 mm on one core; ``workers`` processes (default:
    the CPU count, at most 8) share them. Written into a private temporary
    sibling folder and renamed at the end, so ``out`` is complete or absent,
    never half-written; its completion marker (:mod:`vaegan.data.shared_folder`)
    records the settings, the version and every file. The same seed gives the
    same subjects whatever the number of workers; ``atrophy_scale`` scales every
    AD subject's atrophy (see :func:`synthesize`), the same subjects otherwise.
    At 0 the set holds the *healthy twins* of the default one: every subject as
    it would be without its disease (the AD subjects keep their label, their
    atrophy maps are zero), the true counterfactual a model's map can be scored
    against (:func:`vaegan.visualization.subject_maps.true_counterfactual_maps`).

    Raises:
        DataError: ``out`` exists and is not empty, or cannot be written.
    """
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DataError(f"{out}: exists and is not empty; choose a new folder for the phantoms")
    check_settings(subjects, spacing, atrophy_scale, workers)
    load_anatomy()  # built (or read) once here; forked workers inherit it
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        # private to this process: another building the same set never touches it
        tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.partial-"))
    except OSError as error:
        raise DataError(f"{out}: cannot write the phantoms: {error}") from None
    try:
        people = draw_subjects(subjects, seed)
        jobs = [(tmp, subject, spacing, atrophy_scale) for subject in people]
        workers = min(workers or os.cpu_count() or 1, 8, len(jobs))  # None: one per core
        bar = partial(tqdm, total=len(jobs), desc="phantoms", disable=not progress, leave=False, dynamic_ncols=True)
        if workers > 1 and "fork" in multiprocessing.get_all_start_methods():
            context = multiprocessing.get_context("fork")  # workers need numpy and scipy only, never torch
            with ProcessPoolExecutor(workers, mp_context=context) as pool:
                list(bar(pool.map(_make, jobs, chunksize=4)))
        else:
            list(bar(map(_make, jobs)))
        _write_tables(tmp, people, seed=seed, spacing=spacing, atrophy_scale=atrophy_scale)
        write_manifest(tmp, phantom_settings(subjects, seed, spacing, atrophy_scale))
        if out.exists():
            out.rmdir()
        tmp.replace(out)
    except OSError as error:
        raise DataError(f"{out}: cannot write the phantoms: {error}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # gone already when renamed into place
    return out


def truth_version(folder: Path) -> int | None:
    """Which truth maps the phantom set in ``folder`` saves (:data:`TRUTH_MAP`; 1: the disease's relative loss,
    before 2026-12-02, whose marker names none), or None where no phantom set's marker is found."""
    return _marker_version(folder, "truth")


def anatomy_version(folder: Path) -> int | None:
    """Which template anatomy the phantom set in ``folder`` was drawn on (:data:`ANATOMY_VERSION`; 1: the
    hippocampi tilted the wrong way, before 2026-12-03, whose marker names none), or None where no phantom
    set's marker is found."""
    return _marker_version(folder, "anatomy")


def phantom_versions(folder: Path) -> dict[str, int] | None:
    """``{"truth": ..., "anatomy": ...}`` of the phantom set in ``folder`` (what a run trained on it records),
    or None where no phantom set's marker is found."""
    truth, anatomy = truth_version(folder), anatomy_version(folder)
    return None if truth is None or anatomy is None else {"truth": truth, "anatomy": anatomy}


def _marker_version(folder: Path, key: str) -> int | None:
    """The integer ``key`` of a phantom set's marker (1 where the marker predates it), else None."""
    try:
        settings = json.loads((Path(folder) / MANIFEST).read_text())["settings"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(settings, dict) or settings.get("kind") != "phantoms":
        return None
    version = settings.get(key, 1)
    return version if isinstance(version, int) and not isinstance(version, bool) else None


def phantom_settings(subjects: int, seed: int, spacing: float, atrophy_scale: float = 1.0) -> dict[str, object]:
    """What a phantom set is made from, as its completion marker records it (the scale only when not 1), with
    the kind of truth map it saves."""
    settings: dict[str, object] = {"kind": "phantoms", "subjects": subjects, "seed": seed, "spacing": float(spacing)}
    settings["truth"] = TRUTH_MAP  # a set cached with older truth maps, or another anatomy, is built again
    settings["anatomy"] = ANATOMY_VERSION
    if atrophy_scale != 1.0:
        settings["atrophy_scale"] = float(atrophy_scale)
    return settings


def _make(job: tuple[Path, PhantomSubject, float, float]) -> None:
    root, subject, spacing, atrophy_scale = job
    image, truth, affine = synthesize(load_anatomy(), subject, spacing, atrophy_scale=atrophy_scale)
    _save(root, subject, image, truth, affine)


def _output_grid(anatomy: Anatomy, spacing: float) -> tuple[tuple[int, int, int], np.ndarray]:
    """The subject grid: the template's field of view at ``spacing`` mm, same centre, RAS axes."""
    fov = np.array(anatomy.t1.shape) * TEMPLATE_MM
    shape = tuple(int(s) for s in np.round(fov / spacing))
    centre = anatomy.affine[:3, :3] @ ((np.array(anatomy.t1.shape) - 1) / 2) + anatomy.affine[:3, 3]
    affine = np.diag([spacing, spacing, spacing, 1.0])
    affine[:3, 3] = centre - spacing * (np.array(shape) - 1) / 2
    return shape, affine


def _warp(anatomy: Anatomy, shape: tuple[int, int, int], affine: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Template voxel coordinates (3, X, Y, Z) to sample for each subject voxel.

    A random similarity (head size +-8 %, rotation +-5 deg, shift +-4 mm) about
    the brain's centre, plus a smooth displacement (about 2 mm std, 3 cosines per axis).
    """
    scale = rng.uniform(0.92, 1.08) * rng.uniform(0.97, 1.03, 3)
    angles = np.deg2rad(rng.uniform(-5.0, 5.0, 3))
    rotation = np.eye(3)
    for axis, angle in enumerate(angles):
        c, s = np.cos(angle), np.sin(angle)
        a, b = [i for i in range(3) if i != axis]
        turn = np.eye(3)
        turn[[a, a, b, b], [a, b, a, b]] = c, -s, s, c
        rotation = rotation @ turn
    centre = np.array([0.0, -18.0, 10.0])  # mm, near the middle of the brain
    to_template = np.linalg.inv(rotation * scale)  # subject mm -> template mm, about centre
    shift = rng.uniform(-4.0, 4.0, 3)
    voxel = np.linalg.inv(anatomy.affine)
    # one affine from subject voxel to template voxel: voxel o (centre + M (A x - centre - shift))
    linear = voxel[:3, :3] @ to_template @ affine[:3, :3]
    offset = voxel[:3, :3] @ (centre + to_template @ (affine[:3, 3] - centre - shift)) + voxel[:3, 3]
    grid = np.indices(shape, dtype=np.float32).reshape(3, -1)
    coords = (linear @ grid + offset[:, None]).reshape(3, *shape).astype(np.float32)
    # smooth displacement: low-frequency cosines per axis (as SPM's nonlinear warps), separable
    bases = [np.cos(np.pi * np.outer((np.arange(n) + 0.5) / n, np.arange(1, 4))).astype(np.float32) for n in shape]
    # rms of the sum = std * sqrt(27) * (1 / sqrt(2)) ** 3 = 1.84 std: about 2 mm
    coefficients = rng.normal(0.0, 2.0 / TEMPLATE_MM / 1.84, (3, 3, 3, 3)).astype(np.float32)
    coords += np.einsum("cijk,xi,yj,zk->cxyz", coefficients, *bases, optimize=True)
    return coords


def _scanner(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Contrast (gamma), bias field, gain and Rician noise; int16 scanner units."""
    image = np.clip(image, 0.0, 1.0) ** rng.uniform(0.85, 1.15)
    axes = [np.linspace(-1.0, 1.0, n, dtype=np.float32) for n in image.shape]
    x, y, z = np.meshgrid(*axes, indexing="ij", sparse=True)
    basis = (x, y, z, x * x, y * y, z * z, x * y, x * z, y * z)
    log_bias = sum(c * b for c, b in zip(rng.normal(0.0, 0.06, len(basis)), basis))
    gain = rng.uniform(600.0, 1400.0)
    signal = image * np.exp(log_bias) * gain
    sigma = rng.uniform(0.01, 0.03) * gain
    # Rician: the magnitude of a complex signal with Gaussian noise on both channels
    noisy = np.hypot(signal + rng.normal(0.0, sigma, image.shape), rng.normal(0.0, sigma, image.shape))
    return np.clip(np.round(noisy), 0, np.iinfo(np.int16).max).astype(np.int16)


def _reoriented(array: np.ndarray, affine: np.ndarray, codes: str) -> tuple[np.ndarray, np.ndarray]:
    """``array`` stored along the axis codes ``codes`` (e.g. "LAS"), with the matching affine."""
    orientations = nib.orientations
    transform = orientations.ornt_transform(orientations.axcodes2ornt("RAS"), orientations.axcodes2ornt(codes))
    data = orientations.apply_orientation(array, transform)
    return np.ascontiguousarray(data), affine @ orientations.inv_ornt_aff(transform, array.shape)


def _save(root: Path, subject: PhantomSubject, image: np.ndarray, truth: np.ndarray, affine: np.ndarray) -> None:
    codes = ORIENTATIONS[subject.seed % len(ORIENTATIONS)]
    anat = root / subject.subject_id / "anat"
    anat.mkdir(parents=True)
    for array, name in ((image, "_T1w.nii.gz"), (truth, ATROPHY_SUFFIX)):
        data, aff = _reoriented(array, affine, codes)
        img = nib.Nifti1Image(data, aff)
        img.set_qform(aff, code=1)
        img.set_sform(aff, code=1)
        img.header.set_xyzt_units("mm")
        nib.save(img, anat / f"{subject.subject_id}{name}")


def _write_tables(
    root: Path, people: list[PhantomSubject], *, seed: int, spacing: float, atrophy_scale: float = 1.0
) -> None:
    rows = ["participant_id\tdiagnosis\tage\tseverity"]
    rows += [f"{p.subject_id}\t{p.diagnosis}\t{p.age:.1f}\t{p.severity:.3f}" for p in people]
    (root / "participants.tsv").write_text("\n".join(rows) + "\n")
    description = {
        "Name": "vaegan phantoms: synthetic CN and AD T1w brains with known atrophy",
        "BIDSVersion": "1.9.0",
        "DatasetType": "raw",
        "GeneratedBy": [{"Name": "vaegan phantoms", "Description": _description(seed, spacing, atrophy_scale)}],
        "License": "CC0; derived from the ICBM 2009 MNI152 templates bundled with nilearn",
    }
    (root / "dataset_description.json").write_text(json.dumps(description, indent=2) + "\n")


def _description(seed: int, spacing: float, atrophy_scale: float) -> str:
    """The settings line of dataset_description.json (the scale only when not 1, as before it existed)."""
    scale = "" if atrophy_scale == 1.0 else f", atrophy_scale={atrophy_scale:g}"
    return f"seed={seed}, spacing={spacing} mm{scale}"

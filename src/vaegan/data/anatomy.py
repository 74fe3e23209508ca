"""The template anatomy that phantoms are built from: MNI152 T1 and tissue maps, and atrophy on them.

nilearn ships the ICBM 2009 MNI152 T1, grey- and white-matter templates and a
brain mask; they load offline from the package. From them this module derives,
once, on the 2 mm template grid: the lateral ventricles (the largest fluid
region enclosed by tissue), each tissue voxel's depth below the ventricle
surface and below the outer (pial) surface, soft hippocampus masks placed at
their MNI coordinates, and the regional weighting of cortical thinning typical
of Alzheimer's disease (temporal and parietal lobes, posterior cingulate and
precuneus; Frisoni et al. 2010, Nat Rev Neurol 6:67). The result is cached as
one ``.npz`` so later runs need not import nilearn.

:func:`atrophy` turns a severity in [0, 1] into a map of the fraction of each
voxel's tissue lost: the ventricles grow into the surrounding tissue, the cortex
thins from the outside, and the hippocampi shrink. (The phantoms' saved truth is
the tissue removed as a fraction of the voxel: :func:`vaegan.data.phantoms.tissue_loss`.)

Example:
    >>> anatomy = load_anatomy()  # doctest: +SKIP
    >>> loss = atrophy(anatomy, 0.8)  # doctest: +SKIP
    >>> loss.shape, 0.0 <= loss.min(), loss.max() <= 1.0  # doctest: +SKIP
    ((99, 117, 95), True, True)
"""

from __future__ import annotations

import functools
import logging
import zipfile
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
from scipy import ndimage

from vaegan.foundation.files import atomic_write, cache_dir

logger = logging.getLogger(__name__)

ANATOMY_VERSION = 2  # 2 (2026-12-03): the hippocampi tilted as real ones are; 1 had them the wrong way
TEMPLATE_MM = 2  # nilearn's template resolution used here

# MNI centres (mm) of the hippocampi and of the regions where AD thins the cortex most
HIPPOCAMPI = ((-26.0, -22.0, -13.0), (26.0, -22.0, -13.0))
HIPPOCAMPUS_RADII = (6.0, 16.0, 7.0)  # x (medial-lateral), long axis, height
# the long axis rises toward posterior (dz = -tan(tilt) dy): the head anterior and low, the tail behind and above
HIPPOCAMPUS_TILT = np.deg2rad(25.0)
AD_CORTEX = ((-48, -18, -20), (48, -18, -20), (-38, -60, 40), (38, -60, 40), (0, -58, 32))
AD_CORTEX_SIGMA = 22.0


@dataclass(frozen=True)
class Anatomy:
    """Template maps on the MNI152 2 mm grid (shape (99, 117, 95)); depths in mm.

    Attributes:
        t1: template T1 intensities in [0, 1].
        brain: brain mask (0/1).
        tissue: grey + white matter probability.
        grey: grey-matter probability.
        ventricle_depth: distance (mm) from each voxel to the lateral ventricles.
        cortex_depth: distance (mm) below the outer CSF / outside of the brain.
        hippocampus: soft hippocampus masks in [0, 1].
        ad_weight: AD's regional weighting of cortical thinning, in [0.25, 1].
        affine: voxel -> MNI mm.
        csf_intensity: the template T1 value of ventricular CSF.
    """

    t1: np.ndarray
    brain: np.ndarray
    tissue: np.ndarray
    grey: np.ndarray
    ventricle_depth: np.ndarray
    cortex_depth: np.ndarray
    hippocampus: np.ndarray
    ad_weight: np.ndarray
    affine: np.ndarray
    csf_intensity: np.ndarray  # 0-d, so the whole record saves as one npz

    @property
    def ventricles(self) -> np.ndarray:
        """Boolean mask of the lateral ventricles."""
        return self.ventricle_depth == 0

    @classmethod
    def from_nilearn(cls) -> Anatomy:
        """Build from nilearn's bundled MNI152 templates (offline; a few seconds)."""
        from nilearn import datasets

        def array(img) -> np.ndarray:
            return np.asarray(img.get_fdata(), dtype=np.float32)

        t1_img = datasets.load_mni152_template(resolution=TEMPLATE_MM)
        t1 = array(t1_img)
        grey = array(datasets.load_mni152_gm_template(resolution=TEMPLATE_MM))
        white = array(datasets.load_mni152_wm_template(resolution=TEMPLATE_MM))
        brain = array(datasets.load_mni152_brain_mask(resolution=TEMPLATE_MM)) > 0
        affine = np.asarray(t1_img.affine, dtype=np.float64)
        tissue = np.clip(grey + white, 0.0, 1.0) * brain
        exterior, ventricles = _fluid_regions(tissue, brain)
        mm = (TEMPLATE_MM,) * 3
        xyz = _world_coordinates(t1.shape, affine)
        return cls(
            t1=t1 / t1.max(),
            brain=brain.astype(np.float32),
            tissue=tissue.astype(np.float32),
            grey=(grey * brain).astype(np.float32),
            ventricle_depth=ndimage.distance_transform_edt(~ventricles, sampling=mm).astype(np.float32),
            cortex_depth=ndimage.distance_transform_edt(~exterior, sampling=mm).astype(np.float32),
            hippocampus=(_hippocampi(xyz) * tissue).astype(np.float32),
            ad_weight=_ad_weight(xyz).astype(np.float32),
            affine=affine,
            csf_intensity=np.asarray(np.percentile(t1[ventricles], 10) / t1.max(), dtype=np.float32),
        )

    def save(self, path: Path) -> None:
        """Write all maps to one compressed ``.npz`` (atomically, through a temporary file of this process's own)."""

        def write(tmp: Path) -> None:
            with tmp.open("wb") as file:
                np.savez_compressed(file, version=ANATOMY_VERSION, **asdict(self))

        atomic_write(path, write)

    @classmethod
    def load(cls, path: Path) -> Anatomy | None:
        """Read a cached anatomy; ``None`` if missing, unreadable or of another version."""
        try:
            with np.load(path) as data:
                if int(data["version"]) != ANATOMY_VERSION:
                    return None
                return cls(**{f.name: data[f.name] for f in fields(cls)})
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):  # damaged: rebuilt
            return None


@functools.lru_cache(maxsize=1)
def load_anatomy(cache: Path | None = None) -> Anatomy:
    """The template anatomy, from ``cache/anatomy-v{N}.npz`` if there, else built and saved there.

    Args:
        cache: folder of the cached maps; default ``<vaegan cache>/phantoms``.
    """
    if cache is None:
        cache = cache_dir() / "phantoms"
    path = cache / f"anatomy-v{ANATOMY_VERSION}.npz"
    anatomy = Anatomy.load(path)
    if anatomy is None:
        logger.info("building the phantom anatomy from nilearn's MNI152 templates into %s", path)
        anatomy = Anatomy.from_nilearn()
        try:
            anatomy.save(path)
        except OSError as error:  # a read-only cache only costs time
            logger.warning("could not cache the phantom anatomy at %s: %s", path, error)
    return anatomy


def atrophy(anatomy: Anatomy, severity: float, *, regional: bool = True, hippocampus: bool = True) -> np.ndarray:
    """Fraction of tissue lost per voxel, (X, Y, Z) in [0, 1], for a severity in [0, 1].

    Three patterns, combined as independent losses 1 - prod(1 - a_i):
    ventricles grow by up to 4 mm into the tissue around them; the cortex thins
    from outside by up to 2 mm, weighted by region (AD's temporo-parietal
    pattern if ``regional``, uniform otherwise, as in ageing); the hippocampi
    lose up to 60 % of their tissue.
    """
    if severity <= 0.0:
        return np.zeros_like(anatomy.t1)
    # ramps: a voxel at depth d below a surface that recedes by r mm loses clip((r - d) / 2 + 0.5)
    vent = np.clip((4.0 * severity - anatomy.ventricle_depth) / 2.0 + 0.5, 0.0, 1.0) * (anatomy.ventricle_depth > 0)
    reach = 2.0 * severity * (anatomy.ad_weight if regional else 0.6)
    cortex = np.clip((reach - (anatomy.cortex_depth - 1.0)) / 2.0 + 0.5, 0.0, 1.0) * anatomy.grey
    kept = (1.0 - vent * anatomy.tissue) * (1.0 - cortex)
    if hippocampus:
        kept *= 1.0 - 0.6 * severity * anatomy.hippocampus
    return ((1.0 - kept) * anatomy.brain).astype(np.float32)


def _world_coordinates(shape: tuple[int, ...], affine: np.ndarray) -> np.ndarray:
    """(3, X, Y, Z) MNI mm of every voxel centre."""
    ijk = np.indices(shape, dtype=np.float32).reshape(3, -1)
    return (affine[:3, :3] @ ijk + affine[:3, 3:]).reshape(3, *shape).astype(np.float32)


def _fluid_regions(tissue: np.ndarray, brain: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(exterior, ventricles): fluid joined to the outside, and the largest fluid region enclosed by tissue."""
    fluid = (tissue < 0.5) | ~brain
    labels, _ = ndimage.label(fluid)
    exterior = labels == labels[0, 0, 0]
    inner, count = ndimage.label(fluid & ~exterior)
    sizes = ndimage.sum_labels(np.ones_like(inner), inner, index=np.arange(1, count + 1))
    ventricles = inner == 1 + int(np.argmax(sizes))
    return exterior, ventricles


def _hippocampi(xyz: np.ndarray) -> np.ndarray:
    """Two soft tilted ellipsoids at the hippocampi's MNI positions, in [0, 1]."""
    cos, sin = np.cos(HIPPOCAMPUS_TILT), np.sin(HIPPOCAMPUS_TILT)
    total = np.zeros(xyz.shape[1:], dtype=np.float32)
    for centre in HIPPOCAMPI:
        dx, dy, dz = (xyz[i] - centre[i] for i in range(3))
        along, up = cos * dy - sin * dz, sin * dy + cos * dz  # rotate in the sagittal plane
        r2 = sum((d / r) ** 2 for d, r in zip((dx, along, up), HIPPOCAMPUS_RADII))
        total = np.maximum(total, np.exp(-(r2**2)))  # flat-topped: ~1 inside, falling off at the rim
    return total


def _ad_weight(xyz: np.ndarray) -> np.ndarray:
    """0.25 + 0.75 * (nearest AD region's Gaussian): where AD thins the cortex most."""
    peak = np.zeros(xyz.shape[1:], dtype=np.float32)
    for centre in AD_CORTEX:
        d2 = sum((xyz[i] - centre[i]) ** 2 for i in range(3))
        peak = np.maximum(peak, np.exp(-d2 / (2 * AD_CORTEX_SIGMA**2)))
    return 0.25 + 0.75 * peak

"""Tiny MRI files written on the fly with nibabel: brains, BIDS folders, phantom sets; shared by the MRI tests.

Test modules import the fixtures they use (``from tests.data.mri_files import cache_fixture``);
pytest registers each under its ``name`` (``cache``, ``phantom_set``, ...).
"""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from vaegan.data.config import MRIConfig

SHAPE = (20, 24, 20)
SPACING = 2.0
# small, fast preprocessing for tests: 2 mm (the files' own spacing), 16^3, no progress bar; the
# ellipsoids are no brains, so no registration to MNI152 (tests/data/test_registration.py covers it)
OPTIONS = {"size": 16, "spacing": SPACING, "progress": False, "registration": "off"}


def options(**changes) -> MRIConfig:
    return MRIConfig(**{**OPTIONS, **changes})


def brain(seed: int = 0, *, ventricle: float = 0.25, shape: tuple[int, ...] = SHAPE) -> np.ndarray:
    """An ellipsoid 'brain': grey rim (400), white core (600), dark 'ventricle' (120) of radius ``ventricle``."""
    rng = np.random.default_rng(seed)
    grid = np.stack(np.meshgrid(*[np.linspace(-1, 1, n) for n in shape], indexing="ij"))
    r = np.sqrt((grid**2).sum(0))
    image = np.select([r < ventricle, r < 0.6, r < 0.8], [120.0, 600.0, 400.0], 0.0) + rng.normal(0, 5, shape).clip(0)
    return image.astype(np.float32)


def write_nifti(path: Path, array: np.ndarray, affine: np.ndarray | None = None) -> Path:
    """Save ``array`` (2 mm voxels, RAS, unless ``affine``) to ``path``, creating folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if affine is None:
        affine = np.diag([SPACING, SPACING, SPACING, 1.0])
    nib.save(nib.Nifti1Image(array, affine), path)
    return path


def make_bids(
    root: Path, diagnoses: dict[str, str], *, sessions: dict[str, list[str]] | None = None, column: str = "diagnosis"
) -> Path:
    """A BIDS folder: participants.tsv with ``diagnoses``, one T1w per subject (or per listed session)."""
    root.mkdir(parents=True, exist_ok=True)
    rows = [f"participant_id\t{column}\tage"] + [f"{s}\t{dx}\t70" for s, dx in diagnoses.items()]
    (root / "participants.tsv").write_text("\n".join(rows) + "\n")
    for i, subject in enumerate(diagnoses):
        ventricle = 0.35 if diagnoses[subject] == "AD" else 0.2
        for session in (sessions or {}).get(subject, [None]):
            folder = root / subject / (session or "") / "anat"
            name = f"{subject}_{session}_T1w.nii.gz" if session else f"{subject}_T1w.nii.gz"
            write_nifti(folder / name, brain(i, ventricle=ventricle))
    return root


def six_subjects(root: Path) -> Path:
    """sub-01..06, alternately CN and AD; sub-01 has two sessions."""
    diagnoses = {f"sub-{i:02d}": ("CN" if i % 2 else "AD") for i in range(1, 7)}
    return make_bids(root, diagnoses, sessions={"sub-01": ["ses-01", "ses-02"]})


@pytest.fixture(name="cache")
def cache_fixture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty vaegan cache for one test (preprocessed tensors land here)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "vaegan"


@pytest.fixture(scope="session", name="anatomy_cache")
def anatomy_cache_fixture(private_cache: Path) -> Path:
    """The session's XDG cache (tests/conftest.py), so nilearn's templates become the phantom anatomy once."""
    return private_cache


@pytest.fixture(name="phantom_cache")
def phantom_cache_fixture(anatomy_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(anatomy_cache))
    return anatomy_cache / "vaegan"


@pytest.fixture(scope="session", name="phantom_set")
def phantom_set_fixture(anatomy_cache: Path) -> Path:
    """12 phantom subjects at 6 mm (seconds), shared read-only by the session's tests."""
    import os

    from vaegan.data.phantoms import write_phantoms

    old = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(anatomy_cache)
    try:
        folder = anatomy_cache / "phantoms12"
        if (folder / "participants.tsv").is_file():  # made for another test module
            return folder
        return write_phantoms(folder, subjects=12, seed=0, spacing=6.0)
    finally:
        if old is None:
            del os.environ["XDG_CACHE_HOME"]
        else:
            os.environ["XDG_CACHE_HOME"] = old

"""Raw scans onto MNI152: a template brain moved by a known rotation and shift, stored obliquely, comes back.

The scan is nilearn's MNI152 T1 moved by ``MOTION`` (10 deg about x, 6 deg about z,
8 mm), written by nibabel with an oblique (15 deg) LPS header and 1.5 x 1.8 x 3.0 mm
voxels, with a bias field and noise. Registration must find ``MOTION`` within
``TOLERANCE_MM`` at the corners of a brain-sized box, and the result must
correlate with the template.
"""

from __future__ import annotations

import logging
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch

from benchmarks.registration import CORNERS, MOTION, moved_scan
from tests.data.mri_files import (  # noqa: F401
    anatomy_cache_fixture,
    brain,
    cache_fixture,
    make_bids,
    options,
    phantom_set_fixture,
    write_nifti,
)
from vaegan.data import mri_cache, registration
from vaegan.data.bad_inputs import BadFile
from vaegan.data.config import MRIConfig
from vaegan.data.mri import read_volumes
from vaegan.data.mri_sources import raw_scans
from vaegan.data.mri_transforms import preprocess, read_volume, registered_grid
from vaegan.data.volumes import to_nifti

TOLERANCE_MM = 2.0
ZOOMS = (1.5, 1.8, 3.0)
SHAPE = (120, 130, 60)


def oblique_scan(path: Path) -> Path:
    """The template moved by ``MOTION``, on an oblique LPS grid of anisotropic voxels, saved by nibabel
    (the scan benchmarks/registration.py times, at the test's resolution)."""
    image, header = moved_scan(SHAPE, ZOOMS)
    img = nib.Nifti1Image(image.astype(np.int16), header)
    img.set_qform(header, code=1)
    img.set_sform(header, code=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(img, path)
    return path


@pytest.fixture(scope="module")
def scan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return oblique_scan(tmp_path_factory.mktemp("scans") / "sub-01_T1w.nii.gz")


def test_header_is_oblique_lps_and_anisotropic(scan):
    img = nib.load(scan)
    assert nib.aff2axcodes(img.affine) == ("L", "P", "S")
    assert np.allclose(img.header.get_zooms(), ZOOMS)
    assert not np.allclose(np.abs(img.affine[:3, :3]), np.diag(ZOOMS))  # oblique: off-diagonal terms


def test_known_rotation_and_shift_are_recovered(scan):
    image, affine = read_volume(scan)
    done = registration.to_template(image, affine, spacing=4.0)
    errors = np.linalg.norm((done.transform @ CORNERS - MOTION @ CORNERS)[:3], axis=0)
    assert errors.mean() < TOLERANCE_MM and errors.max() < 2 * TOLERANCE_MM, errors
    t1, mask, grid = registration.template_on_grid(4.0)
    assert done.image.shape == t1.shape and np.allclose(done.affine, grid)
    inside = mask > 0
    assert np.corrcoef(done.image[inside], t1[inside])[0, 1] > 0.9
    assert done.correlation > 0.9 and not done.image[~inside].any()  # masked by the template's brain
    assert set(done.seconds) == {"n4", "registration", "resampling"}


def test_registration_is_reproducible(scan):
    """The metric's sample was seeded with 0, which SimpleITK reads as "the wall clock": each run fitted
    another transform, and now and then a poor one (correlation 0.38, a scan refused)."""
    image, affine = read_volume(scan)
    moving = registration.to_sitk(image, affine)
    first, second = (registration.register(moving, spacing=4.0)[1] for _ in range(2))
    moved = np.linalg.norm(((first - second) @ CORNERS)[:3], axis=0)  # ITK's threads still sum in any order
    assert moved.max() < 0.05, moved  # mm; samples drawn anew moved the corners by tenths of a millimetre


def test_n4_flattens_the_bias_field(scan):
    image, affine = read_volume(scan)
    corrected = registration.from_sitk(registration.bias_corrected(registration.to_sitk(image, affine)))
    half = SHAPE[0] // 2  # the field rises left to right by exp(0.6): compare the two halves of the head
    inside = image > 0.2 * image.max()
    before = image[half:][inside[half:]].mean() / image[:half][inside[:half]].mean()
    after = corrected[half:][inside[half:]].mean() / corrected[:half][inside[:half]].mean()
    assert abs(np.log(after)) < 0.5 * abs(np.log(before))


def test_sheared_header_is_a_bad_file():
    affine = np.eye(4)
    affine[0, 1] = 0.5
    with pytest.raises(BadFile, match="sheared affine"):
        registration.to_template(brain(0), affine, spacing=4.0)


def test_auto_registers_raw_scans_only():
    assert registration.raw_steps("auto", "auto", Path("sub-01_T1w.nii.gz")) == (True, True)
    assert registration.raw_steps("auto", "auto", Path("sub-01_space-MNI152NLin2009cAsym_T1w.nii.gz")) == (False, False)
    assert registration.raw_steps("off", "on", None) == (False, True)
    assert registration.raw_steps("on", "off", None) == (True, False)


def test_phantom_folders_are_not_registered_by_auto(phantom_set, tmp_path, cache, monkeypatch):
    monkeypatch.setattr(registration, "to_template", lambda *a, **k: pytest.fail("a phantom was registered"))
    data = read_volumes(phantom_set, MRIConfig(size=16, spacing=6.0, progress=False))
    assert len(data.subjects) == 12
    assert raw_scans(phantom_set, MRIConfig()).registration == "off"  # its dataset_description.json
    assert raw_scans(phantom_set, MRIConfig()).bias_correction == "off"
    assert raw_scans(phantom_set, MRIConfig(registration="on")).registration == "on"  # an explicit choice stays
    other = make_bids(tmp_path / "bids", {"sub-01": "CN"})
    (other / "dataset_description.json").write_text('{"Name": "x", "GeneratedBy": [{"Name": "clinica"}]}')
    assert raw_scans(other, MRIConfig()).registration == "auto"


def test_unregistrable_scan_is_named_and_skipped(scan, tmp_path, cache, caplog):
    noise = np.random.default_rng(1).uniform(0.0, 1000.0, (40, 40, 40)).astype(np.float32)
    write_nifti(tmp_path / "noise.nii.gz", noise)
    sheared = np.diag([2.0, 2.0, 2.0, 1.0])
    sheared[0, 1] = 1.0  # an sform no scanner writes: x depends on j
    write_nifti(tmp_path / "sheared.nii.gz", brain(0), sheared)
    (tmp_path / "list.csv").write_text(f"path,label\n{scan},CN\nnoise.nii.gz,AD\nsheared.nii.gz,AD\n")
    with caplog.at_level(logging.INFO, logger="vaegan"):
        data = read_volumes(tmp_path / "list.csv", options(registration="on", spacing=4.0, size=24))
    assert data.paths == [str(scan)] and data.volumes.shape == (1, 1, 24, 24, 24)
    reasons = {Path(item.path).name: item.reason for item in data.skipped}
    assert set(reasons) == {"noise.nii.gz", "sheared.nii.gz"}
    assert "MNI152" in reasons["noise.nii.gz"] and "registration=off" in reasons["noise.nii.gz"]
    assert "sheared affine" in reasons["sheared.nii.gz"]
    assert len(data.seconds) == 1 and data.seconds[0] > 0
    assert "correlation with MNI152" in caplog.text  # each scan's steps and fit
    summary = [r.getMessage() for r in caplog.records if "skipped 2 inputs" in r.getMessage()]
    assert len(summary) == 1 and "s per scan" in summary[0]  # the time, in the bad-input summary


def test_raw_scan_settings_are_part_of_the_cache_key(tmp_path, cache, monkeypatch):
    folder = make_bids(tmp_path / "bids", {"sub-01": "CN", "sub-02": "AD"})
    n4 = read_volumes(folder, options(bias_correction="on"))
    plain = read_volumes(folder, options())
    assert not torch.allclose(n4.volumes, plain.volumes)  # N4 ran for the first only
    monkeypatch.setattr(mri_cache, "_compute", lambda *a, **k: pytest.fail("recomputed despite the cache"))
    assert torch.allclose(read_volumes(folder, options(bias_correction="on")).volumes, n4.volumes)


def cut_below(scan: Path, path: Path, z_mm: float) -> Path:
    """``scan`` with every voxel below ``z_mm`` (world) blanked: a field of view that misses the cerebellum."""
    img = nib.load(scan)
    voxels = np.indices(img.shape, dtype=np.float64).reshape(3, -1)
    world_z = (img.affine[:3, :3] @ voxels + img.affine[:3, 3:])[2].reshape(img.shape)
    data = np.where(world_z < z_mm, 0, np.asarray(img.dataobj)).astype(np.int16)
    nib.save(nib.Nifti1Image(data, img.affine, img.header), path)
    return path


def test_registered_scans_share_the_template_grid(scan, tmp_path):
    """A registered scan is cropped to the template's brain, not its own: a scan that misses the lower brain
    keeps every other voxel where the whole scan has it, and the grid is MNI152's (MNI mm in its NIfTI)."""
    settings = MRIConfig(size=32, spacing=4.0, registration="on", bias_correction="off", progress=False)
    whole = preprocess(*read_volume(scan), settings)[0][0]  # (D, H, W): inferior -> superior first
    cut = preprocess(*read_volume(cut_below(scan, tmp_path / "cut_T1w.nii.gz", -45.0)), settings)[0][0]
    upper = slice(whole.shape[0] // 2, None)  # the top half of the brain, which both scans hold
    assert np.corrcoef(whole[upper].flatten(), cut[upper].flatten())[0, 1] > 0.98
    grid = registered_grid(settings)
    written = to_nifti(whole, affine=grid)
    from nilearn.image import resample_to_img

    t1 = nib.Nifti1Image(*registration._template()[::2])  # the template on its own 2 mm grid
    template = resample_to_img(t1, written, interpolation="linear").get_fdata()
    inside = written.get_fdata() > 0
    assert np.corrcoef(template[inside], written.get_fdata()[inside])[0, 1] > 0.9


def test_a_scan_named_in_mni_space_is_put_on_the_template_grid_unfitted(scan, tmp_path, monkeypatch):
    """``_space-MNI*`` under auto: resampled onto the same grid as a registered scan, without a fit."""
    t1, _, template_affine = registration._template()
    named = tmp_path / "sub-02_space-MNI152_T1w.nii.gz"
    nib.save(nib.Nifti1Image((t1 * 1000).astype(np.int16), template_affine), named)
    settings = MRIConfig(size=32, spacing=4.0, progress=False)  # registration: auto
    registered = preprocess(*read_volume(scan), settings.model_copy(update={"registration": "on"}))[0]
    monkeypatch.setattr(registration, "register", lambda *a, **k: pytest.fail("a scan in MNI space was registered"))
    resampled = preprocess(*read_volume(named), settings, source=named)[0]
    assert np.corrcoef(resampled.flatten(), registered.flatten())[0, 1] > 0.9  # the same voxels, not shifted
    moved = tmp_path / "sub-03_space-MNI152_T1w.nii.gz"  # misnamed: a raw scan is not in MNI space
    nib.save(nib.load(scan), moved)
    with pytest.raises(BadFile, match="does not match MNI152"):
        preprocess(*read_volume(moved), settings, source=moved)

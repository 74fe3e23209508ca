"""Physically impossible NIfTI headers are rejected before anything is resampled or allocated."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from tests.data.mri_files import brain
from vaegan.data.bad_inputs import BadFile
from vaegan.data.mri_transforms import read_volume


def patched(path: Path, **fields) -> Path:
    """A brain saved as ``path`` (.nii) whose raw header fields are then overwritten, past nibabel's checks."""
    img = nib.Nifti1Image(brain(0), np.diag([2.0, 2.0, 2.0, 1.0]))
    img.set_qform(None, code=0)
    img.set_sform(None, code=0)  # the affine comes from pixdim alone, unless a test sets an sform
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(img, path)
    raw = bytearray(path.read_bytes())
    header = nib.Nifti1Header(bytes(raw[:348]), check=False)
    for name, value in fields.items():
        header[name] = value
    raw[:348] = header.binaryblock
    path.write_bytes(bytes(raw))
    return path


@pytest.mark.parametrize(
    ("zooms", "reason"),
    [
        ((1000.0, 2.0, 2.0), "field of view of 20000 mm along axis 0"),
        ((0.5, 0.5, 0.5), "field of view of 10 mm along axis 0"),
        ((2.0, 0.0, 2.0), "voxel size 0 mm along axis 1"),
        ((2.0, 2.0, -3.0), "voxel size -3 mm along axis 2"),
        ((2.0, np.nan, 2.0), "voxel size nan mm along axis 1"),
    ],
    ids=["huge-voxels", "tiny-fov", "zero-voxel", "negative-voxel", "nan-voxel"],
)
def test_impossible_voxel_sizes_and_fields_of_view(tmp_path, zooms, reason):
    path = patched(tmp_path / "x.nii", pixdim=[1.0, *zooms, 1.0, 1.0, 1.0, 1.0])
    with pytest.raises(BadFile, match=reason) as error:
        read_volume(path)
    assert "\n" not in str(error.value)


def test_a_good_header_passes(tmp_path):
    pixdim = [1.0, 2.0, 2.0, 2.0, 1.0, 1.0, 1.0, 1.0]
    image, affine = read_volume(patched(tmp_path / "x.nii", pixdim=pixdim, qform_code=1))
    assert image.shape == (20, 24, 20) and np.allclose(np.diag(affine)[:3], 2.0)


def test_a_header_that_states_no_orientation_is_refused_as_analyze_is(tmp_path):
    """qform_code and sform_code 0: NIfTI's fallback 'for backwards compatibility with ANALYZE 7.5', with
    no orientation; nibabel then guesses a flipped x, as for the Analyze files already refused."""
    path = patched(tmp_path / "x.nii", pixdim=[1.0, 2.0, 2.0, 2.0, 1.0, 1.0, 1.0, 1.0])
    with pytest.raises(BadFile, match="qform_code and sform_code.*left"):
        read_volume(path)


@pytest.mark.parametrize(
    ("affine", "reason"),
    [
        (np.zeros((4, 4)), "singular"),
        (np.diag([2.0, 2.0, np.inf, 1.0]), "not finite"),
    ],
    ids=["singular", "infinite"],
)
def test_singular_or_non_finite_affines(tmp_path, affine, reason):
    path = patched(tmp_path / "x.nii", sform_code=2, srow_x=affine[0], srow_y=affine[1], srow_z=affine[2])
    with pytest.raises(BadFile, match=reason):
        read_volume(path)


def test_absurd_dimensions_are_rejected_before_reading(tmp_path):
    path = patched(tmp_path / "x.nii", dim=[3, 30000, 30000, 30000, 1, 1, 1, 1])
    with pytest.raises(BadFile, match="30000 x 30000 x 30000 voxels"):
        read_volume(path)


def test_an_analyze_file_is_refused_for_its_unknown_left_right(tmp_path):
    """A CSV row naming brain.img (Analyze 7.5): nibabel assumes a left-right flip the header cannot state,
    so the scan could train mirrored, without a word."""
    path = tmp_path / "brain.img"
    nib.save(nib.AnalyzeImage(brain(0).astype(np.float32), np.diag([2.0, 2.0, 2.0, 1.0])), path)
    with pytest.raises(BadFile, match="Analyze"):
        read_volume(path)


def test_a_nifti_pair_is_read(tmp_path):
    path = tmp_path / "brain.hdr"
    nib.save(nib.Nifti1Pair(brain(0).astype(np.float32), np.diag([2.0, 2.0, 2.0, 1.0])), path)
    image, _ = read_volume(path)
    assert image.shape == brain(0).shape

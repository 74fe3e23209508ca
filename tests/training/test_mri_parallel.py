"""MRI preprocessing in several processes gives exactly what one process gives."""

from __future__ import annotations

import torch

from tests.data.mri_files import options, six_subjects, write_nifti
from vaegan.data.mri import read_volumes


def test_two_worker_processes_match_one_and_keep_the_bad_file_reasons(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    folder = six_subjects(tmp_path / "bids")
    bad = folder / "sub-02" / "anat" / "sub-02_T1w.nii.gz"
    bad.write_bytes(bad.read_bytes()[:100])  # truncated
    write_nifti(folder / "sub-04" / "anat" / "sub-04_T1w.nii.gz", torch.zeros(8, 8, 8).numpy())  # blank
    one = read_volumes(folder, options(cache=False, workers=1))
    two = read_volumes(folder, options(cache=False, workers=2))
    assert torch.equal(one.volumes, two.volumes)
    assert one.paths == two.paths and len(one.paths) == 5
    assert [str(item) for item in one.skipped] == [str(item) for item in two.skipped] and len(two.skipped) == 2

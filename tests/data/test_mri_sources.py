"""CSV inputs refuse the settings that only mean something for a BIDS folder."""

from __future__ import annotations

import pytest

from tests.data.mri_files import brain, options, write_nifti
from vaegan.data.bad_inputs import BadInputs
from vaegan.data.mri_sources import csv_records
from vaegan.foundation.errors import DataError


@pytest.mark.parametrize(
    ("setting", "key"),
    [({"session": "first"}, "data.mri.session"), ({"derivatives": "synthstrip"}, "data.mri.derivatives")],
)
def test_a_bids_only_setting_is_refused_for_a_csv(tmp_path, setting, key):
    """session: first on a CSV kept every row, silently: a run meant on baselines trained on every visit."""
    write_nifti(tmp_path / "img" / "sub-01_ses-1_T1w.nii.gz", brain(0))
    (tmp_path / "list.csv").write_text("path,label\nimg/sub-01_ses-1_T1w.nii.gz,CN\n")
    with pytest.raises(DataError, match=rf"list\.csv: {key}=.*BIDS folder.*list .*rows.*default"):
        csv_records(tmp_path / "list.csv", options(**setting), BadInputs(strict=False))
    assert len(csv_records(tmp_path / "list.csv", options(), BadInputs(strict=False))) == 1  # the defaults pass

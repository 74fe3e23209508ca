"""Settings that only mean something for a BIDS folder, given with a CSV: refused before training, only
warned about when a run's data are read again (the setting is stored in the run's checkpoint)."""

from __future__ import annotations

import logging

import pytest

from tests.data.mri_files import brain, make_bids, options, write_nifti
from vaegan.data.bad_inputs import BadInputs
from vaegan.data.csv_source import check_csv_settings, csv_records
from vaegan.foundation.errors import DataError

SETTINGS = [({"session": "first"}, "data.mri.session"), ({"derivatives": "synthstrip"}, "data.mri.derivatives")]


@pytest.fixture(name="listed")
def listed_fixture(tmp_path):
    """A CSV of two scans of one subject (two visits)."""
    for session in ("ses-1", "ses-2"):
        write_nifti(tmp_path / "img" / f"sub-01_{session}_T1w.nii.gz", brain(0))
    rows = "".join(f"img/sub-01_{s}_T1w.nii.gz,CN\n" for s in ("ses-1", "ses-2"))
    (tmp_path / "list.csv").write_text("path,label\n" + rows)
    return tmp_path / "list.csv"


@pytest.mark.parametrize(("setting", "key"), SETTINGS)
def test_a_bids_only_setting_is_refused_before_training_on_a_csv(listed, setting, key):
    """session: first on a CSV kept every row, silently: a run meant on baselines trained on every visit."""
    for given in (listed, listed.parent):  # the CSV, or the folder that holds it
        with pytest.raises(DataError, match=rf"list\.csv: {key}=.*BIDS folder.*list .*rows.*default"):
            check_csv_settings(given, options(**setting))


@pytest.mark.parametrize(("setting", "key"), SETTINGS)
def test_a_run_trained_on_a_csv_with_a_bids_only_setting_still_reads_every_row(listed, caplog, setting, key):
    """Refusing it when the data were read made a run trained that way (on every row) impossible to evaluate,
    visualize or sample: the setting is stored in its checkpoint."""
    with caplog.at_level(logging.WARNING, logger="vaegan.data.mri_sources"):
        records = csv_records(listed, options(**setting), BadInputs(strict=False))
    assert [r.path.name for r in records] == ["sub-01_ses-1_T1w.nii.gz", "sub-01_ses-2_T1w.nii.gz"]
    (message,) = [r.getMessage() for r in caplog.records]
    assert "list.csv" in message and key in message and "every row" in message


def test_the_defaults_and_a_bids_folder_pass(listed, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="vaegan.data.mri_sources"):
        assert len(csv_records(listed, options(), BadInputs(strict=False))) == 2
    assert caplog.records == []
    check_csv_settings(listed, options())
    bids = make_bids(tmp_path / "bids", {"sub-01": "CN"}, sessions={"sub-01": ["ses-1", "ses-2"]})
    check_csv_settings(bids, options(session="first", derivatives="synthstrip"))  # BIDS: they mean something


def test_training_on_a_csv_with_session_first_is_refused_before_the_scans_are_read(listed, monkeypatch):
    from vaegan import experiment
    from vaegan.config import build_config

    def no_read(config):
        raise AssertionError("the scans were read before the setting was refused")

    monkeypatch.setattr(experiment, "load_data", no_read)
    config = build_config(
        {"data": {"dataset": "mri", "data_dir": str(listed), "mri": {"session": "first", "size": 16}},
         "model": {"name": "cvae"}}
    )  # fmt: skip
    with pytest.raises(DataError, match="data.mri.session"):
        experiment.prepare(config)

"""BIDS through pybids: sessions (all, first, last), the first run, subject-level splits; tables with spaces."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.data.mri_files import brain, cache_fixture, make_bids, options, write_nifti  # noqa: F401
from vaegan.data import load_dataset
from vaegan.data.bids import bids_images, natural_key
from vaegan.data.mri import read_volumes
from vaegan.foundation.errors import DataError

SESSIONS = ("ses-2", "ses-10")  # "10" after "2": natural order, not string order


def longitudinal(root: Path, subjects: int = 6) -> Path:
    """sub-01..: alternately CN and AD; two sessions each, each with run-1 and run-2 (a brighter repeat)."""
    diagnoses = {f"sub-{i:02d}": ("CN" if i % 2 else "AD") for i in range(1, subjects + 1)}
    make_bids(root, {})  # participants.tsv header only, rows below
    rows = ["participant_id\tdiagnosis\tage"] + [f"{s}\t{dx}\t70" for s, dx in diagnoses.items()]
    (root / "participants.tsv").write_text("\n".join(rows) + "\n")
    (root / "dataset_description.json").write_text('{"Name": "test", "BIDSVersion": "1.9.0"}\n')
    for i, subject in enumerate(diagnoses):
        for session in SESSIONS:
            for run in (1, 2):
                name = f"{subject}_{session}_run-{run}_T1w.nii.gz"
                write_nifti(root / subject / session / "anat" / name, brain(i) * run)
    return root


def names(images: dict[str, list[list[Path]]]) -> dict[str, list[list[str]]]:
    return {subject: [[p.name for p in paths] for paths in samples] for subject, samples in images.items()}


def test_sessions_all_first_last_and_the_first_run(tmp_path):
    root = longitudinal(tmp_path / "bids", subjects=2)
    (root / "derivatives" / "x" / "sub-01" / "anat").mkdir(parents=True)  # not indexed
    write_nifti(root / "derivatives" / "x" / "sub-01" / "anat" / "sub-01_desc-brain_T1w.nii.gz", brain(0))
    runs = {ses: [f"sub-02_{ses}_run-1_T1w.nii.gz", f"sub-02_{ses}_run-2_T1w.nii.gz"] for ses in SESSIONS}
    assert names(bids_images(root, "all"))["sub-02"] == [runs["ses-2"], runs["ses-10"]]  # a sample per session
    # one sample: the chosen session's first run, then what replaces it if it cannot be read
    assert names(bids_images(root, "first"))["sub-02"] == [runs["ses-2"] + runs["ses-10"]]
    assert names(bids_images(root, "last"))["sub-02"] == [runs["ses-10"] + runs["ses-2"]]
    every = [p for sample in bids_images(root)["sub-01"] for p in sample]
    assert all(str(p).startswith(str(root)) for p in every)  # the caller's root, not resolved


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


@pytest.mark.parametrize("session", ["first", "last"])
def test_an_unreadable_chosen_scan_falls_back_to_the_next_run_then_session(tmp_path, cache, session):
    """session first/last chose a scan before it was read: a truncated chosen file dropped the whole subject.
    Now the session's next run is read instead, then the next session's, each step named in the summary."""
    root = longitudinal(tmp_path / "bids", subjects=4)
    chosen, other = SESSIONS if session == "first" else SESSIONS[::-1]
    truncate(root / "sub-01" / chosen / "anat" / f"sub-01_{chosen}_run-1_T1w.nii.gz")  # run-2 of it is read
    for run in (1, 2):  # sub-02's whole chosen session is unreadable: its other session is read
        truncate(root / "sub-02" / chosen / "anat" / f"sub-02_{chosen}_run-{run}_T1w.nii.gz")
    data = read_volumes(root, options(spatial_dims=3, session=session))
    used = dict(zip(data.subjects, (Path(p).name for p in data.paths)))
    assert used == {
        "sub-01": f"sub-01_{chosen}_run-2_T1w.nii.gz",
        "sub-02": f"sub-02_{other}_run-1_T1w.nii.gz",
        "sub-03": f"sub-03_{chosen}_run-1_T1w.nii.gz",
        "sub-04": f"sub-04_{chosen}_run-1_T1w.nii.gz",
    }
    reasons = {Path(b.path).name: b.reason for b in data.skipped}
    assert len(reasons) == 3
    assert f"sub-01_{chosen}_run-2_T1w.nii.gz is used instead" in reasons[f"sub-01_{chosen}_run-1_T1w.nii.gz"]
    assert f"sub-02_{other}_run-1_T1w.nii.gz is used instead" in reasons[f"sub-02_{chosen}_run-2_T1w.nii.gz"]


def test_natural_order_of_session_labels():
    labels = ["M012", "baseline", "10", "M006", "2"]
    assert sorted(labels, key=natural_key) == ["2", "10", "M006", "M012", "baseline"]


@pytest.mark.parametrize(("session", "per_subject"), [("all", 2), ("first", 1), ("last", 1)])
def test_sessions_are_samples_but_splits_stay_by_subject(tmp_path, cache, session, per_subject):
    root = longitudinal(tmp_path / "bids", subjects=8)
    mri = options(spatial_dims=3, session=session, test_size=0.25)
    data = read_volumes(root, mri)
    assert len(data.subjects) == 8 * per_subject and len(set(data.subjects)) == 8
    assert all("run-1" in p for p in data.paths)
    splits = load_dataset("mri", data_dir=root, val_size=0.25, mri=mri)
    seen = [{s.group_names[g] for g in s.groups.tolist()} for s in (splits.train, splits.val, splits.test)]
    assert all(seen) and not (seen[0] & seen[1] or seen[0] & seen[2] or seen[1] & seen[2])
    assert sum(len(s) for s in (splits.train, splits.val, splits.test)) == 8 * per_subject


def test_spaces_around_column_names_and_values(tmp_path, cache):
    root = make_bids(tmp_path / "bids", {"sub-01": "CN", "sub-02": "AD"})
    (root / "participants.tsv").write_text(" participant_id \t diagnosis \tage\n sub-01 \t CN \t70\nsub-02\tAD \t71\n")
    data = read_volumes(root, options())
    assert data.subjects == ["sub-01", "sub-02"] and data.labels.tolist() == [0, 1] and not data.skipped
    (tmp_path / "list.csv").write_text("path, label\n bids/sub-01/anat/sub-01_T1w.nii.gz , AD\n")
    data = read_volumes(tmp_path / "list.csv", options())
    assert data.subjects == ["sub-01"] and data.labels.tolist() == [1] and not data.skipped


def test_images_from_a_derivatives_pipeline(tmp_path, cache):
    root = make_bids(tmp_path / "bids", {"sub-01": "CN", "sub-02": "AD", "sub-03": "CN"})
    stripped = root / "derivatives" / "synthstrip"
    for i, subject in enumerate(("sub-01", "sub-02")):  # sub-03 was not stripped
        write_nifti(stripped / subject / "anat" / f"{subject}_desc-brain_T1w.nii.gz", brain(i))
    data = read_volumes(root, options(derivatives="synthstrip"))
    assert data.subjects == ["sub-01", "sub-02"] and all("derivatives/synthstrip" in p for p in data.paths)
    assert [(Path(b.path).name, b.reason) for b in data.skipped] == [
        ("sub-03", "is listed in participants.tsv but has no anat/*_T1w.nii[.gz] image in derivatives/synthstrip")
    ]
    with pytest.raises(DataError, match="no such derivatives folder.*'fsl'"):
        read_volumes(root, options(derivatives="fsl"))


def test_session_diagnoses_win_over_participants(tmp_path, cache):
    root = longitudinal(tmp_path / "bids", subjects=4)
    participants = "participant_id\tdiagnosis\nsub-01\tCN\nsub-02\tn/a\nsub-03\tCN\nsub-04\tAD\n"
    (root / "participants.tsv").write_text(participants)
    sessions = {"sub-01": ("CN", "AD"), "sub-02": ("AD", "n/a"), "sub-03": ("MCI", "CN")}  # sub-04: no table
    for subject, (first, second) in sessions.items():
        rows = f"session_id\tdiagnosis\tage\nses-2\t{first}\t70\nses-10\t{second}\t72\n"
        (root / subject / f"{subject}_sessions.tsv").write_text(rows)
    data = read_volumes(root, options())
    sessions_read = [Path(path).name.split("_")[1] for path in data.paths]
    labels = list(zip(data.subjects, sessions_read, data.labels.tolist()))
    assert labels == [
        ("sub-01", "ses-2", 0),
        ("sub-01", "ses-10", 1),  # converted: the session's diagnosis, not the subject's
        ("sub-02", "ses-2", 1),
        ("sub-03", "ses-10", 0),
        ("sub-04", "ses-2", 1),  # no sessions.tsv: participants.tsv
        ("sub-04", "ses-10", 1),
    ]
    reasons = [(Path(b.path).name, b.reason) for b in data.skipped]
    assert reasons[0] == (  # ses-10 falls back to participants.tsv, which has none either: that scan is named
        "sub-02_ses-10_run-1_T1w.nii.gz",
        "ses-10's row in sub-02_sessions.tsv has no 'diagnosis' (empty or n/a), and participants.tsv has none for "
        "sub-02 either; give the session one in sub-02_sessions.tsv",
    )
    assert reasons[1][0] == "sub-03_ses-2_run-1_T1w.nii.gz" and "'MCI' is not in" in reasons[1][1]
    assert reasons[1][1].startswith("per sub-03_sessions.tsv, diagnosis") and len(reasons) == 2
    (root / "participants.tsv").write_text("participant_id\tdiagnosis_sc\nsub-01\tCN\nsub-04\tAD\n")
    data = read_volumes(root, options())  # the column only in the sessions tables: sub-04 has none
    assert sorted(set(data.subjects)) == ["sub-01", "sub-02", "sub-03"]
    assert [b.reason for b in data.skipped if b.path.endswith("sub-04")] == [
        "has no 'diagnosis': participants.tsv has no 'diagnosis' column (columns: participant_id, diagnosis_sc), "
        "and no sub-04_sessions.tsv gives one; add the column to participants.tsv, or to "
        "sub-04/sub-04_sessions.tsv (beside session_id)"
    ]


def test_a_wide_table_without_the_column_names_the_close_ones():
    from vaegan.data.mri_sources import column_list

    wide = [f"score_{i}" for i in range(20)] + ["DX_bl", "diagnosis_sc"]
    assert column_list(wide, "diagnosis") == "22 columns, the close ones: diagnosis_sc"
    assert column_list(wide, "DX") == "22 columns, the close ones: DX_bl"
    assert column_list(wide, "group") == "22 columns, none close"
    assert column_list(["participant_id", "age"], "diagnosis") == "columns: participant_id, age"


def test_a_subject_listed_twice_with_two_diagnoses_is_named_not_silently_relabelled(tmp_path):
    # the later row won: sub-02 AD, then "02 CN" made it CN
    from vaegan.data.bad_inputs import BadInputs
    from vaegan.data.mri_sources import bids_records

    root = make_bids(tmp_path / "bids", {"sub-01": "CN", "sub-02": "AD", "sub-03": "CN"})
    with (root / "participants.tsv").open("a") as table:
        table.write("02\tCN\t71\nsub-03\tCN\t70\n")  # sub-02 contradicted; sub-03 merely repeated
    bad = BadInputs(strict=False)
    records = bids_records(root, options(), bad)
    assert sorted(r.subject for r in records) == ["sub-01", "sub-03"]
    (item,) = bad.items
    assert "sub-02" in item.path and "lines 3 and 5" in item.reason and "AD" in item.reason and "CN" in item.reason


def test_a_scan_listed_twice_in_a_csv_is_named_and_kept_once(tmp_path):
    # the same scan as CN and as AD was kept twice with both labels; spelled two ways, kept twice
    from vaegan.data.bad_inputs import BadInputs
    from vaegan.data.csv_source import csv_records

    for i in range(3):
        write_nifti(tmp_path / "img" / f"scan{i}.nii.gz", brain(i))
    rows = ["path,label", "img/scan0.nii.gz,CN", "img/scan1.nii.gz,AD", "img/../img/scan1.nii.gz,AD"]
    rows += ["img/scan2.nii.gz,CN", "img/scan2.nii.gz,AD"]
    (tmp_path / "list.csv").write_text("\n".join(rows) + "\n")
    bad = BadInputs(strict=False)
    records = csv_records(tmp_path / "list.csv", options(), bad)
    assert [r.path.name for r in records] == ["scan0.nii.gz", "scan1.nii.gz"]
    reasons = {item.path.rsplit(" ", 1)[-1]: item.reason for item in bad.items}
    assert "repeats line 3" in reasons["4"]
    assert "line 5" in reasons["6"] and "CN" in reasons["6"] and "AD" in reasons["6"]
    assert all("scan2" not in r.path.name for r in records)  # which label is right is not for vaegan to guess


def test_a_session_listed_twice_with_two_diagnoses_is_named_and_left_to_participants(tmp_path, caplog):
    """ses-2 CN then ses-2 AD in one sessions.tsv: the last row won without a word."""
    import logging

    from vaegan.data.mri_sources import session_diagnoses

    (tmp_path / "sub-01").mkdir()
    table = tmp_path / "sub-01" / "sub-01_sessions.tsv"
    table.write_text("session_id\tdiagnosis\nses-2\tCN\nses-2\tAD\nses-3\tAD\n")
    with caplog.at_level(logging.WARNING):
        found = session_diagnoses(tmp_path, ["sub-01"], "diagnosis")
    assert found == {("sub-01", "ses-3"): "AD"}
    assert "sub-01_sessions.tsv" in caplog.text and "ses-2" in caplog.text and "'CN'" in caplog.text


def test_a_sessions_table_without_session_id_is_warned_about(tmp_path, caplog):
    import logging

    from vaegan.data.mri_sources import session_diagnoses

    (tmp_path / "sub-01").mkdir()
    (tmp_path / "sub-01" / "sub-01_sessions.tsv").write_text("session\tdiagnosis\nses-2\tAD\n")
    with caplog.at_level(logging.WARNING):
        assert session_diagnoses(tmp_path, ["sub-01"], "diagnosis") == {}
    assert "session_id" in caplog.text


def test_a_bids_layout_on_a_file_or_a_folder_without_participants_says_what_bids_needs(tmp_path):
    from vaegan.data.bad_inputs import BadInputs
    from vaegan.data.mri_sources import bids_records

    csv = tmp_path / "cohort.csv"
    csv.write_text("path,label\n")
    with pytest.raises(DataError, match="a BIDS folder"):
        bids_records(csv, options(), BadInputs(strict=False))
    with pytest.raises(DataError, match="participants.tsv"):
        bids_records(tmp_path, options(), BadInputs(strict=False))

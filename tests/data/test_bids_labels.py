"""Diagnoses per session (sessions.tsv) with gaps: each unlabelled session is named by its file, and
under ``session: first/last`` the next labelled session replaces an unlabelled chosen one."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.data.mri_files import cache_fixture, make_bids, options  # noqa: F401
from vaegan.data.bad_inputs import BadInputs
from vaegan.data.mri import read_volumes
from vaegan.data.mri_sources import bids_records

SESSIONS = ["ses-1", "ses-2", "ses-3", "ses-4"]


def cohort(root: Path, participants: str, sessions: dict[str, str]) -> Path:
    """sub-01 with four sessions, its diagnoses per session in ``sessions`` (a session left out has no row);
    sub-02 with one session and no sessions.tsv; ``participants``: participants.tsv's text."""
    make_bids(root, {"sub-01": "AD", "sub-02": "CN"}, sessions={"sub-01": SESSIONS, "sub-02": ["ses-1"]})
    (root / "participants.tsv").write_text(participants)
    rows = "".join(f"{session}\t{dx}\n" for session, dx in sessions.items())
    (root / "sub-01" / "sub-01_sessions.tsv").write_text("session_id\tdiagnosis\n" + rows)
    return root


def scan(subject: str, session: str) -> str:
    return f"{subject}_{session}_T1w.nii.gz"


NO_DIAGNOSIS = "participant_id\tdiagnosis\nsub-01\tn/a\nsub-02\tn/a\n"
NO_COLUMN = "participant_id\tage\nsub-01\t70\nsub-02\t71\n"


@pytest.mark.parametrize("participants", [NO_DIAGNOSIS, NO_COLUMN])
def test_each_session_without_a_diagnosis_is_named_by_its_file(tmp_path, participants):
    """ses-2 n/a and ses-3 without a row fell back to participants.tsv, which has none: the subject was
    named once ("has no 'diagnosis': not a column of participants.tsv, and not in its sessions.tsv"),
    no file, while its ses-1 and ses-4 were used."""
    root = cohort(tmp_path / "bids", participants, {"ses-1": "CN", "ses-2": "n/a", "ses-4": "AD"})
    bad = BadInputs(strict=False)
    records = bids_records(root, options(), bad)
    assert [(r.path.name, r.label) for r in records] == [(scan("sub-01", "ses-1"), 0), (scan("sub-01", "ses-4"), 1)]
    reasons = {Path(item.path).name: item.reason for item in bad.items}
    assert set(reasons) == {scan("sub-01", "ses-2"), scan("sub-01", "ses-3"), "sub-02"}  # each counted
    assert "ses-2's row in sub-01_sessions.tsv has no 'diagnosis' (empty or n/a)" in reasons[scan("sub-01", "ses-2")]
    assert "ses-3 has no 'diagnosis' in sub-01_sessions.tsv (no row" in reasons[scan("sub-01", "ses-3")]
    assert all("participants.tsv" in reasons[scan("sub-01", s)] for s in ("ses-2", "ses-3"))
    assert "ses-" not in reasons["sub-02"]  # no table of its own: the subject, once, as before


@pytest.mark.parametrize(
    ("session", "used", "passed"),
    [("first", "ses-2", "ses-1"), ("last", "ses-3", "ses-4")],
)
def test_an_unlabelled_chosen_session_gives_way_to_the_next_labelled_one(tmp_path, session, used, passed):
    """session first/last: an unreadable chosen scan fell back to the next session, an unlabelled one
    dropped the whole subject."""
    root = cohort(tmp_path / "bids", NO_DIAGNOSIS, {"ses-1": "n/a", "ses-2": "AD", "ses-3": "CN"})  # ses-4: no row
    bad = BadInputs(strict=False)
    (record,) = bids_records(root, options(session=session), bad)
    assert record.path.name == scan("sub-01", used) and record.label == {"ses-2": 1, "ses-3": 0}[used]
    other = {"ses-2": "ses-3", "ses-3": "ses-2"}[used]
    assert [r.path.name for r in record.fallbacks] == [scan("sub-01", other)]  # if it cannot be read
    reasons = {Path(item.path).name: item.reason for item in bad.items}
    assert set(reasons) == {scan("sub-01", passed), "sub-02"}
    assert reasons[scan("sub-01", passed)].endswith(f"; {scan('sub-01', used)} is used instead")


def test_a_chosen_session_outside_the_label_map_is_not_replaced(tmp_path):
    """A baseline diagnosed MCI is the subject's baseline: session first does not reach for a later AD scan."""
    root = cohort(tmp_path / "bids", NO_DIAGNOSIS, {"ses-1": "MCI", "ses-2": "AD"})
    bad = BadInputs(strict=False)
    assert bids_records(root, options(session="first"), bad) == []
    reasons = {Path(item.path).name: item.reason for item in bad.items}
    assert "'MCI' is not in data.mri.label_map" in reasons[scan("sub-01", "ses-1")]
    assert "used instead" not in reasons[scan("sub-01", "ses-1")]


@pytest.mark.parametrize(
    ("session", "sessions", "chosen", "fallbacks"),
    [
        ("first", {"ses-1": "CN", "ses-2": "MCI", "ses-3": "AD"}, "ses-1", []),
        ("last", {"ses-1": "AD", "ses-2": "MCI", "ses-3": "CN"}, "ses-3", []),  # ses-4: no row, passed over
        ("first", {"ses-1": "CN", "ses-2": "n/a", "ses-3": "AD", "ses-4": "MCI"}, "ses-1", ["ses-3"]),
    ],
)
def test_the_fallbacks_stop_at_a_session_outside_the_label_map(tmp_path, session, sessions, chosen, fallbacks):
    """ses-1 CN, ses-2 MCI, ses-3 AD: the fallbacks skipped ses-2, so an unreadable ses-1 put the subject into a
    baseline study as its ses-3 AD scan. A subject who was MCI by then is not replaced by a later scan; an
    unlabelled session (no diagnosis at all) is still passed over."""
    root = cohort(tmp_path / "bids", NO_DIAGNOSIS, sessions)
    (record,) = bids_records(root, options(session=session), BadInputs(strict=False))
    assert record.path.name == scan("sub-01", chosen)
    assert [r.path.name for r in record.fallbacks] == [scan("sub-01", s) for s in fallbacks]


def test_an_unreadable_baseline_is_not_replaced_past_a_session_outside_the_label_map(tmp_path, cache):
    """The whole chain, read: the subject is skipped, named by its unreadable scan, and no record uses ses-3."""
    participants = "participant_id\tdiagnosis\nsub-01\tn/a\nsub-02\tCN\n"  # sub-02 keeps the cohort non-empty
    root = cohort(tmp_path / "bids", participants, {"ses-1": "CN", "ses-2": "MCI", "ses-3": "AD"})
    baseline = root / "sub-01" / "ses-1" / "anat" / scan("sub-01", "ses-1")
    baseline.write_bytes(baseline.read_bytes()[: baseline.stat().st_size // 2])  # truncated
    data = read_volumes(root, options(session="first"))
    assert [Path(p).name for p in data.paths] == [scan("sub-02", "ses-1")]
    (item,) = data.skipped
    assert Path(item.path).name == scan("sub-01", "ses-1") and "used instead" not in item.reason


def sessionless(root: Path, participants: str) -> Path:
    """sub-01's one scan in no session folder (sub-01/anat/), its sessions.tsv listing ses-M000 only."""
    make_bids(root, {"sub-01": "AD", "sub-02": "CN"}, sessions={"sub-02": ["ses-M000"]})
    (root / "participants.tsv").write_text(participants)
    for subject in ("sub-01", "sub-02"):
        (root / subject / f"{subject}_sessions.tsv").write_text("session_id\tdiagnosis\nses-M000\tAD\n")
    return root


def test_a_scan_without_a_session_is_pointed_at_participants_and_its_missing_column(tmp_path):
    """sub-01/anat/sub-01_T1w.nii.gz, participants.tsv without 'diagnosis' (it has diagnosis_bl): the reason
    read ":  has no 'diagnosis' in sub-01_sessions.tsv ... give the session one in sub-01_sessions.tsv", though
    the scan has no session to give one and participants.tsv has no such column to look in."""
    root = sessionless(tmp_path / "bids", "participant_id\tdiagnosis_bl\tage\nsub-01\tAD\t70\nsub-02\tCN\t71\n")
    bad = BadInputs(strict=False)
    assert [r.path.name for r in bids_records(root, options(session="first"), bad)] == [scan("sub-02", "ses-M000")]
    (item,) = bad.items
    assert Path(item.path).name == "sub-01_T1w.nii.gz"
    assert "  " not in str(item) and "give the session one" not in item.reason
    assert item.reason.startswith("has no session folder (ses-*), so sub-01_sessions.tsv cannot give it a diagnosis")
    assert "participants.tsv" in item.reason and "has no 'diagnosis' column" in item.reason
    assert "participant_id, diagnosis_bl, age" in item.reason  # what it has instead
    assert "sub-01/ses-M000/anat/" in item.reason  # or it is the session the table lists, in the wrong folder


def test_a_scan_without_a_session_and_no_diagnosis_in_participants_is_told_to_give_one_there(tmp_path):
    root = sessionless(tmp_path / "bids", "participant_id\tdiagnosis\nsub-01\tn/a\nsub-02\tCN\n")
    bad = BadInputs(strict=False)
    bids_records(root, options(), bad)
    (item,) = bad.items
    assert "  " not in str(item) and "give the session one" not in item.reason
    assert "participants.tsv" in item.reason and "has none for sub-01; give sub-01 one there" in item.reason


def test_a_session_without_a_diagnosis_names_the_columns_participants_has_instead(tmp_path):
    root = cohort(tmp_path / "bids", "participant_id\tdiagnosis_bl\nsub-01\tAD\nsub-02\tCN\n", {"ses-1": "CN"})
    bad = BadInputs(strict=False)
    bids_records(root, options(), bad)
    reasons = {Path(item.path).name: item.reason for item in bad.items}
    assert (
        "participants.tsv has no 'diagnosis' column (columns: participant_id, diagnosis_bl)"
        in (reasons[scan("sub-01", "ses-2")])
    )
    assert reasons[scan("sub-01", "ses-2")].endswith("give the session one in sub-01_sessions.tsv")
    assert "participants.tsv has no 'diagnosis' column (columns: participant_id, diagnosis_bl)" in reasons["sub-02"]


def test_a_diagnosis_outside_the_label_map_says_how_to_use_it_or_keep_it_as_a_class(tmp_path):
    """'add it there' led to label_map={..., MCI: MCI}, which the config refuses: MCI is not in classes."""
    root = cohort(tmp_path / "bids", NO_DIAGNOSIS, {"ses-1": "MCI", "ses-2": "AD"})
    bad = BadInputs(strict=False)
    bids_records(root, options(session="first"), bad)
    reason = {Path(item.path).name: item.reason for item in bad.items}[scan("sub-01", "ses-1")]
    assert "add it there" not in reason
    assert "map it to one of data.mri.classes (CN, AD) in data.mri.label_map" in reason
    assert "add it to both data.mri.label_map and data.mri.classes to keep it as a class of its own" in reason
    assert "otherwise it is skipped" in reason

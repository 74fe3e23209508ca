"""Where MRI images and their diagnoses come from: a BIDS folder (here) or a CSV of (path, label)
(:mod:`vaegan.data.csv_source`), and what both share: the records, labels, tables and subjects.

BIDS: ``participants.tsv`` (columns ``participant_id`` and the diagnosis column,
``data.mri.diagnosis_column``; a session's value in ``sub-XX/sub-XX_sessions.tsv``
wins over it) and images at
``sub-*/anat/*_T1w.nii[.gz]`` or ``sub-*/ses-*/anat/*_T1w.nii[.gz]``, indexed by
pybids (:mod:`vaegan.data.bids`: sessions per ``data.mri.session``, the first
run of each session); with ``data.mri.derivatives`` the images come from
``derivatives/<name>/`` (e.g. skull-stripped), the labels still from participants.tsv.

Spaces around column names and values are ignored, in participants.tsv as in a CSV.

Raw diagnosis values are mapped to classes by ``data.mri.label_map``
(case-insensitive), e.g. ``{"CN": "CN", "Dementia": "AD"}``. Subjects without a
diagnosis, with one outside the map, or without images, and sessions without one (by their
file, when the subject's diagnoses are per session) go to the :class:`~vaegan.data.bad_inputs.BadInputs`
collector.

Example:
    >>> records = bids_records(Path("my_bids"), MRIConfig(), BadInputs(strict=False))  # doctest: +SKIP
    >>> records[0]  # doctest: +SKIP
    Record(path=PosixPath('my_bids/sub-01/anat/sub-01_T1w.nii.gz'), subject='sub-01', label=0)
"""

from __future__ import annotations

import csv
import difflib
import json
import logging
import os
import re
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path

from vaegan.data.bad_inputs import BadInputs
from vaegan.data.bids import bids_images, natural_key
from vaegan.data.config import MRIConfig
from vaegan.foundation.errors import DataError

NIFTI_SUFFIXES = (".nii", ".nii.gz")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
MISSING = {"", "n/a", "na", "nan", "none"}
SUBJECT_PART = re.compile(r"sub-[A-Za-z0-9]+")
SUBJECT_DEPTH = 3  # folders of a scan that may name its subject, outside the data folder: sub-01/ses-01/anat/
# a CSV's subject column, by its usual names (BIDS, ADNI's PTID), compared without case
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Record:
    """One image to read: its file, its subject and its class index, and what to read if it cannot be read.

    ``fallbacks`` are the same sample's other files in order of preference (a BIDS session's later runs,
    then, under ``session: first/last``, the next labelled sessions', up to one outside ``label_map``): a
    truncated chosen scan costs the file, not the subject.
    """

    path: Path
    subject: str
    label: int
    fallbacks: tuple[Record, ...] = field(default=(), compare=False, repr=False)


def detect_layout(folder: Path, layout: str = "auto") -> str:
    """``"bids"``, ``"csv"`` or ``"imagefolder"``: ``layout`` if given, else what ``folder`` holds.

    Raises:
        DataError: ``folder`` does not exist, or holds none of the three layouts.
    """
    if not folder.exists():
        raise DataError(f"{folder}: no such folder or file; point data.data_dir (--data-dir) at your data")
    if layout != "auto":
        return layout
    if folder.is_file():
        if folder.suffix.lower() == ".csv":
            return "csv"
        raise DataError(f"{folder}: a file, but not a .csv of path,label; give a BIDS folder, a CSV or an image folder")
    if (folder / "participants.tsv").is_file():
        return "bids"
    if len(list(folder.glob("*.csv"))) == 1:
        return "csv"
    if any(p.suffix.lower() in IMAGE_SUFFIXES for p in folder.glob("*/*")) or any(
        p.suffix.lower() in IMAGE_SUFFIXES for p in folder.glob("*/*/*")
    ):
        return "imagefolder"
    raise DataError(
        f"{folder}: found no participants.tsv (BIDS), no single .csv of path,label, and no class subfolders "
        "of PNG/JPEG/TIFF images; see data.mri.layout"
    )


def raw_scans(folder: Path, options: MRIConfig) -> MRIConfig:
    """``options`` with ``registration``/``bias_correction`` ``"auto"`` settled for a whole folder.

    ``"off"`` for a folder written by ``vaegan phantoms`` (its dataset_description.json
    says so): phantoms are resampled from MNI152 already, with a mild bias field
    that the intensity percentiles absorb. Elsewhere ``"auto"`` stays, and is
    settled per file (:func:`vaegan.data.registration.raw_steps`).
    """
    if not is_phantom_folder(folder):
        return options
    keys = ("registration", "bias_correction")
    return options.model_copy(update={key: "off" for key in keys if getattr(options, key) == "auto"})


def raw_scan(path: Path, options: MRIConfig) -> MRIConfig:
    """:func:`raw_scans` for one file, as for the dataset folder it lies in (the nearest folder above it
    with a dataset_description.json): a phantom's scan given alone is prepared as its set was in training."""
    for folder in path.resolve().parents:
        if (folder / "dataset_description.json").is_file():
            return raw_scans(folder, options)
    return options


def is_phantom_folder(folder: Path) -> bool:
    """Whether ``vaegan phantoms`` wrote ``folder`` (its dataset_description.json says so)."""
    description = folder / "dataset_description.json"
    try:
        generators = json.loads(description.read_text()).get("GeneratedBy", []) if description.is_file() else []
    except (OSError, ValueError, AttributeError):
        generators = []
    return any(isinstance(g, dict) and g.get("Name") == "vaegan phantoms" for g in generators)


class NoDiagnosis(str):
    """Why an input has no class, when the reason is that no diagnosis is given at all (not one outside
    ``label_map``): under ``session: first/last`` the next session with a diagnosis stands in for it."""


def map_label(raw: str, options: MRIConfig) -> int | str:
    """The class index of a raw diagnosis, or the reason it has none (a string; a :class:`NoDiagnosis` when
    ``raw`` is missing)."""
    value = raw.strip()
    if value.lower() in MISSING:
        return NoDiagnosis(f"has no diagnosis ({raw!r})")
    lookup = {key.strip().lower(): name for key, name in options.label_map.items()}
    if value.lower() not in lookup:
        return (
            f"diagnosis {value!r} is not in data.mri.label_map ({', '.join(options.label_map)}): map it to one of "
            f"data.mri.classes ({', '.join(options.classes)}) in data.mri.label_map, or add it to both "
            "data.mri.label_map and data.mri.classes to keep it as a class of its own; otherwise it is skipped"
        )
    return options.classes.index(lookup[value.lower()])


def is_nifti(path: Path) -> bool:
    return path.name.lower().endswith(NIFTI_SUFFIXES)


def read_table(path: Path, delimiter: str) -> tuple[list[str], list[dict[str, str]]]:
    """(column names, rows), names and values stripped of surrounding spaces (``path, label`` is common)."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as file:
            reader = csv.DictReader(file, delimiter=delimiter)
            rows = [
                {key.strip(): (value or "").strip() for key, value in row.items() if isinstance(key, str)}
                for row in reader
            ]
            return [name.strip() for name in reader.fieldnames or []], rows
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise DataError(f"{path}: cannot read the table: {error}") from None


def table_column(path: Path, columns: list[str], wanted: str, hint: str) -> str:
    """The actual header matching ``wanted`` case-insensitively, or a DataError listing the columns."""
    for name in columns:
        if name.lower() == wanted.lower():
            return name
    raise DataError(f"{path}: no column {wanted!r} ({column_list(columns, wanted)}); {hint}")


def column_list(columns: list[str], wanted: str, most: int = 12) -> str:
    """``columns: a, b, c`` of a table without ``wanted``; of a wide table, only those close to ``wanted``."""
    if len(columns) <= most:
        return f"columns: {', '.join(columns) or 'none'}"
    lower = {name.lower(): name for name in columns}
    close = [name for name in columns if wanted.lower() in name.lower() or name.lower() in wanted.lower()]
    close += [lower[n] for n in difflib.get_close_matches(wanted.lower(), list(lower), n=5, cutoff=0.6)]
    close = list(dict.fromkeys(close))[:most]
    return (
        f"{len(columns)} columns, the close ones: {', '.join(close)}"
        if close
        else f"{len(columns)} columns, none close"
    )


def session_diagnoses(root: Path, subjects: list[str], column: str) -> dict[tuple[str, str], str]:
    """Raw diagnoses per (subject, "ses-XX"), from each ``sub-XX/sub-XX_sessions.tsv`` that has ``column``.

    A session whose row has no value (empty, n/a) is there as ``""``, and one without a row is not: both
    fall back to participants.tsv, as does one listed with two diagnoses (left out, named in a warning).
    """
    found: dict[tuple[str, str], str] = {}
    for subject in subjects:
        table = root / subject / f"{subject}_sessions.tsv"
        if not table.is_file():
            continue
        columns, rows = read_table(table, "\t")
        lower = {name.lower(): name for name in columns}
        if column.lower() not in lower:
            continue
        if "session_id" not in lower:
            logger.warning(
                "%s: has a %r column but no session_id (BIDS's name for it): its diagnoses are not read",
                table,
                column,
            )
            continue
        conflicting: set[str] = set()
        for row in rows:
            session, value = row.get(lower["session_id"], ""), row.get(lower[column.lower()], "")
            if not session:
                continue
            session = session if session.startswith("ses-") else f"ses-{session}"
            if session in conflicting:
                continue
            if value.lower() in MISSING:  # a row without a value says nothing against another row's
                found.setdefault((subject, session), "")
                continue
            first = found[(subject, session)] = found.get((subject, session)) or value
            if first.lower() != value.lower():  # which one is right is not for vaegan to guess
                conflicting.add(session)
                del found[(subject, session)]
                logger.warning(
                    "%s: %s is listed with the diagnoses %r and %r; neither is used (participants.tsv's is, if "
                    "any): keep one row",
                    table,
                    session,
                    first,
                    value,
                )
    return found


def _session_of(path: Path) -> str:
    return next((part for part in path.parts if part.startswith("ses-")), "")


def _subject_labels(table: Path, options: MRIConfig, required: bool) -> tuple[dict[str, int | str], str]:
    """participants.tsv: each subject's class index, or why it has none, and what the table lacks (``""``, or
    ``participants.tsv has no 'dx' column (columns: ...)``); the column is optional if not ``required``."""
    columns, rows = read_table(table, "\t")
    id_col = table_column(table, columns, "participant_id", "BIDS requires it")
    hint = "set data.mri.diagnosis_column (read from participants.tsv, or per session from sub-*/sub-*_sessions.tsv)"
    column = options.diagnosis_column
    no_column = ""
    if not required and column.lower() not in (c.lower() for c in columns):
        dx_col = None
        no_column = f"{table.name} has no {column!r} column ({column_list(columns, column)})"
    else:
        dx_col = table_column(table, columns, column, hint)
    labels: dict[str, int | str] = {}
    seen: dict[str, tuple[int, str]] = {}  # subject -> (line, raw diagnosis) of its first row
    for number, row in enumerate(rows, start=2):  # line 1 is the header
        subject = row.get(id_col) or ""
        if not subject:
            continue
        subject = subject if subject.startswith("sub-") else f"sub-{subject}"
        raw = (row.get(dx_col) or "").strip() if dx_col else ""
        if subject in seen:
            line, first = seen[subject]
            if first.lower() != raw.lower():  # which one is right is not for vaegan to guess
                labels[subject] = (
                    f"is listed twice in {table.name} (lines {line} and {number}) with the diagnoses {first!r} "
                    f"and {raw!r}; keep one row"
                )
            continue
        seen[subject] = (number, raw)
        labels[subject] = map_label(raw, options) if dx_col else _no_column_label(subject, column, no_column)
    return labels, no_column


def _no_column_label(subject: str, column: str, no_column: str) -> NoDiagnosis:
    """Why a subject without a sessions.tsv of ``column`` has no class when participants.tsv lacks the column."""
    return NoDiagnosis(
        f"has no {column!r}: {no_column}, and no {subject}_sessions.tsv gives one; add the column to participants.tsv, "
        f"or to {subject}/{subject}_sessions.tsv (beside session_id)"
    )


def bids_records(root: Path, options: MRIConfig, bad: BadInputs) -> list[Record]:
    """Every labelled T1w image of a BIDS folder: one per session (``data.mri.session``), by subject and session.

    A session's diagnosis in ``sub-XX/sub-XX_sessions.tsv`` (same column name) wins over the subject's in
    participants.tsv, so a subject who converts from CN to AD is labelled per scan. Under ``first``/``last``
    a chosen session with no diagnosis in either table gives way to the next session that has one; a session
    whose diagnosis is outside ``label_map`` ends the subject's chain (neither it nor a later one is used).
    """
    table = root / "participants.tsv"
    if not table.is_file():  # before pybids indexes the whole folder
        what = "a file" if root.is_file() else "a folder without participants.tsv"
        raise DataError(
            f"{root}: data.mri.layout=bids needs a BIDS folder (participants.tsv, sub-*/anat/), and this is {what}; "
            "point data.data_dir at the BIDS folder, or set data.mri.layout=auto"
        )
    source = root / "derivatives" / options.derivatives if options.derivatives else root
    if not source.is_dir():
        raise DataError(f"{source}: no such derivatives folder; check data.mri.derivatives ({options.derivatives!r})")
    images = bids_images(source, options.session)
    per_session = session_diagnoses(root, sorted(images), options.diagnosis_column)
    labels, no_column = _subject_labels(table, options, required=not per_session)
    tables = {subject for subject, _ in per_session}  # subjects with diagnoses in their sessions.tsv
    where = f" in derivatives/{options.derivatives}" if options.derivatives else ""
    records = []

    def unfiled(subject: str) -> list[str]:  # sessions with a row in the subject's sessions.tsv but no scan
        scanned = {_session_of(path.relative_to(source)) for path in chain(*images[subject])}
        return sorted({s for sub, s in per_session if sub == subject} - scanned, key=natural_key)

    for subject in sorted(set(images) | set(labels)):
        if subject not in images:
            bad.add(root / subject, f"is listed in {table.name} but has no anat/*_T1w.nii[.gz] image{where}")
            continue
        fallback = labels.get(subject, NoDiagnosis(f"is not listed in {table.name}"))
        if subject not in tables and isinstance(fallback, str):  # every session's problem: named once
            bad.add(root / subject, fallback)
            continue
        label_of: dict[Path, int | str] = {}
        for path in chain(*images[subject]):
            session = _session_of(path.relative_to(source))
            raw = per_session.get((subject, session))
            if raw:
                label = map_label(raw, options)
                label_of[path] = f"per {subject}_sessions.tsv, {label}" if isinstance(label, str) else label
            elif isinstance(fallback, str):  # the session's own gap, told by its file
                gap = _SessionGap(subject, session, raw, options.diagnosis_column, unfiled(subject))
                label_of[path] = gap.label(fallback, no_column)
            else:
                label_of[path] = fallback
        records += [r for sample in images[subject] if (r := _choose(subject, sample, label_of, bad))]
    return records


@dataclass(frozen=True)
class _SessionGap:
    """A scan to which ``sub-XX_sessions.tsv``, where the subject's diagnoses are, gives none.

    Its ``session`` (``""``: in no ses-* folder) has no row (``raw`` None, or rows that disagree) or an
    empty one (``raw`` ``""``, see :func:`session_diagnoses`); ``unfiled``: the sessions the table has a
    row for and no scan.
    """

    subject: str
    session: str
    raw: str | None
    column: str
    unfiled: list[str]

    def label(self, fallback: str, no_column: str) -> str:
        """Why the scan has no class, participants.tsv's reason for the subject being ``fallback``, and
        ``no_column`` what it lacks (``""`` if nothing): a :class:`NoDiagnosis` where neither table gives a
        diagnosis, else the reason the fallback's cannot be used."""
        table = f"{self.subject}_sessions.tsv"
        fix = f"give the session one in {table}"
        if not self.session:  # no session row can be filled in: only participants.tsv can label it
            gap = f"has no session folder (ses-*), so {table} cannot give it a diagnosis"
            fix = (
                "add the column to participants.tsv" if no_column else f"give {self.subject} one there"
            ) + self._move()
        elif self.raw == "":
            gap = f"{self.session}'s row in {table} has no {self.column!r} (empty or n/a)"
        else:
            gap = f"{self.session} has no {self.column!r} in {table} (no row, or rows that disagree)"
        if no_column:
            return NoDiagnosis(f"{gap}, and {no_column}; {fix}")
        if isinstance(fallback, NoDiagnosis):
            either = " either" if self.session else ""
            return NoDiagnosis(f"{gap}, and participants.tsv has none for {self.subject}{either}; {fix}")
        its = ", its fallback," if self.session else ","
        return f"{gap}, and in participants.tsv{its} {self.subject}: {fallback}"

    def _move(self) -> str:
        """The other fix of a scan in no session folder: it may be a session of the table, filed in the wrong place."""
        if len(self.unfiled) == 1:
            return f", or, if it is {self.unfiled[0]}, move it into {self.subject}/{self.unfiled[0]}/anat/"
        if self.unfiled:
            return f", or, if it is one of {', '.join(self.unfiled)}, move it into {self.subject}/<that session>/anat/"
        return ""


def _choose(subject: str, sample: list[Path], label_of: dict[Path, int | str], bad: BadInputs) -> Record | None:
    """The record of a sample's first file with a class, its later labelled files its fallbacks.

    Files without a diagnosis (:class:`NoDiagnosis`) are passed over, each session's first file named in
    ``bad``; a file whose diagnosis cannot be used (outside ``label_map``) ends the search and is named.
    """
    passed: dict[Path, Path] = {}  # session folder -> its file to name, passed over for want of a diagnosis
    chosen, refused = None, None
    for index, path in enumerate(sample):
        label = label_of[path]
        if isinstance(label, NoDiagnosis):
            passed.setdefault(path.parent, path)
            continue
        if isinstance(label, str):
            refused = path
        else:
            chosen = Record(path, subject, label, _fallbacks(subject, sample[index + 1 :], label_of))
        break
    instead = f"; {chosen.path.name} is used instead" if chosen else ""
    for path in passed.values():
        bad.add(path, f"{label_of[path]}{instead}")
    if refused is not None:
        bad.add(refused, label_of[refused])
    return chosen


def _fallbacks(subject: str, later: list[Path], label_of: dict[Path, int | str]) -> tuple[Record, ...]:
    """The records that may replace a chosen file that cannot be read: ``later`` files (in order) with a class,
    up to the first whose diagnosis cannot be used. A subject MCI at its second visit is not entered into a
    baseline study as its third, AD, scan; a session without any diagnosis (:class:`NoDiagnosis`) is passed
    over."""
    usable = []
    for path in later:
        label = label_of[path]
        if isinstance(label, NoDiagnosis):
            continue
        if isinstance(label, str):  # outside label_map (or two diagnoses): the subject's state then is no class
            break
        usable.append(Record(path, subject, label))
    return tuple(usable)


def own_parts(path: Path, root: Path | None) -> tuple[str, ...]:
    """The parts of ``path`` that belong to the data: those below ``root``, else (a file outside it) the
    file name and its :data:`SUBJECT_DEPTH` folders (``sub-01/ses-01/anat/T1w.nii.gz``), never the folders
    that hold the whole cohort (``/home/sub-lab/...``)."""
    if root is not None:
        try:
            return Path(os.path.normpath(path.absolute())).relative_to(os.path.normpath(root.absolute())).parts
        except ValueError:
            pass
    return path.parts[-(SUBJECT_DEPTH + 1) :]


def subject_of(path: Path, root: Path | None = None) -> str:
    """The BIDS ``sub-XXX`` part of ``path`` (below ``root``, see :func:`own_parts`), else the file name
    without its extension."""
    for part in reversed(own_parts(path, root)):  # the file name first, then its folders
        match = SUBJECT_PART.match(part)
        if match:
            return match.group(0)
    name = path.name
    for suffix in (*NIFTI_SUFFIXES, *IMAGE_SUFFIXES):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem

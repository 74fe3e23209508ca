"""MRI images listed in a CSV of (path, label[, subject]), and the BIDS-only settings a CSV would ignore.

Columns ``path`` and ``label`` (and optionally ``subject``); paths are relative to the CSV's folder.
Without a ``subject`` column the subject is the ``sub-XXX`` part of the path, else the file name.
Spaces around column names and values (``path, label``) are ignored. Rows whose file is missing or
whose label maps to no class go to the :class:`~vaegan.data.bad_inputs.BadInputs` collector.

Example:
    >>> records = csv_records(Path("scans.csv"), MRIConfig(), BadInputs(strict=False))  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from vaegan.data.bad_inputs import BadInputs
from vaegan.data.config import MRIConfig
from vaegan.data.mri_sources import (
    SUBJECT_PART,
    Record,
    detect_layout,
    map_label,
    own_parts,
    read_table,
    subject_of,
    table_column,
)
from vaegan.foundation.errors import DataError

logger = logging.getLogger(__name__)

SUBJECT_COLUMNS = ("subject", "subject_id", "participant_id", "participant", "ptid")


def csv_records(path: Path, options: MRIConfig, bad: BadInputs) -> list[Record]:
    """One record per CSV row whose file exists and whose label maps to a class."""
    if path.is_dir():
        found = sorted(path.glob("*.csv"))
        if len(found) != 1:
            held = f"holds {', '.join(f.name for f in found)}" if found else "holds no .csv of path,label"
            raise DataError(
                f"{path}: data.mri.layout=csv but the folder {held}; point data.data_dir at the CSV file"
                + ("" if found else ", add one, or set data.mri.layout=auto")
            )
        path = found[0]
    _warn_bids_settings(path, options)  # not refused: a run trained so (on every row) is read again to evaluate
    columns, rows = read_table(path, ",")
    path_col = table_column(path, columns, "path", "the CSV needs columns path,label")
    label_col = table_column(path, columns, "label", "the CSV needs columns path,label")
    subject_col = next((c for c in columns if c.strip().lower() in SUBJECT_COLUMNS), None)
    records: dict[Path, Record] = {}
    seen: dict[Path, tuple[int, str]] = {}  # each file (resolved) -> (line, raw label) of its first row
    alone: set[Path] = set()  # files whose subject is only their file name
    for number, row in enumerate(rows, start=2):  # line 1 is the header
        where = f"{path}, line {number}"
        file = (row.get(path_col) or "").strip()
        if not file:
            bad.add(where, "has an empty path")
            continue
        image = Path(file) if Path(file).is_absolute() else path.parent / file
        raw = (row.get(label_col) or "").strip()
        label = map_label(raw, options)
        key = Path(os.path.normpath(image.absolute()))  # img/../img/a and img/a alike, without touching the disk
        if key in seen:  # one scan is one sample, whatever its spelling
            line, first = seen[key]
            if first.lower() == raw.lower():
                bad.add(where, f"{image.name} repeats line {line} (the same file); each scan counts once")
            else:
                records.pop(key, None)
                bad.add(where, f"{image.name} is labelled {raw!r} here and {first!r} on line {line}: both left out")
            continue
        seen[key] = (number, raw)
        if not image.is_file():
            bad.add(where, f"file {image} does not exist")
        elif isinstance(label, str):
            bad.add(where, f"{image.name} {label}")
        else:
            subject = _subject_cell(row.get(subject_col) or "") if subject_col else ""
            records[key] = Record(image, subject or subject_of(image, path.parent), label)
            if not subject and not any(SUBJECT_PART.match(part) for part in own_parts(image, path.parent)):
                alone.add(key)  # the subject is then the file name: splits by subject split by file
    alone &= records.keys()  # not those a later row left out
    if alone:
        lacking = "an empty subject cell" if subject_col else f"no subject column ({', '.join(SUBJECT_COLUMNS)})"
        logger.warning(
            "%s: %d files have %s and no sub-XX in their path: each counts as its own subject, so one "
            "person's scans (visits, runs) may land in both training and test; fill in their subject",
            path,
            len(alone),
            lacking,
        )
    return list(records.values())


# settings that only a BIDS folder gives a meaning to: what each does there, and what a CSV does instead
BIDS_ONLY = {
    "session": "picks the sessions of a BIDS folder, and a CSV has none",
    "derivatives": "reads a BIDS folder's images from its derivatives/, and a CSV names its own files",
}
CSV_INSTEAD = {
    "session": "list only the rows (scans) you want in it",
    "derivatives": "list the rows you want with the processed files in the path column",
}


def _bids_only_settings(options: MRIConfig) -> list[str]:
    """The keys of :data:`BIDS_ONLY` that ``options`` changes from their defaults."""
    return [key for key in BIDS_ONLY if getattr(options, key) != MRIConfig.model_fields[key].default]


def check_csv_settings(folder: Path, options: MRIConfig) -> None:
    """Refuse, before training, a ``data.mri`` setting that a CSV input would ignore (``session``,
    ``derivatives``). Reading the data only warns (:func:`csv_records`): a run trained so has read every
    row and stores the setting, and must still load for evaluation.

    Args:
        folder: the data folder (``data.data_dir``): a CSV, a folder holding one, or another layout
            (then nothing is checked).

    Raises:
        DataError: ``folder`` is a CSV input and such a setting differs from its default; or, as
            :func:`detect_layout`, ``folder`` holds no layout.
    """
    if detect_layout(folder, options.layout) != "csv":
        return
    found = sorted(folder.glob("*.csv")) if folder.is_dir() else [folder]
    path = found[0] if len(found) == 1 else folder  # a folder without one CSV: the reader says so
    changed = _bids_only_settings(options)
    if changed:
        key, default = changed[0], MRIConfig.model_fields[changed[0]].default
        raise DataError(
            f"{path}: data.mri.{key}={getattr(options, key)!r} {BIDS_ONLY[key]}: {CSV_INSTEAD[key]}, and leave "
            f"data.mri.{key} at its default ({default!r})"
        )


def _warn_bids_settings(path: Path, options: MRIConfig) -> None:
    """A warning for each setting of :data:`BIDS_ONLY` that ``options`` changes: the CSV ``path`` ignores it."""
    for key in _bids_only_settings(options):
        logger.warning(
            "%s: data.mri.%s=%r %s: it is ignored, and every row is read as listed (a new training refuses it; "
            "leave it at its default with a CSV)",
            path,
            key,
            getattr(options, key),
            BIDS_ONLY[key],
        )


def _subject_cell(text: str) -> str:
    """A subject as a table gives it: trimmed, a ``sub-`` prefix in any case written ``sub-``."""
    text = text.strip()
    return f"sub-{text[4:]}" if text[:4].lower() == "sub-" else text

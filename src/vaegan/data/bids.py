"""The T1w images of a BIDS folder, indexed by pybids: sessions chosen per subject, one image per session.

pybids (``bids.BIDSLayout``, imported only here and only when a BIDS folder is
read: its import takes a moment) parses the entities of every file name, so
``sub-01_ses-M012_acq-MPRAGE_run-02_T1w.nii.gz`` needs no hand-written pattern.
``derivatives/``, ``sourcedata/`` and ``code/`` are not indexed.

- **Sessions** (``data.mri.session``): ``all`` keeps every session as its own
  sample (the subject is shared, so splits by subject keep them together);
  ``first`` or ``last`` keeps one session per subject, in natural order of the
  labels (``M006`` < ``M012``, ``2`` < ``10``). Images without a session
  count as one session.
- **Runs**: several T1w images in one session (repeat runs, other
  acquisitions) are not independent samples; the first is used, by run
  number (no run first), then file name.
- **Unreadable or unlabelled files**: a chosen file that cannot be read is
  replaced by the session's next run, then (``first``/``last``) by the next
  session's file, and the skipped summary names both. The next session's
  file also stands in for a chosen session without a diagnosis; a session
  whose diagnosis is outside ``label_map`` is never stepped over (neither
  replaced nor passed on the way to a later one):
  :func:`vaegan.data.mri_sources.bids_records`, which labels the files.

Example:
    >>> bids_images(Path("my_bids"), "first")  # doctest: +SKIP
    {'sub-01': [[PosixPath('my_bids/sub-01/ses-01/anat/sub-01_ses-01_run-1_T1w.nii.gz'),
                 PosixPath('my_bids/sub-01/ses-02/anat/sub-01_ses-02_run-1_T1w.nii.gz')]]}
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from vaegan.foundation.errors import DataError

logger = logging.getLogger(__name__)


def natural_key(label: str) -> list[str | int]:
    """Sort key that orders the numbers inside ``label`` by value: ``ses-2`` before ``ses-10``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", label)]


def _layout(root: Path):
    from bids import BIDSLayout

    try:
        return BIDSLayout(root, validate=False)
    except Exception as error:  # pybids raises its own types for broken descriptions and names
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DataError(
            f"{root}: pybids cannot index this BIDS folder ({reason}); check dataset_description.json "
            "and the file names, or give a CSV of path,label instead"
        ) from None


def bids_images(root: Path, session: str = "all") -> dict[str, list[list[Path]]]:
    """The anat ``*_T1w.nii[.gz]`` images of each subject (``sub-XX``): one list per sample kept.

    Each list is the sample's files in order of preference: the chosen session's runs, then, under
    ``first`` or ``last``, the runs of the sessions after (or before) it. The first is read; the others
    replace it only if it cannot be read.

    Args:
        root: the BIDS folder (holding participants.tsv).
        session: ``all``, ``first`` or ``last`` (see the module doc).
    """
    layout = _layout(root)
    base = Path(layout.root)
    per_session: dict[tuple[str, str], list[tuple[int, str, Path]]] = {}
    for file in layout.get(suffix="T1w", extension=[".nii", ".nii.gz"], datatype="anat"):
        entities = file.get_entities()
        path = root / Path(file.path).relative_to(base)  # keep the caller's spelling of root
        run = entities.get("run")
        key = (f"sub-{entities['subject']}", str(entities.get("session") or ""))
        per_session.setdefault(key, []).append((-1 if run is None else int(run), path.name, path))
    sessions: dict[str, list[tuple[str, list[Path]]]] = {}
    extra_runs = []
    for (subject, label), candidates in per_session.items():
        runs = [path for *_, path in sorted(candidates)]
        sessions.setdefault(subject, []).append((label, runs))
        extra_runs += runs[1:]
    if extra_runs:
        logger.warning(
            "%s: %d sessions hold several T1w images (runs, acquisitions), e.g. %s; the first of each is used "
            "(the next only where the first cannot be read)",
            root,
            len({path.parent for path in extra_runs}),
            extra_runs[0].name,
        )
    images = {}
    for subject, found in sessions.items():
        found.sort(key=lambda item: natural_key(item[0]))
        runs = [paths for _, paths in found]
        if session == "all":
            images[subject] = runs
        else:
            ordered = runs if session == "first" else runs[::-1]
            images[subject] = [[path for paths in ordered for path in paths]]
    return images

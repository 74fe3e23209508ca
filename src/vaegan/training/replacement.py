"""``--overwrite`` without losing the old run: its files wait aside until the new run has a checkpoint.

The run's own files (:func:`~vaegan.training.run_folder.run_entries`) are renamed into a hidden
folder of the run folder (one disk: nothing is copied), and the folder's name says how far that got,
so whatever stops a step (an error, a second Ctrl-C, SIGKILL) the next start finishes it the right way:

- ``.vaegan-replacing/``: being moved aside. Stopped here, everything moves back.
- ``.vaegan-replaced/``: all aside (with the time it was done, ``since``); the new run trains. Once
  it has a checkpoint the folder is deleted; if it stops before one, what it wrote is deleted and
- ``.vaegan-restoring/``: the old files move back. Stopped here, the rest moves back.
- ``.vaegan-dropping/``: the old files, being deleted (the new run has a checkpoint). Stopped here,
  the deleting is finished.

Nothing in the run folder is ever deleted while one of the old run's files may still be in it.

Example:
    >>> set_aside(run)  # doctest: +SKIP
    >>> settle(run, new_run_checkpointed=False)  # the old run is back
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

from vaegan.foundation.errors import TrainingError
from vaegan.training.run_folder import clear_run, run_entries

log = logging.getLogger(__name__)

REPLACING, REPLACED, RESTORING = ".vaegan-replacing", ".vaegan-replaced", ".vaegan-restoring"
DROPPING = ".vaegan-dropping"  # the old run, being deleted: the new one has its checkpoint
SINCE = ".since"  # in REPLACED: time.time_ns() when the old run was all aside


def set_aside(folder: Path) -> None:
    """Move the run's own files into ``folder/.vaegan-replaced``; on any failure, move them back and raise."""
    moving = folder / REPLACING
    moving.mkdir()
    try:
        for path in run_entries(folder):  # the files inside a subfolder come before the subfolder
            if path.is_dir() and not path.is_symlink():
                if not any(path.iterdir()):
                    path.rmdir()
            else:
                target = moving / path.relative_to(folder)
                target.parent.mkdir(parents=True, exist_ok=True)
                path.rename(target)
        (moving / SINCE).write_text(str(time.time_ns()))
        moving.rename(folder / REPLACED)
    except BaseException:
        _roll_back(folder, moving)
        raise


def settle(folder: Path, *, new_run_checkpointed: bool) -> None:
    """Drop the old run (the new one has a checkpoint) or bring it back (it has none)."""
    aside = folder / REPLACED
    if not aside.is_dir():
        return
    if new_run_checkpointed:
        aside.rename(folder / DROPPING)  # a half-deleted aside is never taken for a whole one
        shutil.rmtree(folder / DROPPING, ignore_errors=True)
        return
    clear_run(folder)  # the new run's files; none of the old run's is in the folder now
    restoring = folder / RESTORING
    aside.rename(restoring)
    _roll_back(folder, restoring)
    log.warning("%s: the new run stopped before its first checkpoint; the run it was to replace is back", folder)


def recover(folder: Path) -> None:
    """At a start, lock held: finish what a stopped ``--overwrite`` left (see the module doc).

    Raises:
        TrainingError: one of those folders is a link (a run folder from elsewhere): nothing is moved or
            deleted through it.
    """
    for name in (REPLACING, REPLACED, RESTORING, DROPPING):
        if (folder / name).is_symlink():
            raise TrainingError(
                f"{folder / name} is a link (to {(folder / name).readlink()}), where vaegan keeps a run's files "
                "while --overwrite replaces it; vaegan never moves or deletes files through a link: remove it"
            )
    shutil.rmtree(folder / DROPPING, ignore_errors=True)
    for name in (REPLACING, RESTORING):
        if (folder / name).is_dir():
            _roll_back(folder, folder / name)
            log.warning("%s: put back the run files an interrupted --overwrite had moved aside", folder)
    aside = folder / REPLACED
    if aside.is_dir():
        settle(folder, new_run_checkpointed=_checkpointed_since(folder, aside))


def resume_point(folder: Path) -> Path:
    """The ``checkpoints/last.pt`` that :func:`recover` will leave in ``folder`` (it may still be aside now)."""
    last = Path("checkpoints") / "last.pt"
    for name in (REPLACING, RESTORING):
        if (folder / name / last).is_file():
            return folder / name / last
    aside = folder / REPLACED
    if aside.is_dir() and not _checkpointed_since(folder, aside) and (aside / last).is_file():
        return aside / last
    return folder / last


def new_run_checkpointed(folder: Path) -> bool:
    """Whether the run that set an old one aside in ``folder`` has written its ``last.pt`` since."""
    return _checkpointed_since(folder, folder / REPLACED)


def _checkpointed_since(folder: Path, aside: Path) -> bool:
    """Whether the new run wrote ``last.pt`` after the old run went aside (it is then the new run's)."""
    last = folder / "checkpoints" / "last.pt"
    try:
        since = int((aside / SINCE).read_text())
        return last.is_file() and last.stat().st_mtime_ns >= since
    except (OSError, ValueError):
        return False


def _roll_back(folder: Path, aside: Path) -> None:
    """Move every file of ``aside`` back to its place in ``folder`` (replacing a namesake), then remove ``aside``."""
    for path in sorted(aside.rglob("*"), key=lambda p: len(p.parts)):
        if path.name == SINCE and path.parent == aside:
            continue
        target = folder / path.relative_to(aside)
        if path.is_dir() and not path.is_symlink():
            target.mkdir(exist_ok=True)
        else:
            path.replace(target)
    shutil.rmtree(aside)

"""The run folder's own files: a marker listing what vaegan writes there, and an overwrite that deletes only those.

``--out`` may name a folder that also holds the user's files (``--out .`` in a
source tree). A run therefore starts by writing ``.vaegan-run.json``, which
lists the names a run writes (:data:`RUN_FILES`), and ``--overwrite`` replaces
only entries that match them, never the folder itself or anything else in it; it
moves them aside until the new run's first checkpoint, so a new run that fails
early gives the old one back.
Folders that cannot be a run folder at all (the working directory, one of its
parents, the home folder, ``/``) are refused before anything is written.

Example:
    >>> check_out_dir(Path("."))  # doctest: +SKIP
    Traceback (most recent call last):
    ConfigError: out='.': is the working directory ...
"""

from __future__ import annotations

import json
import logging
import re
import time
from fnmatch import fnmatch
from pathlib import Path

from filelock import FileLock, Timeout

from vaegan.foundation.checkpoints import read_checkpoint
from vaegan.foundation.errors import CheckpointError, ConfigError, TrainingError
from vaegan.foundation.files import RUN_MARKER, package_version, write_text_atomic
from vaegan.visualization.effect_files import PENDING, listed_maps

log = logging.getLogger(__name__)

MARKER = RUN_MARKER
# What a run (and the commands run on it later) writes at the top of its folder; folders end in "/".
RUN_FILES = (
    MARKER,
    "config.yaml",
    "config_changes.yaml",
    "subjects.json",
    "metrics.csv",
    "curves.png",
    "epoch[0-9]*_*.png",
    "report.html",
    "evaluation.json",
    "traceback.txt",
    "checkpoints/",
    "tensorboard/",
    "latent/",
    "effects/",
)
# The figures vaegan.visualization.latent_figures writes into RUN/latent/ (by name, each a .png).
LATENT_FIGURES = ("traversal", "manifold", "interpolation", "class_interpolation")
LATENT_FIGURES += tuple(f"scatter_{method}" for method in ("latent", "pca", "tsne", "umap"))
# Inside the folders above: only these names are the run's (and, in effects/, the maps its effects.json lists).
FOLDER_FILES = {
    "checkpoints": ("last.pt", "best.pt", ".last.pt.*.tmp", ".best.pt.*.tmp"),
    "tensorboard": ("events.out.tfevents.*",),
    "latent": tuple(f"{name}.png" for name in LATENT_FIGURES)
    + tuple(f".{n}.png.*.tmp" for n in LATENT_FIGURES)
    + ("latent.json", ".latent.json.*.tmp"),  # which checkpoint each figure shows
    "effects": (  # vaegan effects (vaegan.visualization.effect_files); each scan's maps are listed in effects.json
        "group_effect.nii.gz",
        "group_difference.nii.gz",
        "mean_control.nii.gz",
        "true_atrophy.nii.gz",
        "group_effect.png",
        "individual.png",
        "effects.json",
        PENDING,
        ".*.nii.gz.*.tmp",
        ".*.png.*.tmp",
        ".effects.json.*.tmp",
    ),
}
# The epoch grids ImageGrids writes (epochNNN_<name>.png): the built-in models' names; a plugin model's
# others are noted in the marker's "grids" as they are first written (note_grids).
GRIDS = ("recons", "fakes")
GRID_NAME = re.compile(r"epoch(\d{3,})_(.+)\.png")
# held by the process training in the folder (filelock, released when it ends or dies); never deleted,
# so not among RUN_FILES: a second process would otherwise lock a new file of the same name
LOCK = ".vaegan-run.lock"
# what a later command writes into the run (report, evaluate), not training: its temporary files are theirs
LATER_FILES = ("report.html", "evaluation.json")
UNSAFE_IN_NAME = re.compile(r"[/\\\x00-\x1f\x7f]")  # path separators and control characters


def check_name(name: str) -> str:
    """A run name is one folder name (it becomes ``outputs/<name>``): no ``/`` or ``\\``, not ``.`` or ``..``.

    Other characters are allowed: the name is also the run's title in reports.
    """
    if not name.strip(". ") or UNSAFE_IN_NAME.search(name) or name != name.strip() or name.startswith("-"):
        raise ValueError(
            f"{name!r} is not a safe run name: it becomes a folder name, so give one name without '/', '\\', "
            "control characters or surrounding spaces, not '.' or '..' (set out to write elsewhere)"
        )
    return name


def check_out_dir(path: str | Path, what: str = "out", data_dir: str | Path | None = None) -> Path:
    """Refuse a run folder that holds more than a run: the working directory, a parent of it, home, ``/``,
    one inside another run's folder, and (given ``data_dir``) one among the data (:func:`among_data`)."""
    path = Path(path).expanduser()
    _check_apart(path, what, data_dir)
    resolved = path.resolve()
    cwd, home = Path.cwd().resolve(), Path.home().resolve()
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{what}={str(path)!r}: is a file, not a folder; give the run a folder of its own")
    if resolved == Path(resolved.anchor):
        reason = "is the root folder"
    elif resolved == home:
        reason = "is your home folder"
    elif resolved == cwd:
        reason = "is the working directory"
    elif resolved in cwd.parents:
        reason = "is a parent of the working directory"
    else:
        return path
    raise ConfigError(f"{what}={str(path)!r}: {reason}; give the run its own folder, e.g. --out outputs/<name>")


def _check_apart(path: Path, what: str, data_dir: str | Path | None) -> None:
    resolved = path.resolve()
    outer = next((parent for parent in resolved.parents if is_run_dir(parent)), None)
    if outer is not None:  # its --overwrite and the outer run's would each take the other's files
        raise ConfigError(
            f"{what}={str(path)!r}: is inside the run folder {outer}; give the run a folder of its own, e.g. beside it"
        )
    place = None if data_dir is None else among_data(resolved, data_dir)
    if place is not None:
        raise ConfigError(
            f"{what}={str(path)!r}: is {place}; keep runs apart from the scans they read, e.g. --out outputs/<name>"
        )


def data_places(data_dir: str | Path) -> list[Path]:
    """What an output must keep out of, resolved: a data folder; for a CSV (``data.data_dir`` may name one), the
    file and each folder holding a scan it lists, not the folder beside it, where runs often go. A CSV that
    cannot be read (its own error comes when the data are read) guards itself alone."""
    from vaegan.data.mri_sources import read_table, table_column
    from vaegan.foundation.errors import DataError

    data = Path(data_dir).expanduser().resolve()
    if data.is_dir():  # a folder holding one CSV (layout csv): the folder, and the scans the CSV lists
        found = sorted(data.glob("*.csv"))
        return [data, *data_places(found[0])[1:]] if len(found) == 1 else [data]
    if not data.is_file():
        return [data]
    try:
        columns, rows = read_table(data, ",")
        column = table_column(data, columns, "path", "")
    except DataError:
        return [data]
    listed = {Path(row[column]) for row in rows if row.get(column)}
    return [data, *sorted({(data.parent / scan).resolve().parent for scan in listed})]  # absolute paths stay


def among_data(path: Path, data_dir: str | Path) -> str | None:
    """Where ``path`` (resolved) lies among ``data_dir``'s data (:func:`data_places`), said for a message; None
    when it lies apart from them."""
    places = data_places(data_dir)
    csv = places[0] if places[0].is_file() else None
    if csv is None and len(places) > 1:  # the folder's one CSV lists scans beyond it
        csv = next(places[0].glob("*.csv"))
    for place in places:
        if path == place or place in path.parents:
            inside = "" if path == place else "inside "
            if csv is None or place == places[0] and place.is_dir():
                return f"{inside}the data folder {place}"
            return f"{inside}{place}, which holds scans that {csv} lists" if place != csv else f"the CSV {csv}"
    return None


def holds_run(folder: Path) -> bool:
    return (folder / "checkpoints" / "last.pt").exists() or (folder / "metrics.csv").exists()


def is_vaegan_run(folder: Path) -> bool:
    """The folder's run is vaegan's: it has the marker, or (a run from before the marker) a vaegan last.pt."""
    if (folder / MARKER).is_file():
        return True
    try:
        read_checkpoint(folder / "checkpoints" / "last.pt")
    except CheckpointError:
        return False
    return True


def run_entries(folder: Path) -> list[Path]:
    """The files and folders in ``folder`` that a vaegan run wrote (by name; see :data:`RUN_FILES`)."""
    found: list[Path] = []
    for pattern in RUN_FILES:
        if pattern.endswith("/"):
            sub = folder / pattern[:-1]
            if sub.is_dir() and not sub.is_symlink():
                found += [p for p in sub.iterdir() if (p.is_file() or p.is_symlink()) and _is_own(sub, p.name)]
                found.append(sub)
        else:
            found += [p for p in _matches(folder, (pattern,)) if p.is_file() or p.is_symlink()]
    grids = grid_names(folder)
    return [p for p in found if p.parent != folder or not p.name.startswith("epoch") or _is_grid(p.name, grids)]


def grid_names(folder: Path) -> set[str]:
    """The epoch grids' names a run in ``folder`` writes: :data:`GRIDS` and those its marker notes."""
    try:
        noted = json.loads((folder / MARKER).read_text()).get("grids", [])
    except (OSError, ValueError, AttributeError):
        noted = []
    return {*GRIDS, *(str(name) for name in noted if isinstance(noted, list))}


def note_grids(folder: Path, names: list[str]) -> None:
    """Add a model's grid names beyond :data:`GRIDS` to the marker, so --overwrite knows those files too."""
    new = set(names) - grid_names(folder)
    if new and (folder / MARKER).is_file():
        marker = json.loads((folder / MARKER).read_text())
        marker["grids"] = sorted({*marker.get("grids", []), *new})
        write_text_atomic(folder / MARKER, json.dumps(marker, indent=2) + "\n")


def _is_grid(name: str, grids: set[str]) -> bool:
    match = GRID_NAME.fullmatch(name)
    return bool(match) and match.group(2) in grids


def _is_own(sub: Path, name: str) -> bool:
    """Whether ``sub/name`` (``sub`` one of the run's folders) is a file the run writes there."""
    name = name.lower()
    if any(fnmatch(name, pattern.lower()) for pattern in FOLDER_FILES[sub.name]):
        return True
    return sub.name == "effects" and name in {listed.lower() for listed in listed_maps(sub)}


def is_run_dir(folder: Path) -> bool:
    """Whether vaegan wrote a run into ``folder``: its marker, or (a run from before the marker) a checkpoint.

    A folder of the user's that merely holds a ``config.yaml`` is not one.
    """
    checkpoints = folder / "checkpoints"
    return (folder / MARKER).is_file() or (checkpoints / "last.pt").is_file() or (checkpoints / "best.pt").is_file()


def is_run_file(path: Path) -> bool:
    """Whether ``path`` names one of a run's own files (a name a run writes, inside a run folder).

    Names are compared without case: on a case-insensitive disk ``Curves.png`` is ``curves.png``.
    """
    path = Path(path).absolute()
    folder, name = path.parent, path.name.lower()
    if folder.name in FOLDER_FILES and is_run_dir(folder.parent):
        return _is_own(folder, name)
    if not is_run_dir(folder):
        return False
    if name.startswith("epoch"):
        return _is_grid(name, {grid.lower() for grid in grid_names(folder)})
    return any(fnmatch(name, p.lower()) for p in RUN_FILES if not p.endswith("/"))


class RunLock:
    """A run folder's lock, held while one process trains there (:data:`LOCK`, a ``filelock``)."""

    def __init__(self, folder: Path, lock: FileLock | None, created: bool):
        self.folder, self.lock, self.created = folder, lock, created

    @classmethod
    def take(cls, folder: Path) -> RunLock:
        """Take ``folder``'s lock (creating the folder if need be).

        Raises:
            TrainingError: another process holds it (it is training there), or the lock file is a link.
        """
        if (folder / LOCK).is_symlink():  # a run folder from elsewhere: opening it would write its target
            raise TrainingError(
                f"{folder / LOCK} is a link (to {(folder / LOCK).readlink()}); vaegan's lock file is never a link: "
                "remove it and train again"
            )
        created = not (folder / LOCK).exists()
        folder.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(folder / LOCK), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            raise TrainingError(
                f"{folder}: another vaegan process is training in this run folder (it holds {LOCK}); "
                "wait for it to finish, or choose another --out"
            ) from None
        except (NotImplementedError, OSError) as error:  # a file system without locks (some network mounts)
            log.warning("%s: cannot lock the run folder (%s); make sure one process trains there", folder, error)
            return cls(folder, None, False)
        return cls(folder, lock, created)

    def release(self) -> None:
        if self.lock is not None:
            self.lock.release()

    def give_up(self) -> None:
        """Release, and remove the lock file if taking the lock made it: a refused run leaves nothing behind."""
        self.release()
        if self.created:
            (self.folder / LOCK).unlink(missing_ok=True)


def clear_stale_temporaries(folder: Path) -> None:
    """Delete the temporary files a killed training left (``.last.pt.x1y2.tmp``); call with the lock held.

    Those of :data:`LATER_FILES` stay: a report or an evaluation may be writing one now.
    """
    names = [p for p in RUN_FILES if not p.endswith("/") and p not in LATER_FILES]
    stale = [path for name in names for path in folder.glob(f".{name}.*.tmp")]
    stale += [path for path in (folder / "checkpoints").glob(".*.pt.*.tmp")]
    for path in stale:
        path.unlink(missing_ok=True)


def _matches(folder: Path, patterns: tuple[str, ...]) -> list[Path]:
    return sorted({path for pattern in patterns for path in folder.glob(pattern)})


def clear_run(folder: Path) -> list[Path]:
    """Delete the run's own files from ``folder`` (its subfolders only once empty); keep everything else.

    Returns what was left in place because vaegan did not write it.
    """
    for path in run_entries(folder):
        if path.is_dir() and not path.is_symlink():
            if not any(path.iterdir()):
                path.rmdir()
        else:
            path.unlink(missing_ok=True)
    return sorted(folder.iterdir()) if folder.is_dir() else []


def write_marker(folder: Path) -> None:
    """``.vaegan-run.json``: this folder holds a vaegan run, and which of its names are the run's."""
    marker = {"vaegan": package_version(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "writes": RUN_FILES}
    write_text_atomic(folder / MARKER, json.dumps(marker, indent=2) + "\n")


def prepare_fresh(folder: Path, overwrite: bool) -> bool:
    """Make ``folder`` ready for a new run: refuse a run already there unless ``overwrite``.

    Returns whether a run was set aside for the new one (:func:`set_aside`).
    """
    check_out_dir(folder)
    if holds_run(folder):
        if not overwrite:
            raise TrainingError(
                f"{folder} already holds a run; pass --resume to continue it, "
                "--overwrite to replace it, or --out to write elsewhere"
            )
        if not is_vaegan_run(folder):
            raise TrainingError(
                f"{folder} holds a metrics.csv or checkpoints/last.pt, but no {MARKER} or vaegan checkpoint: "
                "vaegan did not write it, so --overwrite leaves it alone; move those files away or choose another --out"
            )
        from vaegan.training.replacement import set_aside  # it builds on this module's run_entries

        set_aside(folder)
        write_marker(folder)
        return True
    if folder.is_dir() and not is_vaegan_run(folder):
        entries = run_entries(folder)  # a folder of the user's named like a run's counts when it holds run files
        foreign = [
            p.name for p in entries if p.parent == folder and (not p.is_dir() or any(q.parent == p for q in entries))
        ]
        if foreign:  # a run would write over them, and its marker would then claim them for --overwrite
            raise TrainingError(
                f"{folder} holds {', '.join(foreign)}, which a run writes, but no {MARKER}: vaegan did not "
                "write them, so a run there would replace them; move them away or choose another --out"
            )
    folder.mkdir(parents=True, exist_ok=True)
    write_marker(folder)
    return False


def non_finite_advice(folder: Path, precision: str) -> str:
    """What to do after a NaN: name ``last.pt`` only when it exists, suggest only a precision not in use."""
    last = folder / "checkpoints" / "last.pt"
    where = f"The last good checkpoint is {last}" if last.is_file() else "No checkpoint was written yet"
    fixes = "try a lower model.lr" + (" or train.precision=32" if precision != "32" else "")
    return f"{where}; {fixes}"

"""Folders built once and shared by processes: a lock, a private temporary folder, a completion marker.

Several processes (tuning workers, parallel runs) may ask for the same cached
folder (a phantom set) at once. The first takes a file lock beside the folder
and builds; the others wait on the lock, then find the finished folder and use
it. A builder writes into a private ``tempfile.mkdtemp`` folder and renames it
into place only once it is whole, with a marker file (:data:`MANIFEST`) that
records what was built: the settings, vaegan's version, and every file with its
size. A folder without a matching marker (an older version, other settings, an
interrupted build, a file lost since) is not complete and is built again.

Example:
    >>> build_once(Path("cache/phantoms/n20"), {"subjects": 20}, make)  # doctest: +SKIP
    PosixPath('cache/phantoms/n20')
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from vaegan.foundation.errors import DataError
from vaegan.foundation.files import package_version

logger = logging.getLogger(__name__)

MANIFEST = ".vaegan-complete.json"


def write_manifest(folder: Path, settings: dict[str, Any]) -> None:
    """Mark ``folder`` complete: its settings, vaegan's version, and each file (relative path -> size)."""
    files = {
        str(path.relative_to(folder)): path.stat().st_size
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != MANIFEST
    }
    record = {"settings": settings, "version": package_version(), "count": len(files), "files": files}
    (folder / MANIFEST).write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")


def folder_is_complete(folder: Path, settings: dict[str, Any]) -> bool:
    """Whether ``folder`` holds a finished build of ``settings`` by this version, with every file intact."""
    try:
        record = json.loads((folder / MANIFEST).read_text())
        files = record["files"]
        if record["settings"] != json.loads(json.dumps(settings)) or record["version"] != package_version():
            return False
        if record["count"] != len(files) or not files:
            return False
        return all((folder / name).stat().st_size == size for name, size in files.items())
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def partial_folders(target: Path) -> list[Path]:
    """Temporary folders of builds of ``target`` (``.NAME.partial-*`` beside it)."""
    return sorted(target.parent.glob(f".{target.name}.partial-*"))


def _lock(target: Path):
    from filelock import FileLock

    return FileLock(str(target.parent / f".{target.name}.lock"))


def clear_partials(target: Path) -> None:
    """Delete the temporary folders killed builds of ``target`` left; call with ``target``'s lock held."""
    for stale in partial_folders(target):
        shutil.rmtree(stale, ignore_errors=True)


@contextmanager
def writing_alone(target: Path) -> Iterator[None]:
    """Hold ``target``'s build lock while writing it, having cleared what killed writers left.

    Raises:
        DataError: another process holds the lock (it is writing ``target`` now).
    """
    from filelock import Timeout

    lock = _lock(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        lock.acquire(timeout=0)
    except Timeout:
        raise DataError(
            f"{target}: another process is writing this folder now; wait for it, or choose another"
        ) from None
    except OSError as error:
        raise DataError(f"{target}: cannot write here ({error})") from None
    try:
        clear_partials(target)
        yield
    finally:
        lock.release()


def build_once(target: Path, settings: dict[str, Any], build: Callable[[Path], Any]) -> Path:
    """``target`` complete for ``settings``: reused if it is, else built by ``build(target)`` under a lock.

    ``build`` must write ``target`` whole (in a private temporary folder, then
    renamed) with its :data:`MANIFEST`, as :func:`vaegan.data.phantoms.write_phantoms` does.

    Raises:
        DataError: the folder cannot be written, or ``build`` left it incomplete.
    """
    from filelock import Timeout

    if folder_is_complete(target, settings):
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        hint = "set XDG_CACHE_HOME to a writable folder"
        raise DataError(f"{target.parent}: cannot create the folder ({error}); {hint}") from None
    lock = _lock(target)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        logger.warning("waiting for another process to finish %s", target)
        lock.acquire()
    try:
        if folder_is_complete(target, settings):  # built by the process we waited for
            return target
        clear_partials(target)  # left by a killed builder; builders hold the lock
        if target.exists():
            logger.warning("%s is incomplete or from another version; building it again", target)
            shutil.rmtree(target)
        build(target)
    finally:
        lock.release()
    if not folder_is_complete(target, settings):
        raise DataError(f"{target}: built but incomplete (no matching {MANIFEST}); delete the folder and try again")
    return target

"""Files written so that a crash never leaves half of one, and the user's cache folder.

``atomic_write`` writes a temporary file beside the target, flushes it to disk,
renames it over the target and flushes the folder, so a reader (or a machine
that loses power) sees either the old file or the new one, never a mix. The
new file gets the permissions a plain ``open()`` would give (the user's umask),
not the 0600 of ``mkstemp``.

Example:
    >>> write_text_atomic(Path("out/metrics.csv"), "epoch,loss\\n1,0.5\\n")  # doctest: +SKIP
"""

from __future__ import annotations

import errno
import functools
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

SUBJECTS_FILE = "subjects.json"  # the subjects of each split of an MRI run, written as training starts
RUN_MARKER = ".vaegan-run.json"  # written first into every run folder (vaegan.training.run_folder)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def fsync_folder(folder: Path) -> None:
    """Flush a folder's entries (a rename) to disk; a no-op where folders cannot be opened (Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Call ``write(tmp_path)``, flush it to disk, then rename it over ``path``.

    Readers never see half a file, and ``path`` keeps its old content if
    ``write`` fails or the process dies.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a folder, not a file", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as error:  # named after the file asked for, not the hidden temporary one
        raise type(error)(error.errno, error.strerror, str(path)) from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        with open(tmp, "rb+") as handle:  # flush what write() left in the OS cache
            os.fsync(handle.fileno())
        os.chmod(tmp, _mode_of(path))
        os.replace(tmp, path)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        if error.filename in (tmp_name, str(tmp), None):  # a failed write() or close() names no file
            raise type(error)(error.errno, error.strerror, str(path)) from None
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_folder(path.parent)


def _mode_of(path: Path) -> int:
    """The permissions a file written at ``path`` gets: those of the file it replaces, else the umask's."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return 0o666 & ~_umask()


def write_text_atomic(path: Path, text: str) -> None:
    """``path.write_text(text)``, atomically."""
    atomic_write(path, lambda tmp: tmp.write_text(text))


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """``path.write_bytes(data)``, atomically."""
    atomic_write(path, lambda tmp: tmp.write_bytes(data))


def write_npz_atomic(path: Path, arrays: dict[str, object]) -> None:
    """``numpy.savez_compressed(path, **arrays)``, atomically (into the open temporary file: the name
    itself would get a second ``.npz``)."""
    import numpy as np

    def write(tmp: Path) -> None:
        with tmp.open("wb") as handle:
            np.savez_compressed(handle, **arrays)

    atomic_write(path, write)


@functools.cache
def package_version() -> str:
    """vaegan's installed version, part of every cache key (a new version never reads an old cache)."""
    from importlib.metadata import PackageNotFoundError, version  # slow to import: only when asked

    try:
        return version("vaegan")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"


def cache_dir() -> Path:
    """vaegan's user cache: ``$XDG_CACHE_HOME/vaegan``, else ``~/.cache/vaegan``."""
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "vaegan"


def pid_running(pid: int) -> bool:
    """Whether a process ``pid`` exists on this host (another user's counts: its signal is refused, not missed)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

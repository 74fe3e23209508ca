"""Images larger than memory: a raw ``.npy`` file on disk, read batch by batch with prefetch.

A preprocessed cohort is written once, row by row, as a plain ``.npy`` file
(atomically: a temporary file renamed into place), and opened as a read-only
memory-mapped tensor that costs no memory until read (``np.load(mmap_mode='r')``).
The Trainer streams such a tensor: a background thread reads each batch's rows
with positioned reads (so the pages live in the kernel's page cache, not in
the process), converts them to float32 in pinned memory on CUDA, and the next
batch is read while the current one trains.

Example:
    >>> with ImageWriter("cohort.npy", 200, (1, 64, 64, 64)) as writer:  # doctest: +SKIP
    ...     for i, volume in enumerate(volumes):
    ...         writer[i] = volume
    >>> images = open_images("cohort.npy")  # (200, 1, 64, 64, 64) float16, memory-mapped  # doctest: +SKIP
    >>> reader = RowReader.of(images)  # reads rows from the file, never through the mapping  # doctest: +SKIP
    >>> train = take_rows(images, torch.arange(0, 200, 2))  # a file-backed subset: rows copied beside  # doctest: +SKIP
"""

from __future__ import annotations

import glob
import hashlib
import logging
import os
import queue
import socket
import threading
import weakref
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import torch
from torch import Tensor

from vaegan.foundation.files import pid_running

logger = logging.getLogger(__name__)

_BACKING: dict[int, FileRows] = {}  # id(tensor) -> where its rows lie on disk, for tensors from open_images


@dataclass(frozen=True)
class FileRows:
    """Rows of a C-ordered array stored at ``offset`` bytes into ``path``."""

    path: Path
    offset: int
    shape: tuple[int, ...]  # (N, *row)
    dtype: np.dtype

    @property
    def row_bytes(self) -> int:
        return int(np.prod(self.shape[1:])) * self.dtype.itemsize


class ImageWriter:
    """Write an (N, *row) array into ``path`` row by row; it appears only when complete.

    Rows go to the file with positioned writes, not through a mapping, so the
    written pages stay in the kernel's page cache and never count as this
    process's memory (a mapping would hold every written page until closed).
    Use as a context manager; on an exception the partial file is removed and
    ``path`` is left as it was. A writer that was killed (SIGKILL runs no cleanup)
    leaves its temporary ``.NAME.HOST.PID.tmp``; the next writer of ``path`` on
    that host deletes it once that process is gone.
    """

    def __init__(self, path: str | Path, n: int, row_shape: tuple[int, ...], dtype=np.float16):
        self.path = Path(path)
        self.tmp = self.path.with_name(f".{self.path.name}.{socket.gethostname()}.{os.getpid()}.tmp")
        self.shape, self.dtype = (n, *row_shape), np.dtype(dtype)
        self.row_bytes = int(np.prod(row_shape)) * self.dtype.itemsize

    def __enter__(self) -> ImageWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._clear_killed()
        try:  # the header and the file's full (sparse) length, then rows by offset
            header = np.lib.format.open_memmap(self.tmp, mode="w+", dtype=self.dtype, shape=self.shape)
            self.offset = int(header.offset)
            del header
            self.fd = os.open(self.tmp, os.O_WRONLY)
        except OSError as error:
            self.tmp.unlink(missing_ok=True)
            raise self._named(error) from None
        return self

    def _named(self, error: OSError) -> OSError:
        """``error`` naming the file being written (a failed write or fsync names none, or the temporary)."""
        if error.filename in (None, str(self.tmp)):
            return type(error)(error.errno, error.strerror, str(self.path))
        return error

    def _clear_killed(self) -> None:
        """Delete the temporaries of killed writers of this file on this host (not another host's: its PIDs
        mean nothing here, and a cluster's shared file system holds them too)."""
        prefix = f".{self.path.name}.{socket.gethostname()}."
        for tmp in self.path.parent.glob(f"{glob.escape(prefix)}*.tmp"):
            pid = tmp.name[len(prefix) : -len(".tmp")]
            if pid.isdigit() and not pid_running(int(pid)):
                tmp.unlink(missing_ok=True)

    def __setitem__(self, index: int | slice, rows: Tensor | np.ndarray) -> None:
        if isinstance(rows, Tensor):
            rows = rows.detach().cpu().numpy()
        start, stop, step = index.indices(self.shape[0]) if isinstance(index, slice) else (index, index + 1, 1)
        if step != 1:
            raise ValueError("ImageWriter writes contiguous rows: a slice with step 1 or one row")
        data = np.ascontiguousarray(rows, dtype=self.dtype).reshape(stop - start, *self.shape[1:])
        view, at = memoryview(data).cast("B"), self.offset + start * self.row_bytes
        while view:  # a regular file takes it all at once, but a write may legally stop short
            try:
                done = os.pwrite(self.fd, view, at)
            except OSError as error:  # a full disk or quota: said of the file being written
                raise self._named(error) from None
            view, at = view[done:], at + done

    def __exit__(self, kind, error, traceback) -> None:
        try:
            try:
                if kind is None:
                    os.fsync(self.fd)  # a network file system reports a full disk or quota here
            finally:
                os.close(self.fd)
            if kind is None:
                os.replace(self.tmp, self.path)
        except OSError as failure:
            self.tmp.unlink(missing_ok=True)
            raise self._named(failure) from None
        if kind is not None:
            self.tmp.unlink(missing_ok=True)


def open_images(path: str | Path) -> Tensor:
    """The ``.npy`` at ``path`` as a memory-mapped tensor (no memory used until read).

    The tensor remembers its file, so :class:`RowReader` (and the Trainer's
    streamed path) can read its rows without mapping them into the process.
    It is mapped copy-on-write: writing to it changes this process's copy, never the file.
    """
    path = Path(path)
    array = np.load(path, mmap_mode="c")
    tensor = torch.from_numpy(array)
    if array.flags.c_contiguous:  # row-by-row reads assume C order; a Fortran-order file is read as mapped
        _BACKING[id(tensor)] = FileRows(path, int(array.offset), tuple(array.shape), array.dtype)
        weakref.finalize(tensor, _BACKING.pop, id(tensor), None)
    return tensor


def file_rows(images: Tensor) -> FileRows | None:
    """Where ``images`` lies on disk if it came from :func:`open_images` unchanged, else None."""
    return _BACKING.get(id(images))


def nbytes(images: Tensor) -> int:
    """Bytes ``images`` takes as float32 (what the Trainer's in-memory path holds)."""
    return images.numel() * 4


def available_memory() -> int:
    """Bytes of RAM the kernel could give this process now: MemAvailable, or all of it where unknown, and
    no more than its control group leaves it (a Slurm job's --mem, a container's limit), where the host's
    figure would let a cohort be loaded into memory the job is then killed for."""
    host = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                host = int(line.split()[1]) * 1024
    except OSError:
        pass
    if host is None:
        host = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    group = cgroup_memory_left()
    return host if group is None else min(host, group)


def local_processes() -> int:
    """How many processes on this machine each load the data themselves: torchrun's ``LOCAL_WORLD_SIZE``, else 1.

    Every rank sees the same free memory, so a decision to load the data into memory divides it by this.
    """
    try:
        return max(int(os.environ.get("LOCAL_WORLD_SIZE", "1")), 1)
    except ValueError:  # set by hand to something torchrun would not write: as outside torchrun
        return 1


def cgroup_memory_left(root: Path = Path("/sys/fs/cgroup"), membership: Path = Path("/proc/self/cgroup")) -> int | None:
    """Bytes this process may still take before a control group's memory limit stops it; None without a limit.

    ``membership`` (``/proc/self/cgroup``) names the process's group below ``root``. Without a cgroup
    namespace (a Slurm job) that group lies deep, e.g. ``/system.slice/job_1/step_0``, and the limit
    (``--mem``) often on an ancestor, so every group from the process's own up to the root is read and
    the tightest wins (v2: ``memory.max`` less ``memory.current``; v1, under ``memory/``:
    ``memory.limit_in_bytes`` less ``memory.usage_in_bytes``).
    """
    try:
        lines = membership.read_text().splitlines()
    except OSError:
        lines = []
    v2 = v1 = "/"
    for _, controllers, group in (line.split(":", 2) for line in lines if line.count(":") >= 2):
        if controllers == "":  # "0::/path" (v2), "4:memory:/path" (v1)
            v2 = group
        elif "memory" in controllers.split(","):
            v1 = group
    left = []
    for mount, group, limit, usage in (
        (root, v2, "memory.max", "memory.current"),
        (root / "memory", v1, "memory.limit_in_bytes", "memory.usage_in_bytes"),
    ):
        own = PurePosixPath("/", group)
        for level in (own, *own.parents):
            folder = mount / level.relative_to("/")
            try:
                cap, used = int((folder / limit).read_text()), int((folder / usage).read_text())
            except (OSError, ValueError):  # no such group here, or "max": no limit at this level
                continue
            if cap < 2**60:  # v1 writes "no limit" as a huge number
                left.append(max(cap - used, 0))
    return min(left, default=None)


def complete(path: Path, shape: tuple[int, ...], dtype: np.dtype) -> bool:
    """Whether ``path`` is a readable ``.npy`` of this shape and dtype (a file to reuse, not rewrite)."""
    try:
        array = np.load(path, mmap_mode="r")
    except (OSError, ValueError, EOFError):  # EOFError: an empty file (an interrupted copy)
        return False
    return tuple(array.shape) == tuple(shape) and array.dtype == dtype


@contextmanager
def held_lock(lock_file: Path, waiting: str = "") -> Iterator[None]:
    """While held, no other process holds ``lock_file`` (a filelock; its folder is made). ``waiting``: what is
    logged when another process holds it first. Where no lock can be taken (a read-only cache, another
    user's, a file system without locks) the body runs unlocked, as it would without this."""
    from filelock import FileLock, Timeout

    lock = FileLock(lock_file)
    try:
        lock_file.parent.mkdir(parents=True, exist_ok=True)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            if waiting:
                logger.warning("%s (%s)", waiting, lock_file)
            lock.acquire()
    except OSError as error:
        logger.warning("cannot lock %s (%s); going on without it", lock_file, error)
        yield
        return
    try:
        yield
    finally:
        lock.release()


def one_writer(path: Path) -> AbstractContextManager[None]:
    """While held, no other process writes ``path`` (a lock beside it, ``.NAME.lock``), so ranks that share a
    cache write a cohort or split file once, the others waiting to find it complete."""
    return held_lock(path.with_name(f".{path.name}.lock"))


def take_rows(images: Tensor, index: Tensor, *, chunk: int = 64) -> Tensor:
    """``images[index]`` for an index (M,) of rows; a file-backed tensor gives a file-backed one.

    Indexing a memory-mapped tensor would read every selected row into memory.
    Here the rows of a tensor from :func:`open_images` are copied, ``chunk`` at a
    time, into a file beside it, named by the source (its name, size and time) and
    the index (so the same subset is written once and reused), and that file is
    opened instead.
    """
    rows = file_rows(images)
    if rows is None:
        return images[index]
    index = torch.as_tensor(index).cpu().long()
    if len(index) == len(images) and torch.equal(index, torch.arange(len(images))):
        return images
    stat = rows.path.stat()  # the source's version too: a file rewritten in place gets a new subset
    source = f"{rows.path.name}:{stat.st_size}:{stat.st_mtime_ns}".encode()
    digest = hashlib.sha256(source + index.numpy().tobytes()).hexdigest()[:16]
    path = rows.path.with_name(f"{rows.path.stem.split('-')[0]}-{digest}.npy")
    shape = (len(index), *rows.shape[1:])
    if not complete(path, shape, rows.dtype):
        with one_writer(path):
            if not complete(path, shape, rows.dtype):  # written by the process this one waited for
                reader = RowReader(images, rows)
                with ImageWriter(path, len(index), rows.shape[1:], rows.dtype) as writer:
                    for start in range(0, len(index), chunk):
                        part = index[start : start + chunk]
                        writer[start : start + len(part)] = reader.read(part)
    return open_images(path)


class RowReader:
    """Reads rows (images) by index, as float32 (B, *row), from a file or an in-memory tensor."""

    def __init__(self, images: Tensor, rows: FileRows | None):
        self.images, self.rows = images, rows
        self._slots: list[Slot] = []
        self.fd = os.open(rows.path, os.O_RDONLY) if rows is not None else None
        if self.fd is not None:
            weakref.finalize(self, os.close, self.fd)

    @classmethod
    def of(cls, images: Tensor) -> RowReader:
        return cls(images, file_rows(images))

    def buffer(self, n: int, *, pin: bool = False) -> Slot:
        """Room for ``n`` rows, reused batch after batch (pinned for fast copies to a GPU if ``pin``)."""
        out = torch.empty((n, *self.images.shape[1:]), dtype=torch.float32, pin_memory=pin)
        raw = np.empty((n, self.rows.row_bytes), dtype=np.uint8) if self.rows is not None else None
        return Slot(out, raw)

    def slots(self, count: int, n: int, *, pin: bool = False) -> list[Slot]:
        """``count`` buffers of ``n`` rows, kept from one epoch to the next (allocated once)."""
        have = self._slots
        if len(have) != count or len(have[0].out) < n or have[0].out.is_pinned() != pin:
            self._slots = [self.buffer(n, pin=pin) for _ in range(count)]
        return self._slots

    def read(self, index: Tensor, slot: Slot | None = None) -> Tensor:
        """Rows ``index`` (B,) as float32 (B, *row): a view of ``slot`` if given, else a new tensor."""
        index = index.cpu()
        slot = slot or self.buffer(len(index))
        out = slot.out[: len(index)]
        if self.rows is None:
            out.copy_(self.images.index_select(0, index))
            return out
        rows, size = self.rows, self.rows.row_bytes
        raw = slot.raw[: len(index)]
        for i, row in enumerate(index.tolist()):  # positioned reads: nothing is mapped into the process
            got = os.preadv(self.fd, [memoryview(raw[i])], rows.offset + row * size)
            if got != size:
                raise OSError(f"{rows.path}: short read of row {row} ({got} of {size} bytes); is the file complete?")
        out.copy_(torch.from_numpy(raw.view(rows.dtype).reshape(out.shape)))  # to float32
        return out


@dataclass
class Slot:
    """One reusable batch buffer: float32 rows (B, *row) and, for a file, their raw bytes (B, row_bytes)."""

    out: Tensor
    raw: np.ndarray | None
    copied: torch.cuda.Event | None = None  # on CUDA: the copy out of ``out`` has finished


def prefetch(reader: RowReader, indices: list[Tensor], device: torch.device, depth: int = 2) -> Iterator[Tensor]:
    """The rows of each index batch, on ``device``, read ``depth`` batches ahead in a background thread.

    File reads and the float conversion release the GIL, so they overlap with
    training. The batches live in ``depth + 2`` buffers allocated once (pinned
    on CUDA, copied with non-blocking transfers): a buffer may be refilled as
    soon as the consumer asks for the next batch (on CUDA, once its GPU copy is
    done). On the CPU the batch handed out *is* the buffer, so use it (or copy
    it) before asking for the next one, as the Trainer's step does.
    """
    if not indices:
        return
    cuda = device.type == "cuda"
    slots = reader.slots(depth + 2, max(len(index) for index in indices), pin=cuda)
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def produce() -> None:
        try:
            for k, index in enumerate(indices):
                if stop.is_set():
                    return
                slot = slots[k % len(slots)]
                if slot.copied is not None:
                    slot.copied.synchronize()
                ready.put((slot, reader.read(index, slot)))
            ready.put(done)
        except BaseException as error:  # handed to the consumer, raised there
            ready.put(error)

    worker = threading.Thread(target=produce, name="vaegan-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item = ready.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            slot, rows = item
            batch = rows.to(device, non_blocking=True)
            if cuda:
                slot.copied = torch.cuda.Event()
                slot.copied.record()
            yield batch
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            try:
                ready.get_nowait()
            except queue.Empty:
                worker.join(0.01)

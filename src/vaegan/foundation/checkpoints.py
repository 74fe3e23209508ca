"""Checkpoints: written atomically, read with ``torch.load(weights_only=True)``.

A checkpoint is a dict of plain data and tensors: the model's config and
weights, the optimizers' states, the epoch, the RNG states, the run config and
the metric history. Nothing in it is code, so loading one executes nothing; a
file that holds anything else is refused, never loaded another way.
"""

from __future__ import annotations

import errno
import os
import pickle
import shutil
import zipfile
from pathlib import Path
from typing import Any

import torch

from vaegan.foundation.errors import CheckpointError
from vaegan.foundation.files import atomic_write

FORMAT = "vaegan-checkpoint-1"


def atomic_save(payload: dict[str, Any], path: Path) -> None:
    """``torch.save`` the payload (tagged with the format) so that no reader ever sees half of it.

    Raises:
        OSError: ENOSPC, naming ``path``, where the disk filled up: torch's writer reports a short write
            as a RuntimeError ("unexpected pos ..."), which would reach the user as a traceback.
    """
    path = Path(path)

    def write(tmp: Path) -> None:
        try:
            torch.save({"format": FORMAT, **payload}, tmp)
        except RuntimeError as error:
            if shutil.disk_usage(tmp.parent).free >= FULL_BELOW:
                raise
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path)) from error

    atomic_write(path, write)


FULL_BELOW = 1 << 20  # bytes: a disk with less room than this is taken as full


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _unreadable(path: Path, error: BaseException) -> CheckpointError:
    return CheckpointError(f"{path}: not a readable checkpoint (truncated or corrupt?): {_first_line(error)}")


def damaged_member(path: Path) -> str | None:
    """The first record of the archive whose bytes fail their CRC-32 (torch.load does not check them)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        return f"the archive ({_first_line(error)})"


def read_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint safely, with an error that names the file and the problem."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint")
    if not zipfile.is_zipfile(path):  # torch.save writes a zip archive; a truncated one has lost its directory
        with path.open("rb") as file:
            started_as_zip = file.read(4) == b"PK\x03\x04"
        if not started_as_zip and path.stat().st_size > 0:  # an empty file is a copy or a write cut short
            raise CheckpointError(f"{path}: not a vaegan checkpoint (not a file torch.save wrote); was it replaced?")
        raise _unreadable(path, zipfile.BadZipFile("the archive's directory is missing"))
    damaged = damaged_member(path)
    if damaged is not None:
        raise _unreadable(path, zipfile.BadZipFile(f"{damaged} does not match its checksum (the file changed on disk)"))
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        if "weights_only" in str(error) or "Unsupported global" in str(error):
            raise CheckpointError(
                f"{path}: refused: it holds Python objects other than tensors and plain data, which vaegan "
                "never loads (loading them could run code); it was not written by vaegan"
            ) from None
        raise _unreadable(path, error) from None
    except (RuntimeError, EOFError, OSError, KeyError, IndexError, zipfile.BadZipFile, ValueError) as error:
        if isinstance(error, RuntimeError) and "CUDA" in str(error):
            raise CheckpointError(
                f"{path}: holds CUDA tensors but no CUDA device is available here; load with device 'cpu'"
            ) from None
        raise _unreadable(path, error) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a vaegan checkpoint (expected format {FORMAT})")
    return payload


def held_epoch(path: Path) -> int | None:
    """The epoch the checkpoint at ``path`` holds, read without its tensors (memory-mapped, so a large model
    costs nothing); None where there is no readable vaegan checkpoint."""
    path = Path(path)
    if not path.is_file() or not zipfile.is_zipfile(path):
        return None
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, KeyError, IndexError, ValueError):
        return None
    epoch = payload.get("epoch") if isinstance(payload, dict) and payload.get("format") == FORMAT else None
    return epoch if isinstance(epoch, int) else None

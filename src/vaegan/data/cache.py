"""On-disk cache of preprocessed tensors, keyed by the input files and the preprocessing settings.

The key hashes every file's path, size and modification time with the settings,
so an edited, added or removed file, or a changed setting, misses the cache;
nothing stale is ever read. Files are written atomically and read with
``torch.load(weights_only=True)``; an unreadable cache file is treated as a miss.

Example:
    >>> path = cache_path("mri", [Path("a.nii.gz")], {"size": 64})  # doctest: +SKIP
    >>> save_cached(path, {"volumes": torch.zeros(1, 1, 64, 64, 64)})  # doctest: +SKIP
    >>> load_cached(path)["volumes"].shape  # doctest: +SKIP
    torch.Size([1, 1, 64, 64, 64])
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import torch

from vaegan.foundation.files import atomic_write, cache_dir

logger = logging.getLogger(__name__)

CACHE_VERSION = 1


def cache_root() -> Path:
    """``<vaegan cache>/preprocessed`` (``$XDG_CACHE_HOME/vaegan`` or ``~/.cache/vaegan``)."""

    return cache_dir() / "preprocessed"


def cache_path(kind: str, files: list[Path], settings: dict[str, Any]) -> Path:
    """Where the tensors made from ``files`` with ``settings`` are cached."""
    stats = []
    for file in files:
        try:
            info = file.stat()
            stats.append((str(file.resolve()), info.st_size, info.st_mtime_ns))
        except OSError:
            stats.append((str(file), -1, -1))
    blob = json.dumps([CACHE_VERSION, kind, settings, stats], sort_keys=True, default=str)
    return cache_root() / f"{kind}-{hashlib.sha256(blob.encode()).hexdigest()[:24]}.pt"


def load_cached(path: Path) -> dict[str, Any] | None:
    """The cached payload, or ``None`` when absent or unreadable."""
    if not path.is_file():
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a damaged cache file is a miss, never a failure
        logger.warning("ignoring the unreadable cache file %s (%s); recomputing", path, error)
        return None


def save_cached(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` atomically; a cache that cannot be written only costs time later."""

    try:
        atomic_write(path, lambda tmp: torch.save(payload, tmp))
    except OSError as error:
        logger.warning("could not write the cache file %s: %s", path, error)

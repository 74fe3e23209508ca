"""On-disk cache of preprocessed tensors, keyed by the input files, the settings and vaegan's version.

The key hashes each file's path, size and modification time with the settings
and the package version, so an edited, added or removed file, a changed
setting or a new vaegan misses the cache; nothing stale is ever read. Entries
are written atomically (a reader never sees half a file) and read with
``torch.load(weights_only=True)``; an unreadable entry is treated as a miss.

Example:
    >>> path = cache_path("mri", [Path("a.nii.gz")], {"size": 64})  # doctest: +SKIP
    >>> save_cached(path, {"volume": torch.zeros(1, 64, 64, 64)})  # doctest: +SKIP
    >>> load_cached(path)["volume"].shape  # doctest: +SKIP
    torch.Size([1, 64, 64, 64])
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import torch

from vaegan.foundation.checkpoints import damaged_member
from vaegan.foundation.files import atomic_write, cache_dir, package_version

logger = logging.getLogger(__name__)

CACHE_VERSION = 2  # 2: one entry per input file, keyed by the package version too


def cache_root() -> Path:
    """``<vaegan cache>/preprocessed`` (``$XDG_CACHE_HOME/vaegan`` or ``~/.cache/vaegan``)."""

    return cache_dir() / "preprocessed"


def file_stats(files: list[Path]) -> list[tuple[str, str, int, int]]:
    """(absolute path, name as given, size, mtime in ns) of each file; (path, name, -1, -1) for one that cannot
    be read. The name as given too: a link's name can decide how it is read (``_space-MNI``: not registered)."""
    stats = []
    for file in files:
        try:
            info = file.stat()
            stats.append((str(file.resolve()), file.name, info.st_size, info.st_mtime_ns))
        except OSError:
            stats.append((str(file), file.name, -1, -1))
    return stats


def cache_key(kind: str, files: list[Path], settings: dict[str, Any]) -> str:
    """A hex digest of everything the cached tensors depend on."""
    blob = json.dumps(
        [CACHE_VERSION, package_version(), kind, settings, file_stats(files)], sort_keys=True, default=str
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def cache_path(kind: str, files: list[Path], settings: dict[str, Any]) -> Path:
    """Where the tensors made from ``files`` with ``settings`` are cached: ``<root>/<kind>/<key>.pt``."""
    key = cache_key(kind, files, settings)
    return cache_root() / kind / key[:2] / f"{key}.pt"


def load_cached(path: Path) -> dict[str, Any] | None:
    """The cached payload, or ``None`` when absent or unreadable."""
    if not path.is_file():
        return None
    damaged = damaged_member(path)
    if damaged is not None:  # torch.load would read flipped bytes as data
        logger.warning("ignoring the damaged cache file %s (%s fails its check); recomputing", path, damaged)
        return None
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a damaged cache file is a miss, never a failure
        logger.warning("ignoring the unreadable cache file %s (%s); recomputing", path, error)
        return None
    return payload if isinstance(payload, dict) else None


def save_cached(path: Path, payload: dict[str, Any]) -> str | None:
    """Write ``payload`` atomically; a cache that cannot be written only costs time later (None: written,
    else why not)."""

    try:
        atomic_write(path, lambda tmp: torch.save(payload, tmp))
    except (OSError, RuntimeError) as error:  # torch reports a short write (a full disk) as RuntimeError
        logger.warning("could not write the cache file %s: %s", path, error)
        return str(error)
    return None

"""Each T1w file preprocessed once and on its own: one cache entry per file; a bad file costs only itself.

Every file (with its map, if any) is read and preprocessed inside its own
handler: whatever goes wrong, a :class:`~vaegan.data.bad_inputs.BadFile` or
any other error wrapped by MONAI, the file is recorded as bad with the
innermost reason and the others go on (``strict`` stops at the first, naming
it). Each finished file is cached at once, so an interrupted run (a crash,
Ctrl-C, a killed worker) loses at most the file it was working on.

The key of an entry (:func:`~vaegan.data.cache.cache_path`) holds the file's
path, size and modification time, vaegan's version, and every
:class:`~vaegan.config.MRIConfig` value except those applied after the cache
(:data:`NOT_IN_KEY`): a new preprocessing option is part of the key by default.
Bad files whose reason is a :class:`BadFile` are cached too (the same file
fails the same way); other errors (memory, a disk hiccup) are retried next time.

Files missing from the cache are preprocessed by ``data.mri.workers`` spawned processes
(0: one per core; a handful of files stay in this process, as starting one costs seconds),
each result cached as it arrives; the result does not depend on the number of workers.

A cohort too large for memory (``data.mri.storage``) is then written, entry by
entry, into one memory-mapped float32 file in the cache (:func:`cohort_files`),
which training streams; its values are those of the in-memory tensor.

Example:
    >>> volumes, maps, kept, seconds = preprocess_records(records, MRIConfig(size=64), None, bad)  # doctest: +SKIP
    >>> volumes.shape  # doctest: +SKIP
    torch.Size([10, 1, 64, 64, 64])
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import AbstractContextManager, ExitStack, nullcontext
from dataclasses import replace
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from vaegan.data.bad_inputs import BadFile, BadInputs, causes, reason_of
from vaegan.data.cache import cache_path, cache_root, load_cached, save_cached
from vaegan.data.config import MRIConfig
from vaegan.data.mri_sources import Record
from vaegan.data.streaming import (
    ImageWriter,
    available_memory,
    complete,
    held_lock,
    local_processes,
    one_writer,
    open_images,
)
from vaegan.foundation.errors import DataError

logger = logging.getLogger(__name__)

SERIAL_BELOW = 16  # files; fewer are preprocessed in this process unless data.mri.workers is set

# MRIConfig fields that never change a preprocessed volume: labels and layout choose the
# files (which are in the key), slicing and splitting happen after the cache.
NOT_IN_KEY = frozenset(
    {
        "layout",
        "diagnosis_column",
        "classes",
        "label_map",
        "spatial_dims",
        "slice_axis",
        "slice_range",
        "slice_step",
        "test_size",
        "strict",
        "cache",
        "progress",
        "phantom_subjects",
        "phantom_spacing",
        "phantom_seed",
        "session",
        "derivatives",
        "workers",
        "storage",
    }
)

PREPROCESSING_LIBRARIES = ("nibabel", "monai", "SimpleITK", "nilearn")
# raised when vaegan's preprocessing changes its output; 2: registered scans cropped to the template's brain;
# 3: the registration's sample seeded (it was the wall clock), Analyze files refused, the file name in the key
PIPELINE = 3


def preprocessing_constants() -> dict[str, Any]:
    """The module constants a preprocessed volume (or a scan's refusal) depends on, so changing one misses the
    cache as a changed setting does."""
    from vaegan.data import mri_transforms, registration

    names = ("TEMPLATE_MM", "N4_MM", "MIN_CORRELATION", "SCALE_RANGE", "SAMPLING_SEED")
    return {name: getattr(registration, name) for name in names} | {"BRAIN_THRESHOLD": mri_transforms.BRAIN_THRESHOLD}


def preprocessing_settings(options: MRIConfig, maps_suffix: str | None) -> dict[str, Any]:
    """Every setting that can change a preprocessed volume (all of ``options`` but :data:`NOT_IN_KEY`),
    the versions of the libraries that preprocess it (nilearn's MNI152 template changed in 0.8),
    vaegan's own :data:`PIPELINE` and the constants of :func:`preprocessing_constants`."""
    libraries = {name: version(name) for name in PREPROCESSING_LIBRARIES}
    settings = options.model_dump(mode="json", exclude=set(NOT_IN_KEY))
    extra = {"maps": maps_suffix, "libraries": libraries, "pipeline": PIPELINE, "constants": preprocessing_constants()}
    return settings | extra


def map_path(image: Path, suffix: str) -> Path:
    """The map beside ``image``: its name with ``_T1w.nii[.gz]`` replaced by ``suffix``."""
    name = image.name
    stem = name[: name.rfind("_T1w")] if "_T1w" in name else name.split(".")[0]
    return image.with_name(stem + suffix)


def _cached_entry(path: Path, options: MRIConfig, maps_suffix: str | None, lean: bool) -> dict[str, Any] | None:
    """The valid cache entry at ``path`` (None: compute it), without its tensors if ``lean``."""
    if not options.cache:
        return None
    entry = _valid(load_cached(path), options.size, maps_suffix)
    return _lean(entry) if lean else entry


def preprocess_records(
    records: list[Record], options: MRIConfig, maps_suffix: str | None, bad: BadInputs
) -> tuple[Tensor, Tensor | None, list[Record], list[float]]:
    """Volumes (N, 1, S, S, S) and maps (or ``None``) of the usable records, in order, those records, and
    the seconds each took to preprocess (N4 and registration included; recorded when it was computed).

    Bad files go to ``bad`` (which raises at the first one when strict).
    """
    settings = preprocessing_settings(options, maps_suffix)
    records = list(records)
    paths = [cache_path("mri", _files(record, maps_suffix), settings) for record in records]
    cached = options.cache and all(path.is_file() for path in paths)  # then readers need not wait for one another
    with nullcontext() if cached else _cohort_lock(paths, options):  # torchrun's ranks read one cohort at once
        return _preprocess(records, paths, settings, options, maps_suffix, bad)


def _cohort_lock(paths: list[Path], options: MRIConfig) -> AbstractContextManager[None]:
    """While held, no other process preprocesses these cache entries: the first of several readers fills
    the cache, the others wait and then read it. No lock without the cache."""
    if not options.cache:
        return nullcontext()
    key = hashlib.sha256(json.dumps(sorted(str(p) for p in paths)).encode()).hexdigest()[:32]
    waiting = "waiting for another process that preprocesses this cohort"
    return held_lock(cache_root() / "mri-locks" / f"{key}.lock", waiting)


def _preprocess(
    records: list[Record],
    paths: list[Path],
    settings: dict[str, Any],
    options: MRIConfig,
    maps_suffix: str | None,
    bad: BadInputs,
) -> tuple[Tensor, Tensor | None, list[Record], list[float]]:
    """:func:`preprocess_records` once its cache entries are this process's to fill."""
    on_disk = in_file(options, len(records), maps_suffix)  # then no volume is held: they are reread to write
    # on disk, each entry is checked and its tensors let go at once (the cohort file rereads them)
    entries = [_cached_entry(path, options, maps_suffix, lean=on_disk) for path in paths]
    hits = sum(entry is not None for entry in entries)
    _fill(entries, records, paths, options, maps_suffix, bad, lean=on_disk)
    # a bad file with a fallback (the session's next run, the next session under session: first/last)
    while failed := [i for i, entry in enumerate(entries) if "reason" in entry and records[i].fallbacks]:
        for i in failed:
            then = replace(records[i].fallbacks[0], fallbacks=records[i].fallbacks[1:])
            bad.add(records[i].path, f"{entries[i]['reason']}; {then.path.name} is used instead")
            records[i], paths[i] = then, cache_path("mri", _files(then, maps_suffix), settings)
            entries[i] = _cached_entry(paths[i], options, maps_suffix, lean=on_disk)
        _fill(entries, records, paths, options, maps_suffix, bad, lean=on_disk)
    volumes, maps, kept, seconds, sources = [], [], [], [], []
    for record, entry, path in zip(records, entries, paths):
        if "reason" in entry:
            bad.add(record.path, entry["reason"])
            continue
        volumes.append(entry.get("volume"))
        maps.append(entry.get("map"))
        kept.append(record)
        seconds.append(float(entry.get("seconds", 0.0)))
        sources.append(path)
    if hits:
        logger.info("read %d of %d preprocessed volumes from the cache %s", hits, len(records), cache_root() / "mri")
    if on_disk and kept:
        return (*cohort_files(sources, options.size, maps_suffix, options.progress), kept, seconds)
    size = options.size
    stacked = torch.stack(volumes).float() if volumes else torch.zeros(0, 1, size, size, size)
    # stored as float16: half the disk, ~1e-3 precision in [0, 1]
    return stacked, (torch.stack(maps).float() if maps_suffix and volumes else None), kept, seconds


def _fill(
    entries: list[dict[str, Any] | None],
    records: list[Record],
    paths: list[Path],
    options: MRIConfig,
    maps_suffix: str | None,
    bad: BadInputs,
    *,
    lean: bool,
) -> None:
    """Preprocess the records whose entry is ``None`` (not cached), caching each result as it arrives."""
    missing = [i for i, entry in enumerate(entries) if entry is None]
    workers = _workers(options, len(missing))
    desc = f"preprocessing MRI ({workers} processes)" if workers > 1 else "preprocessing MRI"
    bar = tqdm(total=len(missing), desc=desc, disable=not options.progress or not missing, dynamic_ncols=True)
    computed = _computed([records[i] for i in missing], options, maps_suffix, workers)
    for i, (entry, deterministic) in zip(missing, computed):
        if options.cache and deterministic:
            failed = save_cached(paths[i], entry)  # at once: an interrupted run loses only what is unfinished
            if failed and lean and "reason" not in entry:  # the cohort file is written from the cache
                bar.close()
                raise DataError(
                    f"{paths[i].parent.parent}: the cache cannot be written ({failed}), and data.mri.storage "
                    "'file' (or 'auto' with little memory) writes the cohort file from it; free space there, set "
                    "XDG_CACHE_HOME to a writable folder, or set data.mri.storage: memory"
                )
        entries[i] = _lean(entry) if lean else entry
        bar.update()
        if options.strict and "reason" in entry:  # stop at the first bad file, naming it
            bar.close()
            bad.add(records[i].path, entry["reason"])
    bar.close()


def in_file(options: MRIConfig, n: int, maps_suffix: str | None) -> bool:
    """Whether ``n`` volumes go to a cohort file (``data.mri.storage``).

    auto: when they would take over a quarter of this process's share of the free RAM, the free RAM divided
    among the processes on this machine (torchrun's ``LOCAL_WORLD_SIZE``), as every rank holds its own copy.
    On a warm cache every rank of a machine measures the same free RAM and chooses alike; while the cache
    is built, ranks take turns, and one near the threshold may choose otherwise than the rank before it
    (the values are the same either way: only disk and time differ).
    """
    if options.storage != "auto":
        return options.storage == "file"
    needed = n * options.size**3 * 4 * (2 if maps_suffix else 1)  # float32 volumes (and maps)
    return options.cache and needed > available_memory() // local_processes() // 4


def cohort_files(
    sources: list[Path], size: int, maps_suffix: str | None, progress: bool = False
) -> tuple[Tensor, Tensor | None]:
    """The cached volumes ``sources``, in order, as one memory-mapped float32 (N, 1, S, S, S) (and maps).

    Written once, entry by entry (never all in memory), into ``<cache>/mri-cohorts/<key>.npy``
    whose key names the entries (each already keyed by its file and settings); reused after.
    """
    key = hashlib.sha256(json.dumps([str(p) for p in sources] + [maps_suffix]).encode()).hexdigest()[:32]
    folder = cache_root() / "mri-cohorts"
    shape = (1, size, size, size)
    targets = [folder / f"{key}.npy"] + ([folder / f"{key}_maps.npy"] if maps_suffix else [])
    done = lambda: all(complete(path, (len(sources), *shape), np.dtype(np.float32)) for path in targets)  # noqa: E731
    if not done():
        with ExitStack() as stack:
            stack.enter_context(one_writer(targets[0]))
            if done():  # written by the process this one waited for
                return open_images(targets[0]), (open_images(targets[1]) if maps_suffix else None)
            writers = [stack.enter_context(ImageWriter(path, len(sources), shape, np.float32)) for path in targets]
            for i, source in enumerate(tqdm(sources, desc="writing the cohort file", disable=not progress)):
                entry = load_cached(source)
                if entry is None:
                    raise DataError(f"{source}: a preprocessed volume left the cache while the cohort was written")
                for writer, name in zip(writers, ["volume", "map"]):
                    writer[i] = entry[name].float()
        logger.info("wrote the preprocessed cohort (%d volumes) to %s", len(sources), targets[0])
    volumes = open_images(targets[0])
    return volumes, (open_images(targets[1]) if maps_suffix else None)


def _lean(entry: dict[str, Any] | None) -> dict[str, Any] | None:
    """``entry`` without its tensors (what the cohort-file path keeps of a cached volume)."""
    return None if entry is None else {k: v for k, v in entry.items() if k not in ("volume", "map")}


def _files(record: Record, maps_suffix: str | None) -> list[Path]:
    return [record.path] + ([map_path(record.path, maps_suffix)] if maps_suffix else [])


def _workers(options: MRIConfig, jobs: int) -> int:
    workers = options.workers or os.cpu_count() or 1
    if jobs < SERIAL_BELOW and not options.workers:  # starting processes costs seconds: not for a few files
        workers = 1
    return max(1, min(workers, jobs))


def _computed(
    records: list[Record], options: MRIConfig, maps_suffix: str | None, workers: int
) -> Iterator[tuple[dict[str, Any], bool]]:
    """``_compute`` of each record, in order; in ``workers`` spawned processes when more than one.

    Spawned, not forked: preprocessing runs torch (MONAI), whose thread pools do not survive a fork.
    """
    if workers == 1:
        for record in records:
            yield _compute(record, options, maps_suffix)
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=torch.set_num_threads, initargs=(1,)) as pool:
        jobs = [(record, options, maps_suffix) for record in records]
        yield from pool.map(_compute_job, jobs, chunksize=max(1, min(8, len(jobs) // (4 * workers))))


def _compute_job(job: tuple[Record, MRIConfig, str | None]) -> tuple[dict[str, Any], bool]:
    return _compute(*job)


def _valid(entry: dict[str, Any] | None, size: int, maps_suffix: str | None) -> dict[str, Any] | None:
    """``entry`` if it holds a reason, or a volume (and map) of the expected shape; else ``None`` (a miss)."""
    if entry is None or isinstance(entry.get("reason"), str):
        return entry
    shape = (1, size, size, size)
    volume, extra = entry.get("volume"), entry.get("map")
    if not isinstance(volume, Tensor) or tuple(volume.shape) != shape:
        return None
    if maps_suffix and (not isinstance(extra, Tensor) or tuple(extra.shape) != shape):
        return None
    return entry


def _compute(record: Record, options: MRIConfig, maps_suffix: str | None) -> tuple[dict[str, Any], bool]:
    """(entry, whether it may be cached): ``{"volume", "map"?}`` or ``{"reason"}``; never raises but on Ctrl-C."""
    from vaegan.data import mri_transforms  # looked up at call time: tests count the calls

    start = time.perf_counter()
    try:
        image, affine = mri_transforms.read_volume(record.path)
        extra = None
        if maps_suffix:
            map_file = map_path(record.path, maps_suffix)
            if not map_file.is_file():
                raise BadFile(f"has no map {map_file.name} beside it")
            try:
                extra, map_affine = mri_transforms.read_volume(map_file, allow_blank=True)
            except BadFile as error:
                raise BadFile(f"its map {map_file.name} {error}") from None
            if extra.shape != image.shape or not np.allclose(map_affine, affine, atol=1e-3):
                raise BadFile(  # used voxel by voxel with the image: another grid would misplace or mirror it
                    f"its map {map_file.name} is not on the image's grid (shape {extra.shape} vs {image.shape}, "
                    "or another affine); save the map with the image's header"
                )
        volume, extra_volume = mri_transforms.preprocess(image, affine, options, extra, source=record.path)
    except Exception as error:  # one file's failure, whatever it is, must not cost the others
        reason = reason_of(error, "failed in preprocessing")
        logger.debug("%s: %s", record.path, reason, exc_info=not isinstance(error, BadFile))
        return {"reason": reason}, any(isinstance(e, BadFile) for e in causes(error))
    entry = {"volume": volume.half(), "seconds": time.perf_counter() - start}
    if extra_volume is not None:
        entry["map"] = extra_volume.half()
    return entry, True

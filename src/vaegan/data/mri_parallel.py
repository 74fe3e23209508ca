"""Preprocess a cohort's T1w images in several processes, with one progress bar.

Each image is independent (read, reorient, resample, normalise, crop), so a
pool of ``data.mri.workers`` processes (default: one per CPU core) shares them.
Workers are spawned, not forked: preprocessing runs torch (MONAI), whose
thread pools do not survive a fork. The result does not depend on the number
of workers, so it is not part of the cache key.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import torch
from tqdm.auto import tqdm

from vaegan.data.bad_inputs import BadFile
from vaegan.data.config import MRIConfig
from vaegan.data.mri_sources import Record

SERIAL_BELOW = 16  # images; fewer are preprocessed in this process unless data.mri.workers is set
Job = tuple[Record, MRIConfig, "str | None"]
Result = tuple[np.ndarray, "np.ndarray | None"] | str  # (volume, map) as float16, or why the image was left out


def preprocess_records(records: list[Record], options: MRIConfig, maps_suffix: str | None) -> dict:
    """The cache payload for ``records``: float16 volumes (N, 1, S, S, S), maps, kept paths, failures."""
    jobs = [(record, options, maps_suffix) for record in records]
    workers = options.workers or os.cpu_count() or 1
    if len(jobs) < SERIAL_BELOW and not options.workers:  # starting processes costs seconds: not for a few files
        workers = 1
    workers = min(workers, max(1, len(jobs)))
    bar = tqdm(total=len(jobs), desc=f"preprocessing MRI ({workers} processes)", disable=not options.progress)
    volumes, maps, paths, failed, reasons = [], [], [], [], []
    for record, result in zip(records, _results(jobs, workers)):
        bar.update()
        if isinstance(result, str):
            failed.append(str(record.path))
            reasons.append(result)
            continue
        volumes.append(torch.from_numpy(result[0]))
        maps.append(None if result[1] is None else torch.from_numpy(result[1]))
        paths.append(str(record.path))
    bar.close()
    size = options.size
    payload = {
        "volumes": torch.stack(volumes) if volumes else torch.zeros(0, 1, size, size, size, dtype=torch.half),
        "paths": paths,
        "failed": failed,
        "reasons": reasons,
    }
    if maps_suffix and volumes:
        payload["maps"] = torch.stack(maps)
    return payload


def _results(jobs: list[Job], workers: int) -> Iterator[Result]:
    if workers == 1:
        yield from map(preprocess_one, jobs)
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=torch.set_num_threads, initargs=(1,)) as pool:
        yield from pool.map(preprocess_one, jobs, chunksize=max(1, min(8, len(jobs) // (4 * workers))))


def preprocess_one(job: Job) -> Result:
    """One image (and its map) preprocessed, as float16 arrays; a bad file gives the reason instead."""
    from vaegan.data.mri import _map_path
    from vaegan.data.mri_transforms import preprocess, read_volume

    record, options, maps_suffix = job
    try:
        image, affine = read_volume(record.path)
        extra = None
        if maps_suffix:
            map_file = _map_path(record.path, maps_suffix)
            if not map_file.is_file():
                raise BadFile(f"has no map {map_file.name} beside it")
            try:
                extra, _ = read_volume(map_file, allow_blank=True)
            except BadFile as error:
                raise BadFile(f"its map {map_file.name} {error}") from None
        volume, extra_volume = preprocess(image, affine, options, extra)
    except BadFile as error:
        return str(error)
    return volume.half().numpy(), None if extra_volume is None else extra_volume.half().numpy()

"""MRI datasets: T1w volumes to cached tensors, split by subject, served as 3-D volumes or 2-D slices.

Registers three datasets, all configured by ``data.mri`` (:class:`~vaegan.config.MRIConfig`):

- ``mri``: a BIDS folder or a CSV of path,label (or an image folder) at
  ``data_dir``, else at ``$VAEGAN_DATA_DIR/mri``;
- ``phantoms``: synthetic CN/AD brains (:mod:`vaegan.data.phantoms`) at
  ``data_dir``, else generated once into the cache;
- ``image-folder``: 2-D images in one subfolder per class (:mod:`vaegan.data.imagefolder`).

Subjects, never slices, are split: the test set is a stratified
``data.mri.test_size`` of the subjects (fixed, like MNIST's test set), and
every image carries its subject as ``groups`` so that :func:`load_dataset`
draws validation subjects whole. Slice-level splits would put slices of one
brain on both sides and overstate every score.

Example:
    >>> splits = load_dataset("phantoms", val_size=0.15, mri=MRIConfig(phantom_subjects=12, size=32))  # doctest: +SKIP
    >>> splits.image_shape, splits.class_names  # doctest: +SKIP
    ((1, 32, 32), ['CN', 'AD'])
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from vaegan.data.bad_inputs import BadInput, BadInputs
from vaegan.data.config import DataConfig, MRIConfig
from vaegan.data.csv_source import csv_records
from vaegan.data.datasets import DataLocation, ImageDataset, split_subjects
from vaegan.data.mri_cache import preprocess_records
from vaegan.data.mri_sources import bids_records, detect_layout, is_phantom_folder, raw_scans
from vaegan.data.registry import register_dataset
from vaegan.data.streaming import ImageWriter, complete, file_rows, one_writer, open_images, take_rows
from vaegan.foundation.errors import DataError
from vaegan.foundation.files import cache_dir

logger = logging.getLogger(__name__)


@dataclass
class MRIVolumes:
    """Preprocessed volumes with their labels and subjects, before any split.

    Attributes:
        volumes: (N, 1, D, H, W) in [0, 1], D/H/W = inferior->superior, posterior->anterior, left->right.
        labels: (N,) class indices into ``class_names``.
        subjects: the subject id of each volume (several volumes per subject with sessions).
        paths: the file each volume was read from.
        class_names: one name per class.
        maps: (N, 1, D, H, W) maps read beside each image (e.g. true atrophy), or ``None``.
        skipped: the inputs left out, each with its reason.
        grid: voxel (X, Y, Z) -> MNI152 mm (4x4) of every volume where all are on the template grid
            (registered), else ``None``: each scan in its own space, millimetres nominal.
        seconds: the preprocessing time of each volume (N4 and registration included), when it was computed.

    Example:
        >>> data = MRIVolumes(torch.zeros(3, 1, 8, 8, 8), torch.tensor([0, 1, 0]), ["s1", "s2", "s1"],
        ...                   ["a", "b", "c"], ["CN", "AD"])
        >>> data.select(data.labels == 0).subjects
        ['s1', 's1']
    """

    volumes: Tensor
    labels: Tensor
    subjects: list[str]
    paths: list[str]
    class_names: list[str]
    maps: Tensor | None = None
    skipped: list[BadInput] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    grid: np.ndarray | None = None

    def select(self, mask: Tensor) -> MRIVolumes:
        """The volumes where ``mask`` (N,) is true."""
        rows = mask.nonzero().flatten()
        keep = rows.tolist()
        return replace(
            self,
            volumes=take_rows(self.volumes, rows),  # a cohort file stays a file
            labels=self.labels[mask],
            subjects=[self.subjects[i] for i in keep],
            paths=[self.paths[i] for i in keep],
            seconds=[self.seconds[i] for i in keep] if self.seconds else [],
            maps=None if self.maps is None else take_rows(self.maps, rows),
        )


def read_volumes(folder: Path, options: MRIConfig, *, maps_suffix: str | None = None) -> MRIVolumes:
    """Read, check and preprocess every labelled T1w image of a BIDS folder or CSV (cached).

    Args:
        folder: a BIDS folder, a CSV file, or a folder holding one CSV.
        options: layout, labels, preprocessing, ``strict``, ``cache``, ``progress``.
        maps_suffix: also read the map named like each image with ``_T1w.nii[.gz]``
            replaced by this suffix (phantoms: ``_label-atrophy_probseg.nii.gz``).

    Raises:
        DataError: no usable image, or (``strict``) the first bad input.
    """
    bad = BadInputs(strict=options.strict)
    options = raw_scans(folder, options)
    layout = detect_layout(folder, options.layout)
    if layout == "imagefolder":
        raise DataError(f"{folder}: holds 2-D images in class folders, not T1w volumes; use dataset: image-folder")
    records = bids_records(folder, options, bad) if layout == "bids" else csv_records(folder, options, bad)
    volumes, maps, kept, seconds = preprocess_records(records, options, maps_suffix, bad)
    mean = sum(seconds) / len(seconds) if seconds else 0.0  # as recorded when each scan was first computed
    timing = f"preprocessing {mean:.1f} s per scan when first computed, max {max(seconds):.1f} s" if seconds else ""
    bad.report(len(kept), folder, note=timing)
    if timing:
        logger.info("%s: %s (%d scans)", folder, timing, len(seconds))
    if not kept:
        first = "; ".join(str(item) for item in bad.items[:3])
        raise DataError(f"{folder}: no usable T1w image; {len(bad)} skipped, e.g. {first or 'none found'}")
    labels = torch.tensor([r.label for r in kept])
    counts = torch.bincount(labels, minlength=len(options.classes)).tolist()
    missing = [name for name, n in zip(options.classes, counts) if n == 0]
    unmapped = [item.reason for item in bad.items if "label_map" in item.reason]
    if missing and unmapped:  # 'Dementia' unmapped: a CN vs AD model would be trained on CN alone
        raise DataError(
            f"{folder}: no image of class {', '.join(missing)}, and {len(unmapped)} left out for their diagnosis, "
            f"e.g. {unmapped[0]}; map the diagnoses in data.mri.label_map, or list only the classes the data "
            "holds in data.mri.classes"
        )
    if missing:  # one class on purpose (a normative model of controls) is allowed
        logger.warning("%s: no image of class %s; check data.mri.label_map and classes", folder, ", ".join(missing))
    subjects, paths = [r.subject for r in kept], [str(r.path) for r in kept]
    from vaegan.data.mri_transforms import registered_grid  # MONAI: imported on use

    grid = None if options.registration == "off" else registered_grid(options)  # auto: every file on the grid
    return MRIVolumes(volumes, labels, subjects, paths, list(options.classes), maps, bad.items, seconds, grid)


def model_grid(data: DataConfig) -> np.ndarray | None:
    """The voxel -> MNI152 mm affine of a run's volumes (:func:`registered_grid`), or ``None`` where its
    scans are not registered, or where ``registration: auto`` cannot tell (off for phantoms) because the
    run's folder is gone: no MNI placement is claimed that the volumes may not have."""
    if data.dataset not in ("mri", "phantoms"):
        return None
    setting = data.mri.registration
    if data.dataset == "mri":  # the folder it read, where it is still there: 2-D images are never registered
        try:
            folder = mri_folder(Path(data.data_dir) if data.data_dir else None)
            if folder.exists() and detect_layout(folder, data.mri.layout) == "imagefolder":
                return None
        except DataError:
            folder = None
        if setting == "auto":
            setting = "off" if folder is None or not folder.exists() or is_phantom_folder(folder) else "on"
    elif setting == "auto":  # vaegan's own phantoms
        setting = "off"
    if setting == "off":
        return None
    from vaegan.data.mri_transforms import registered_grid

    return registered_grid(data.mri)


def as_dataset(data: MRIVolumes, options: MRIConfig, name: str) -> ImageDataset:
    """3-D volumes, or the configured 2-D slices, with each image's subject as its group."""
    group_names = sorted(set(data.subjects))
    index = {subject: i for i, subject in enumerate(group_names)}
    groups = torch.tensor([index[s] for s in data.subjects], dtype=torch.long)
    if options.spatial_dims == 3:
        return ImageDataset(data.volumes, data.labels, data.class_names, name, groups, group_names)
    slices, source = slices_of(data.volumes, options)
    return ImageDataset(slices, data.labels[source], data.class_names, name, groups[source], group_names)


def slices_of(volumes: Tensor, options: MRIConfig) -> tuple[Tensor, Tensor]:
    """The configured 2-D slices of ``volumes`` and the volume of each; a cohort file's go to a file beside it.

    A file is sliced a few volumes at a time, so no more than those are ever in memory.
    """
    from vaegan.data.volumes import to_slices

    cut = partial(to_slices, axis=options.slice_axis, slice_range=options.slice_range, step=options.slice_step)
    rows = file_rows(volumes)
    if rows is None:
        return cut(volumes)
    per_volume = len(cut(volumes[:1])[0])
    source = torch.arange(len(volumes)).repeat_interleave(per_volume)
    spec = f"{options.slice_axis}-{options.slice_range[0]:g}-{options.slice_range[1]:g}-{options.slice_step}"
    path = rows.path.with_name(f"{rows.path.stem}_slices-{spec}.npy")
    shape = (len(source), *cut(volumes[:1])[0].shape[1:])
    if not complete(path, shape, rows.dtype):
        with one_writer(path):
            if not complete(path, shape, rows.dtype):  # written by the process this one waited for
                with ImageWriter(path, shape[0], shape[1:], rows.dtype) as writer:
                    for start in range(0, len(volumes), 16):
                        part = volumes[start : start + 16]
                        writer[start * per_volume : (start + len(part)) * per_volume] = cut(part)[0]
    return open_images(path), source


def split_datasets(data: MRIVolumes, options: MRIConfig, name: str) -> tuple[ImageDataset, ImageDataset]:
    """(train_full, test), split by subject."""
    is_test = split_subjects(data.subjects, data.labels, options.test_size)
    if not bool(is_test.any()):
        raise DataError(f"{name}: {len(set(data.subjects))} subject(s) are too few to hold out a test set")
    return as_dataset(data.select(~is_test), options, name), as_dataset(data.select(is_test), options, name)


def mri_folder(data_dir: Path | None) -> Path:
    """The folder (or CSV) the ``mri`` dataset reads: ``data_dir``, else ``$VAEGAN_DATA_DIR/mri``."""
    if data_dir is not None:
        return data_dir
    root = os.environ.get("VAEGAN_DATA_DIR")
    if root and (Path(root) / "mri").exists():
        return Path(root) / "mri"
    raise DataError(
        "mri: no data folder. Pass --data-dir DIR (data.data_dir): a BIDS folder, a CSV of path,label, "
        "or class folders of 2-D images; or set VAEGAN_DATA_DIR so that $VAEGAN_DATA_DIR/mri holds one. "
        "For synthetic brains use dataset: phantoms"
    )


def load_mri(data_dir: Path | None = None, *, mri: MRIConfig = MRIConfig()) -> tuple[ImageDataset, ImageDataset]:
    """The ``mri`` dataset: whatever layout ``data_dir`` holds, split by subject."""
    folder = mri_folder(data_dir)
    if detect_layout(folder, mri.layout) == "imagefolder":
        from vaegan.data.imagefolder import load_image_folder

        return load_image_folder(folder, mri=mri, diagnoses=True)  # numbered as data.mri.classes, as the run names them
    return split_datasets(read_volumes(folder, mri), mri, "mri")


def phantom_path(options: MRIConfig) -> Path:
    """Where the cache keeps the phantom set of ``options`` (``phantom_subjects``, ``_seed``, ``_spacing``)."""

    spec = f"n{options.phantom_subjects}-seed{options.phantom_seed}-{options.phantom_spacing:g}mm"
    return cache_dir() / "phantoms" / spec


def phantom_versions_read(data: DataConfig) -> dict[str, int] | None:
    """The truth-map and anatomy versions of the phantom set ``data`` reads (its ``data_dir``, or the cached
    set, not built here), or None where it reads no phantom set (scans of people, MNIST, a set not made yet)."""
    from vaegan.data.phantoms import phantom_versions

    if data.data_dir:
        return phantom_versions(Path(data.data_dir))
    return phantom_versions(phantom_path(data.mri)) if data.dataset == "phantoms" else None


def phantom_folder(options: MRIConfig) -> Path:
    """The cached phantom set for ``options``, generated on first use; safe when processes ask at once."""
    from vaegan.data import phantoms
    from vaegan.data.shared_folder import build_once

    folder = phantom_path(options)
    settings = phantoms.phantom_settings(options.phantom_subjects, options.phantom_seed, options.phantom_spacing)

    def build(target: Path) -> None:
        logger.warning("generating %d phantom brains into %s (once)", options.phantom_subjects, target)
        phantoms.write_phantoms(
            target,
            subjects=options.phantom_subjects,
            seed=options.phantom_seed,
            spacing=options.phantom_spacing,
            progress=options.progress,
        )

    return build_once(folder, settings, build)


def volumes_folder(data: DataConfig) -> Path:
    """The folder a run's ``data`` section reads brain volumes from (its ``phantoms`` or ``mri`` folder).

    Raises:
        DataError: the dataset holds no brain volumes (MNIST, 2-D images in class folders), or no folder is set.
    """
    if data.dataset == "phantoms":
        folder = Path(data.data_dir) if data.data_dir else phantom_folder(data.mri)
    elif data.dataset == "mri":
        folder = mri_folder(Path(data.data_dir) if data.data_dir else None)
    else:
        raise DataError(f"dataset {data.dataset}: holds no brain volumes (datasets mri and phantoms do)")
    if detect_layout(folder, "bids" if data.dataset == "phantoms" else data.mri.layout) == "imagefolder":
        raise DataError(f"{folder}: holds 2-D images in class folders, not T1w volumes")
    return folder


def config_volumes(data: DataConfig) -> MRIVolumes:
    """Every volume a run's ``data`` section reads, before the split (so the split is the training's), each
    with its true atrophy map where every scan read has one (a phantom set), so maps can be scored.

    A ``phantoms`` dataset is read as training read it (:func:`load_phantoms`). An ``mri`` folder is read
    as training read it, without maps; where each scan read has a map beside it, it is read again with
    them (a second preprocessing: the maps are part of the cache key), and kept only if that keeps the
    same scans. Otherwise the maps are left out, with a warning.

    Raises:
        DataError: as :func:`volumes_folder`, or no usable scan.
    """
    from vaegan.data.mri_cache import map_path
    from vaegan.data.phantoms import ATROPHY_SUFFIX

    folder = volumes_folder(data)
    if data.dataset == "phantoms":
        return read_phantom_volumes(folder, data.mri)
    volumes = read_volumes(folder, data.mri)
    mapped = sum(map_path(Path(p), ATROPHY_SUFFIX).is_file() for p in volumes.paths)
    if mapped == 0:
        return volumes
    if mapped == len(volumes.paths):
        with_maps = read_volumes(folder, data.mri, maps_suffix=ATROPHY_SUFFIX)
        if with_maps.paths == volumes.paths:
            warn_old_truth(folder)
            return with_maps
        mapped = len(with_maps.paths)
    logger.warning(
        "%s: %d of the %d scans read have a usable true atrophy map; the maps are drawn, not scored",
        folder,
        mapped,
        len(volumes.paths),
    )
    return volumes


def load_phantoms(data_dir: Path | None = None, *, mri: MRIConfig = MRIConfig()) -> tuple[ImageDataset, ImageDataset]:
    """The ``phantoms`` dataset: ``data_dir`` (written by ``vaegan phantoms``) or the cached set.

    Read with their true atrophy maps (dropped here) where the folder has them: the cache then holds one
    entry per scan that also serves whoever reads the maps later (benchmarks/ad_effects.py, the AD
    notebooks), so a registered phantom is registered once, not twice.
    """
    folder = data_dir if data_dir is not None else phantom_folder(mri)
    if data_dir is not None and not is_phantom_folder(folder):  # scans of people: labelled as such, read as such
        raise DataError(
            f"{folder}: not a folder written by vaegan phantoms; for your own scans add --set data.dataset=mri "
            "(the AD configs default to phantoms)"
        )
    return split_datasets(replace(read_phantom_volumes(folder, mri), maps=None), mri, "phantoms")


def warn_old_truth(folder: Path) -> None:
    """Warn where ``folder`` is a phantom set whose truth maps are older than this vaegan's: a score against
    them is not comparable with one against today's (its images are the same)."""
    from vaegan.data.phantoms import OLD_TRUTH, TRUTH_MAP, truth_version

    version = truth_version(folder)
    if version is not None and version < TRUTH_MAP:
        logger.warning(
            "%s: written with %s; today's are the tissue it removes, a fraction of the voxel; the images are the "
            "same, but scores against these maps are not comparable: write the set again with `vaegan phantoms`",
            folder,
            OLD_TRUTH,
        )


def read_phantom_volumes(folder: Path, mri: MRIConfig) -> MRIVolumes:
    """A phantom set's volumes (BIDS), each with its true atrophy map where the folder has maps."""
    from vaegan.data.phantoms import ATROPHY_SUFFIX

    suffix = ATROPHY_SUFFIX if next(folder.rglob(f"*{ATROPHY_SUFFIX}"), None) is not None else None
    if suffix is not None:
        warn_old_truth(folder)
    return read_volumes(folder, mri.model_copy(update={"layout": "bids"}), maps_suffix=suffix)


def locate_mri(data_dir: Path | None) -> DataLocation:
    """Where ``mri`` would read from, for ``vaegan datasets``."""
    searched = [data_dir] if data_dir is not None else []
    if os.environ.get("VAEGAN_DATA_DIR"):
        searched.append(Path(os.environ["VAEGAN_DATA_DIR"]) / "mri")
    for folder in searched:
        try:
            detect_layout(folder)
            return DataLocation(folder, searched=searched)
        except DataError:
            continue
    hint = "Pass --data-dir DIR, or set VAEGAN_DATA_DIR so that $VAEGAN_DATA_DIR/mri holds the data."
    wanted = "a BIDS folder (participants.tsv, sub-*/anat/*_T1w.nii.gz), a CSV of path,label, or class image folders"
    return DataLocation(None, missing=[wanted], searched=searched, hint=hint)


def _load_image_folder(data_dir: Path | None = None, *, mri: MRIConfig = MRIConfig()):
    from vaegan.data.imagefolder import load_image_folder

    return load_image_folder(mri_folder(data_dir), mri=mri)


register_dataset("mri", load_mri, locate=locate_mri)
register_dataset("phantoms", load_phantoms)
register_dataset("image-folder", _load_image_folder, locate=locate_mri)

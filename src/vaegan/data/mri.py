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
from pathlib import Path

import torch
from torch import Tensor

from vaegan.data.bad_inputs import BadInput, BadInputs
from vaegan.data.cache import cache_path, load_cached, save_cached
from vaegan.data.config import MRIConfig
from vaegan.data.datasets import DataLocation, ImageDataset, register_dataset, split_subjects
from vaegan.data.mri_sources import Record, bids_records, csv_records, detect_layout
from vaegan.foundation.errors import DataError
from vaegan.foundation.files import cache_dir

logger = logging.getLogger(__name__)

PREPROCESSING_KEYS = ("spacing", "size", "fit", "percentiles")


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

    def select(self, mask: Tensor) -> MRIVolumes:
        """The volumes where ``mask`` (N,) is true."""
        keep = mask.nonzero().flatten().tolist()
        return replace(
            self,
            volumes=self.volumes[mask],
            labels=self.labels[mask],
            subjects=[self.subjects[i] for i in keep],
            paths=[self.paths[i] for i in keep],
            maps=None if self.maps is None else self.maps[mask],
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
    layout = detect_layout(folder, options.layout)
    if layout == "imagefolder":
        raise DataError(f"{folder}: holds 2-D images in class folders, not T1w volumes; use dataset: image-folder")
    records = bids_records(folder, options, bad) if layout == "bids" else csv_records(folder, options, bad)
    volumes, maps, kept = _preprocessed(records, options, maps_suffix, bad)
    bad.report(len(kept), folder)
    if not kept:
        first = "; ".join(str(item) for item in bad.items[:3])
        raise DataError(f"{folder}: no usable T1w image; {len(bad)} skipped, e.g. {first or 'none found'}")
    labels = torch.tensor([r.label for r in kept])
    counts = torch.bincount(labels, minlength=len(options.classes)).tolist()
    missing = [name for name, n in zip(options.classes, counts) if n == 0]
    if missing:
        logger.warning("%s: no image of class %s; check data.mri.label_map and classes", folder, ", ".join(missing))
    return MRIVolumes(
        volumes, labels, [r.subject for r in kept], [str(r.path) for r in kept], list(options.classes), maps, bad.items
    )


def _map_path(image: Path, suffix: str) -> Path:
    name = image.name
    stem = name[: name.rfind("_T1w")] if "_T1w" in name else name.split(".")[0]
    return image.with_name(stem + suffix)


def _preprocessed(
    records: list[Record], options: MRIConfig, maps_suffix: str | None, bad: BadInputs
) -> tuple[Tensor, Tensor | None, list[Record]]:
    """Volumes (and maps) of the records that could be used, from the cache or computed."""
    settings = {key: getattr(options, key) for key in PREPROCESSING_KEYS} | {"maps": maps_suffix}
    files = [r.path for r in records] + ([_map_path(r.path, maps_suffix) for r in records] if maps_suffix else [])
    path = cache_path("mri", files, settings)
    payload = load_cached(path) if options.cache else None
    if payload is None:
        payload = _compute(records, options, maps_suffix)
        if options.cache:
            save_cached(path, payload)
    else:
        logger.info("read %d preprocessed volumes from the cache %s", len(payload["paths"]), path)
    for file, reason in zip(payload["failed"], payload["reasons"]):
        bad.add(file, reason)
    kept_paths = set(payload["paths"])
    kept = [r for r in records if str(r.path) in kept_paths]
    volumes = payload["volumes"].float()  # stored as float16: half the disk, ~1e-3 precision in [0, 1]
    maps = payload["maps"].float() if "maps" in payload else None
    return volumes, maps, kept


def _compute(records: list[Record], options: MRIConfig, maps_suffix: str | None) -> dict:
    from vaegan.data.mri_parallel import preprocess_records  # several processes (data.mri.workers)

    return preprocess_records(records, options, maps_suffix)


def as_dataset(data: MRIVolumes, options: MRIConfig, name: str) -> ImageDataset:
    """3-D volumes, or the configured 2-D slices, with each image's subject as its group."""
    group_names = sorted(set(data.subjects))
    index = {subject: i for i, subject in enumerate(group_names)}
    groups = torch.tensor([index[s] for s in data.subjects], dtype=torch.long)
    if options.spatial_dims == 3:
        return ImageDataset(data.volumes, data.labels, data.class_names, name, groups, group_names)
    from vaegan.data.mri_transforms import to_slices

    slices, source = to_slices(data.volumes, options.slice_axis, options.slice_range, options.slice_step)
    return ImageDataset(slices, data.labels[source], data.class_names, name, groups[source], group_names)


def split_datasets(data: MRIVolumes, options: MRIConfig, name: str) -> tuple[ImageDataset, ImageDataset]:
    """(train_full, test), split by subject."""
    is_test = split_subjects(data.subjects, data.labels, options.test_size)
    if not bool(is_test.any()):
        raise DataError(f"{name}: {len(set(data.subjects))} subject(s) are too few to hold out a test set")
    return as_dataset(data.select(~is_test), options, name), as_dataset(data.select(is_test), options, name)


def _mri_folder(data_dir: Path | None) -> Path:
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
    folder = _mri_folder(data_dir)
    if detect_layout(folder, mri.layout) == "imagefolder":
        from vaegan.data.imagefolder import load_image_folder

        return load_image_folder(folder, mri=mri)
    return split_datasets(read_volumes(folder, mri), mri, "mri")


def phantom_path(options: MRIConfig) -> Path:
    """Where the cache keeps the phantom set of ``options`` (``phantom_subjects``, ``_seed``, ``_spacing``)."""

    spec = f"n{options.phantom_subjects}-seed{options.phantom_seed}-{options.phantom_spacing:g}mm"
    return cache_dir() / "phantoms" / spec


def phantom_folder(options: MRIConfig) -> Path:
    """The cached phantom set for ``options``, generated on first use."""
    from vaegan.data.phantoms import write_phantoms

    folder = phantom_path(options)
    if not (folder / "participants.tsv").is_file():
        logger.warning("generating %d phantom brains into %s (once)", options.phantom_subjects, folder)
        write_phantoms(
            folder,
            subjects=options.phantom_subjects,
            seed=options.phantom_seed,
            spacing=options.phantom_spacing,
            progress=options.progress,
        )
    return folder


def load_phantoms(data_dir: Path | None = None, *, mri: MRIConfig = MRIConfig()) -> tuple[ImageDataset, ImageDataset]:
    """The ``phantoms`` dataset: ``data_dir`` (written by ``vaegan phantoms``) or the cached set."""
    folder = data_dir if data_dir is not None else phantom_folder(mri)
    return split_datasets(read_volumes(folder, mri.model_copy(update={"layout": "bids"})), mri, "phantoms")


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

    return load_image_folder(_mri_folder(data_dir), mri=mri)


register_dataset("mri", load_mri, locate=locate_mri)
register_dataset("phantoms", load_phantoms)
register_dataset("image-folder", _load_image_folder, locate=locate_mri)

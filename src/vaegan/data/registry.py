"""The registry of datasets by name, and loading one into its train/val/test splits.

A dataset is registered once under a name with a *loader*, a function that takes
``data_dir`` (a folder or ``None``) and returns ``(train_full, test)``. ``load_dataset``
carves the validation split out of ``train_full`` with a fixed seed, so that every
dataset, MNIST or MRI, splits the same way.
"""

from __future__ import annotations

import inspect
import logging
import numbers
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import torch

from vaegan.data.config import DataConfig
from vaegan.data.datasets import DataLocation, DataSplits, ImageDataset
from vaegan.foundation.errors import ConfigError, DataError

logger = logging.getLogger(__name__)

Loader = Callable[..., tuple[ImageDataset, ImageDataset]]


class _Entry(NamedTuple):
    loader: Loader
    locate: Callable[[Path | None], DataLocation] | None


_REGISTRY: dict[str, _Entry] = {}


def _key(name: str) -> str:
    """Registry key: case-insensitive, ``_`` and ``-`` alike (``Fashion_MNIST`` works)."""
    return name.strip().lower().replace("_", "-")


def register_dataset(
    name: str,
    loader: Loader,
    *,
    locate: Callable[[Path | None], DataLocation] | None = None,
    replace: bool = False,
) -> None:
    """Make a dataset loadable by name.

    Args:
        name: the registry name, e.g. ``"mnist"``.
        loader: called as ``loader(data_dir=Path | None)``; returns
            ``(train_full, test)`` as :class:`ImageDataset`.
        locate: called as ``locate(data_dir)``; says where the files are without
            loading them (for ``vaegan datasets``). Omit it for datasets that
            need no files, such as generated ones.
        replace: allow replacing an existing registration.

    Raises:
        ValueError: the name is already registered and ``replace`` is false.
    """
    key = _key(name)
    if key in _REGISTRY and not replace:
        raise ValueError(f"dataset {key!r} is already registered; pass replace=True")
    _REGISTRY[key] = _Entry(loader, locate)


def list_datasets() -> list[str]:
    """The registered dataset names, sorted."""
    return sorted(_REGISTRY)


def _entry(name: str) -> _Entry:
    try:
        return _REGISTRY[_key(name)]
    except KeyError:
        raise DataError(f"unknown dataset {name!r}; known datasets: {', '.join(list_datasets())}") from None


def load_dataset(
    name: str,
    *,
    data_dir: str | Path | None = None,
    val_size: int | float = 5000,
    seed: int = 0,
    limit: int | None = None,
    **options: Any,
) -> DataSplits:
    """Load a registered dataset and split it into train, val and test.

    The validation images are drawn from the training set by a seeded
    ``torch.Generator``, so the split is the same on every run and machine; the
    test set is kept apart. Each split keeps the file order. Datasets with
    ``groups`` (MRI slices of one subject) are split by whole groups.

    Args:
        name: a name from :func:`list_datasets`.
        data_dir: a folder searched first for the files.
        val_size: validation images: a count, or a fraction in (0, 1) of the
            training set. When ``limit`` shortens the training set, a count is
            scaled by the same proportion (5000 of 60000 becomes 85 of 1024).
        seed: seed of the validation draw.
        limit: keep only the first ``limit`` training images and the first
            ``limit`` test images (for quick runs).
        options: passed to the loader where its signature takes them by name
            (e.g. ``mri=MRIConfig(...)``); others are ignored, so one call serves
            every dataset.

    Returns:
        The three splits.

    Raises:
        DataError: unknown name, or the loader cannot find or read the files.
        ConfigError: ``val_size`` or ``limit`` is impossible.

    Example:
        >>> splits = load_dataset("mnist", limit=1000, val_size=0.1)  # doctest: +SKIP
        >>> len(splits.train), len(splits.val), len(splits.test)  # doctest: +SKIP
        (900, 100, 1000)
    """
    entry = _entry(name)
    if limit is not None and (isinstance(limit, bool) or limit < 1):
        raise ConfigError(f"limit={limit!r}: must be a positive number of images")
    folder = None if data_dir is None else Path(data_dir).expanduser()
    accepted = _accepted(entry.loader, options)
    train_full, test = entry.loader(data_dir=folder, **accepted)
    n_full = len(train_full)
    if limit is not None:
        train_full = train_full.subset(slice(0, limit))
        test = test.subset(slice(0, limit))
    n_val = _val_count(val_size, len(train_full), n_full)
    if train_full.groups is not None:
        is_val = _group_val_mask(train_full, n_val, seed)
    else:
        order = torch.randperm(len(train_full), generator=torch.Generator().manual_seed(seed))
        is_val = torch.zeros(len(train_full), dtype=torch.bool)
        is_val[order[:n_val]] = True  # a mask keeps file order (and is faster than sorting)
    splits = DataSplits(train_full.subset(~is_val), train_full.subset(is_val), test)
    if not set(accepted) - {"mri"}:  # a data section holds no other option the loader read
        splits.loaded = _load_record(name, folder, val_size, seed, limit, options.get("mri"))
    sizes = f"{len(splits.train)} train, {len(splits.val)} val, {len(test)} test"
    logger.info("%s: %s images of shape %s", train_full.name, sizes, splits.image_shape)
    return splits


def _load_record(
    name: str, folder: Path | None, val_size: int | float, seed: int, limit: int | None, mri: Any
) -> DataConfig | None:
    """The ``data`` section that loads these splits again, or None where it cannot hold the arguments
    (a value the section refuses, such as ``val_size=0``)."""
    extra = {"mri": mri} if mri is not None else {}  # else the section's default, as the loader's
    try:
        return DataConfig(
            dataset=_key(name),
            data_dir=None if folder is None else str(folder),
            val_size=val_size,
            seed=seed,
            limit=limit,
            **extra,
        )
    except ValueError:  # pydantic's ValidationError
        return None


def takes_option(name: str, option: str) -> bool:
    """Whether the loader of dataset ``name`` reads ``option`` (e.g. ``"mri"``); False for an unknown name."""
    entry = _REGISTRY.get(_key(name))
    return entry is not None and option in _accepted(entry.loader, {option: None})


def _accepted(loader: Loader, options: dict[str, Any]) -> dict[str, Any]:
    """The ``options`` that ``loader`` takes by name (all of them if it takes ``**kwargs``)."""
    try:
        params = inspect.signature(loader).parameters
    except (TypeError, ValueError):  # a builtin or C callable: pass nothing extra
        return {}
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return dict(options)
    return {key: value for key, value in options.items() if key in params}


def _group_val_mask(dataset: ImageDataset, n_val: int, seed: int) -> torch.Tensor:
    """Validation mask of whole groups (subjects), stratified by class, drawn in seeded order.

    Each class gives its share of ``n_val`` images (its fraction of the images), at least one
    subject where it has two or more, so a small or unbalanced cohort still validates on both, and
    keeps at least one training subject (else ConfigError). A group's class is its first image's label.
    """
    groups = dataset.groups
    unique, inverse, counts = torch.unique(groups, return_inverse=True, return_counts=True)
    rows = torch.arange(len(groups))
    first = torch.full((len(unique),), len(groups)).scatter_reduce_(0, inverse, rows, reduce="amin")
    group_label = dataset.labels[first]
    generator = torch.Generator().manual_seed(seed)
    chosen: list[torch.Tensor] = []
    for label in group_label.unique().tolist():
        members = (group_label == label).nonzero().flatten()
        members = members[torch.randperm(len(members), generator=generator)]
        share = round(n_val * int(counts[members].sum()) / len(groups)) if n_val > 0 else 0
        taken = int((counts[members].cumsum(0) < share).sum()) + 1 if share > 0 else 0  # the one reaching it too
        taken = 0 if len(members) < 2 else max(taken, 1 if n_val > 0 else 0)  # a lone subject trains
        if taken and taken >= len(members):
            raise ConfigError(
                f"{dataset.name}: val_size asks for {n_val} images, which leaves no training subject of class "
                f"{label} (images of one subject stay in one split); give a smaller val_size"
            )
        chosen.append(members[:taken])
    picked = torch.cat(chosen)
    if n_val > 0 and len(picked) == 0:  # the run would start, and validate on nothing
        raise ConfigError(
            f"{dataset.name}: no subject can go to validation: every class has one training subject, which "
            "trains (images of one subject stay in one split); give more subjects"
        )
    return torch.isin(groups, unique[picked])


def _val_count(val_size: int | float, n: int, n_full: int) -> int:
    """Validation count for ``n`` training images (``n_full`` before ``limit``)."""
    is_count = isinstance(val_size, numbers.Integral) and not isinstance(val_size, bool)
    if is_count and val_size >= 0:
        count = int(val_size)
        if 0 < count and n < n_full:  # limit shortened the set: scale the count
            count = max(1, round(count * n / n_full))
    elif isinstance(val_size, float) and 0.0 < val_size < 1.0:
        count = round(val_size * n)
        if count == 0:  # an empty validation set would fail at the first grid, after the run folder is written
            raise ConfigError(
                f"val_size={val_size!r} of {n} training images is no image; give a larger fraction or a count"
            )
    else:
        raise ConfigError(f"val_size={val_size!r}: give a count >= 0 (int) or a fraction in (0, 1)")
    if count >= n:
        raise ConfigError(
            f"val_size={val_size!r} takes {count} of the {n} training images and "
            "leaves none to train on; give a smaller count or a fraction"
        )
    return count


def describe_datasets(data_dir: str | Path | None = None) -> list[dict[str, Any]]:
    """Where each registered dataset's files are, for ``vaegan datasets``.

    Args:
        data_dir: a folder searched first, as in :func:`load_dataset`.

    Returns:
        One dict per dataset, sorted by name, with keys ``name``, ``status``
        (``"found"`` or ``"missing"``), ``path`` (the folder, or ``None``),
        ``missing`` (file names), ``searched`` (folders, in lookup order) and
        ``hint`` (how to provide missing files). A dataset registered without
        ``locate`` needs no files and is reported found with path ``None``.
    """
    folder = None if data_dir is None else Path(data_dir).expanduser()
    rows = []
    for name in list_datasets():
        locate = _REGISTRY[name].locate
        where = locate(folder) if locate is not None else DataLocation(None)
        found = locate is None or where.folder is not None
        rows.append(
            {
                "name": name,
                "status": "found" if found else "missing",
                "path": None if where.folder is None else str(where.folder),
                "missing": list(where.missing),
                "searched": [str(p) for p in where.searched],
                "hint": where.hint,
            }
        )
    return rows

"""Where each dataset's reference classifier is kept: trained once, cached, read back.

One is trained per dataset (and, for MRI and image folders, per data folder and ``data.mri``
options) and kept in the user cache,
``${XDG_CACHE_HOME:-~/.cache}/vaegan/classifiers/<dataset>[-<key>].pt``, written atomically and
read with ``torch.load(weights_only=True)``. The network and its training are in ``classifier.py``.

Example:
    >>> clf = load_classifier("mnist")  # doctest: +SKIP  (trains on first use: ~3.5 CPU-minutes)
    >>> test = load_dataset("mnist", val_size=0).test  # doctest: +SKIP
    >>> classifier_accuracy(clf, test.images, test.labels)  # doctest: +SKIP
    0.992
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import torch

from vaegan.data import load_dataset
from vaegan.data.config import MRIConfig
from vaegan.data.registry import takes_option
from vaegan.evaluation.classifier import (
    KIND,
    ReferenceClassifier,
    classifier_accuracy,
    default_epochs,
    fit_classifier,
)
from vaegan.foundation.checkpoints import atomic_save, read_checkpoint
from vaegan.foundation.errors import TrainingError
from vaegan.foundation.files import cache_dir
from vaegan.training.trainer import resolve_device

__all__ = ["classifier_path", "data_source", "load_classifier", "read_classifier", "train_classifier"]

log = logging.getLogger(__name__)


def classifier_path(dataset: str, *, data_dir: str | Path | None = None, mri: Any = None) -> Path:
    """Where the cached classifier of ``dataset`` lives (it may not exist yet).

    Datasets read from verified files (MNIST) have one, ``<dataset>.pt``. Those
    configured by ``data.mri`` (MRI, phantoms, image folders) have one per data
    folder and set of options, ``<dataset>-<key>.pt`` (:func:`data_source`).
    """
    root = cache_dir() / "classifiers"
    source = data_source(dataset, data_dir, mri)
    if source is None:
        return root / f"{dataset}.pt"
    digest = hashlib.sha256(json.dumps(source, sort_keys=True).encode()).hexdigest()[:12]
    return root / f"{dataset}-{digest}.pt"


def data_source(dataset: str, data_dir: str | Path | None, mri: Any = None) -> dict[str, Any] | None:
    """The folder and ``data.mri`` options (:class:`~vaegan.config.MRIConfig`) that make ``dataset``'s images.

    ``None`` for datasets without such options. Options that change no image
    (``progress``, ``cache``, ``strict``) are left out.
    """
    if not takes_option(dataset, "mri"):
        return None
    folder = str(Path(data_dir).expanduser().resolve()) if data_dir is not None else None
    options = (mri or MRIConfig()).model_dump(mode="json", exclude={"progress", "cache", "strict"})
    # without a folder, MRI is read under $VAEGAN_DATA_DIR; phantoms come from the cache, made from their options
    root = None if folder or dataset == "phantoms" else os.environ.get("VAEGAN_DATA_DIR")
    return {"data_dir": folder, "data_root": root, "mri": options}


def train_classifier(
    dataset: str,
    *,
    data_dir: str | Path | None = None,
    epochs: int | None = None,
    device: str = "auto",
    force: bool = False,
    limit: int | None = None,
    seed: int = 0,
    mri: Any = None,
) -> Path:
    """Train the reference classifier of ``dataset`` on its whole training set and cache it.

    Args:
        dataset: a registered dataset name, e.g. ``"mnist"``.
        data_dir: folder searched first for the dataset files.
        epochs: passes over the training set; default :func:`default_epochs`: 5 (99.2% on MNIST,
            2.5 minutes on 2 cores; 91.3% on Fashion-MNIST at the old lr 3e-3), more on small sets
            (15 for 160 volumes).
        device: ``"auto"``, ``"cpu"`` or ``"cuda[:N]"``.
        force: retrain even if a cached classifier exists.
        limit: train on the first ``limit`` images only (quick tests; the
            checkpoint records it).
        seed: seed of initialisation, shuffling and augmentation.
        mri: the run's ``data.mri`` options (:class:`~vaegan.config.MRIConfig`), for
            the datasets that read them; part of the cache key.

    Returns:
        The path of the checkpoint (with its test accuracy recorded inside).
    """
    path = classifier_path(dataset, data_dir=data_dir, mri=mri)
    if path.is_file() and not force:
        return path
    extra = {"mri": mri} if mri is not None else {}
    splits = load_dataset(dataset, data_dir=data_dir, val_size=0, limit=limit, **extra)
    target = resolve_device(device)
    epochs = epochs or default_epochs(len(splits.train))
    shape = "x".join(map(str, splits.image_shape))
    log.warning(  # minutes on a CPU for MNIST: said before, not after
        "training the %s reference classifier: %d epochs over %d images of %s on %s; it is cached in %s, "
        "trained once for every later evaluation",
        dataset,
        epochs,
        len(splits.train),
        shape,
        target,
        path,
    )
    started = time.perf_counter()
    model = fit_classifier(splits.train, epochs=epochs, device=target, seed=seed)
    seconds = time.perf_counter() - started
    accuracy = classifier_accuracy(model, splits.test.images, splits.test.labels)
    log.info("%s classifier: test accuracy %.4f after %d epochs (%.0f s)", dataset, accuracy, epochs, seconds)
    payload = {
        "kind": KIND,
        "dataset": dataset,
        "architecture": model.architecture(),
        "model": {k: v.cpu() for k, v in model.state_dict().items()},
        "class_names": list(splits.class_names),
        "test_accuracy": accuracy,
        "epochs": epochs,
        "limit": limit,
        "seed": seed,
        "train_seconds": seconds,
        # the subjects it learned from and was tested on: a run whose test split is another and holds one it
        # learned from (the folder changed since) is refused its scores
        "train_subjects": subject_names(splits.train) + subject_names(splits.val),
        "test_subjects": subject_names(splits.test),
        **(data_source(dataset, data_dir, mri) or {}),
    }
    atomic_save(payload, path)
    return path


def subject_names(data: Any) -> list[str]:
    """The subjects (groups) whose images ``data`` holds, sorted; none for data without subjects (MNIST)."""
    if data.groups is None or not data.group_names or len(data) == 0:
        return []
    return sorted({data.group_names[g] for g in data.groups.unique().tolist()})


def read_classifier(path: str | Path, *, device: str | torch.device = "cpu") -> ReferenceClassifier:
    """Rebuild a classifier (in eval mode) from its checkpoint; ``.metadata`` holds the rest of the checkpoint."""
    payload = read_checkpoint(Path(path), map_location=device)
    if payload.get("kind") != KIND:
        raise TrainingError(f"{path}: not a reference-classifier checkpoint; delete it and run vaegan train-classifier")
    arch = payload["architecture"]
    model = ReferenceClassifier(
        tuple(arch["image_shape"]), arch["num_classes"], widths=tuple(arch["widths"]), hidden=arch["hidden"]
    )
    model.load_state_dict(payload["model"])
    model.metadata = {k: v for k, v in payload.items() if k not in ("model", "format", "architecture")}
    model.metadata["path"] = str(path)
    return model.to(device).eval()


def load_classifier(
    dataset: str,
    *,
    data_dir: str | Path | None = None,
    device: str = "cpu",
    train_if_missing: bool = True,
    mri: Any = None,
) -> ReferenceClassifier:
    """The cached reference classifier of ``dataset`` (from ``data_dir`` with ``mri``) on ``device``.

    Trained first if missing, with the same ``data_dir`` and ``mri`` options.

    Raises:
        TrainingError: none is cached and ``train_if_missing`` is False, or the file is damaged.
    """
    path = classifier_path(dataset, data_dir=data_dir, mri=mri)
    if not path.is_file():
        if not train_if_missing:
            options = " --config RUN_CONFIG.yaml" if data_source(dataset, data_dir, mri) else ""
            raise TrainingError(
                f"{path}: no reference classifier for {dataset!r}; "
                f"run vaegan train-classifier --dataset {dataset}{options}"
            )
        train_classifier(dataset, data_dir=data_dir, device=device, mri=mri)
    model = read_classifier(path, device=device)
    meta = model.metadata
    if meta.get("limit"):
        named = "--config RUN_CONFIG.yaml" if data_source(dataset, data_dir, mri) else f"--dataset {dataset}"
        log.warning(
            "%s was trained on only %s images; retrain with vaegan train-classifier %s --force",
            path,
            meta["limit"],
            named,
        )
    return model

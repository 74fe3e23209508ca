"""From a run config (or a model and data) to a trained run folder: data, model, Trainer.

Example:
    >>> from vaegan import VAE, VAEConfig, fit, load_dataset
    >>> model = VAE(VAEConfig(latent_dim=16, likelihood="bernoulli"))
    >>> history = fit(model, load_dataset("mnist"), epochs=5, out_dir="outputs/my_vae", binarize=True)
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import torch
import yaml

from vaegan.config import RunConfig
from vaegan.config.run import RESUMABLE_KEYS, config_changes, describe_changes
from vaegan.data import DataSplits, load_dataset
from vaegan.data.config import DataConfig
from vaegan.foundation.checkpoints import read_checkpoint
from vaegan.foundation.errors import CheckpointError, ConfigError
from vaegan.foundation.files import write_text_atomic
from vaegan.models import GenerativeModel, build_model, get_model_class
from vaegan.training import Callback, History, Trainer
from vaegan.training.callbacks import Checkpoints, default_callbacks
from vaegan.training.config import TrainConfig
from vaegan.training.distributed import check_placement
from vaegan.training.replacement import resume_point
from vaegan.training.run_folder import check_out_dir

log = logging.getLogger(__name__)


def fit(
    model: GenerativeModel,
    data: DataSplits,
    *,
    out_dir: str | Path = "outputs/fit",
    resume: bool = False,
    overwrite: bool = False,
    binarize: bool = False,
    **train_options: Any,
) -> History:
    """Train ``model`` with the generic Trainer; ``train_options`` are TrainConfig fields (epochs=5, ...).

    ``binarize`` draws a fresh binary image from each grey one every time it is seen (``data.binarize``
    of a config): what a Bernoulli decoder's likelihood is a likelihood of.
    """
    try:
        config = TrainConfig(**train_options)
    except ValueError as error:  # pydantic's ValidationError names the field and the allowed values
        raise ConfigError(f"fit(): {error}") from None
    callbacks = default_callbacks(config)
    # recorded as a config run's are (config.yaml, the checkpoints), so vaegan evaluate/sample/report read
    # the run as it was trained (its split and binarisation above all), not as the defaults would have it
    if data.loaded is not None:  # load_dataset's arguments: the same split loads again
        recorded = data.loaded.model_copy(update={"binarize": binarize})
    else:
        log.warning(
            "fit(): the data hold no record of how load_dataset loaded them (splits made or changed by hand), so "
            "%s records only their name (%r): vaegan evaluate, visualize and report will load that dataset with "
            "the default split (data.val_size, data.seed, data.limit), not these images; pass the splits "
            "load_dataset returns, as they are, to have the run record how they were loaded",
            out_dir, data.train.name,
        )  # fmt: skip
        recorded = DataConfig(dataset=data.train.name, binarize=binarize)
    run = RunConfig(name=Path(out_dir).name, data=recorded, model=model.config, train=config)
    last = resume_point(Path(out_dir))
    saved = read_resume_point(last).get("run_config") if resume and last.is_file() else None
    if saved:
        # the folder's name may change (a copied run); how the data were loaded is the caller's, and fit() before
        # 2026-12-02 recorded the dataset's name alone: said, not refused (fit() has no accept_changes)
        changes = _resume_changes(saved, run)
        split = {key: change for key, change in changes.items() if key.startswith("data.") and key not in FIT_DATA}
        refused = {key: change for key, change in changes.items() if key != "name" and key not in split}
        if refused:
            raise ConfigError(
                f"fit(resume=True): {out_dir} was trained under other settings: {describe_changes(refused)}; "
                "resume with the settings it was trained with, or give another out_dir"
            )
        if split:
            log.warning(
                "fit(resume=True): %s recorded its data otherwise (%s); going on with these splits, recorded from now",
                out_dir, describe_changes(split),
            )  # fmt: skip
        _record_resumed_config(callbacks, saved, run, {}, Path(out_dir))
    trainer = Trainer(
        model, data, config, out_dir=out_dir, callbacks=callbacks, binarize=binarize, run_config=run.to_dict()
    )
    return trainer.fit(resume=resume, overwrite=overwrite)


# what fit() has always recorded of its data: a resume that changes them is refused
FIT_DATA = ("data.dataset", "data.binarize")


def _record_resumed_config(
    callbacks: list[Callback], saved: dict, config: RunConfig, changes: dict, folder: Path
) -> None:
    """Where a resumed run's config differs from what last.pt holds (accepted ``changes``, or only more
    epochs), have :class:`RecordChanges` record it right after the first epoch's checkpoint."""
    if config_changes(saved, config.to_dict(), ignore=("out",)):
        after = next(i for i, c in enumerate(callbacks) if isinstance(c, Checkpoints)) + 1
        history = read_changes(folder / "config_changes.yaml") if changes else []  # damaged: said now
        callbacks.insert(after, RecordChanges(changes, history))


def load_data(config: RunConfig) -> DataSplits:
    data = config.data
    return load_dataset(
        data.dataset, data_dir=data.data_dir, val_size=data.val_size, seed=data.seed, limit=data.limit, mri=data.mri
    )


def check_unused_weights(config: RunConfig) -> None:
    """Refuse, before training, a setting the model would ignore: beta-TCVAE weighs the KL's three parts, not
    ``kl_weight``. (Refused here, not in the model's config, so runs saved with one still load.)"""
    if config.model.name == "beta_tcvae" and config.model.kl_weight != 1.0:
        raise ConfigError(
            f"model.kl_weight={config.model.kl_weight:g} is not used by beta_tcvae, which weighs the KL's three "
            "parts: set model.tc_weight (the paper's beta), model.mi_weight or model.dwkl_weight instead"
        )


def check_network_fits(config: RunConfig) -> None:
    """Refuse a model its data cannot feed where the config alone gives the image size (MRI and phantoms:
    grey volumes of ``data.mri.size``): conv stages too many, instance norm on maps of one voxel, in any of
    its networks. The model is built as training would build it, on the meta device (no memory, milliseconds),
    so the refusal comes before the cohort is preprocessed."""
    if config.data.dataset not in ("mri", "phantoms"):
        return
    mri = config.data.mri
    shape = (1, *(mri.size,) * mri.spatial_dims)
    model = config.model.model_copy(update={"image_shape": shape, "num_classes": max(2, config.model.num_classes)})
    with torch.device("meta"):
        build_model(model)


def prepare(config: RunConfig) -> tuple[RunConfig, DataSplits]:
    """Load the data and fill the model's image shape and class count from it.

    Raises:
        ConfigError: a class-conditional model on data whose images are all of one class.
    """
    check_unused_weights(config)
    check_network_fits(config)  # before a cohort is read (and registered)
    check_placement(config.train.device, config.train.sync_batchnorm)
    if config.data.dataset == "mri":  # a CSV ignores data.mri.session/derivatives: refused before it is read
        from vaegan.data.csv_source import check_csv_settings
        from vaegan.data.mri import mri_folder

        data_dir = Path(config.data.data_dir).expanduser() if config.data.data_dir else None
        check_csv_settings(mri_folder(data_dir), config.data.mri)
    data = load_data(config)
    if get_model_class(config.model.name).conditional:
        present = torch.unique(torch.cat([data.train.labels, data.val.labels])).tolist()
        if len(present) < 2:
            names = ", ".join(data.class_names[i] for i in present) or "none"
            raise ConfigError(
                f"{config.model.name} is class-conditional, but the training images are of one class ({names}); "
                "give data of two classes or more (check data.mri.label_map), or train an unconditional model"
            )
    from_data = {"image_shape": tuple(data.image_shape), "num_classes": data.num_classes}
    for key, value in from_data.items():
        given = getattr(config.model, key)
        if key in config.model.model_fields_set and (tuple(given) if key == "image_shape" else given) != value:
            log.warning("model.%s=%s is replaced by the data's %s: it is taken from the data", key, given, value)
    model = config.model.model_copy(update=from_data)
    return config.model_copy(update={"model": model}), data


def train_from_config(
    config: RunConfig,
    *,
    resume: bool = False,
    overwrite: bool = False,
    accept_changes: bool = False,
    extra_callbacks: list[Callback] = (),
) -> History:
    """Build everything ``config`` describes and train it into ``config.out_dir``.

    On ``resume`` the config must match the one the run was trained under
    (except :data:`~vaegan.config.run.RESUMABLE_KEYS`); ``accept_changes``
    takes the new one and records the change in ``config_changes.yaml``.
    ``extra_callbacks`` run after the default ones (grids, metrics, TensorBoard, checkpoints).
    """
    check_out_dir(config.out_dir, data_dir=config.data.data_dir)
    last = resume_point(config.out_dir)  # where a stopped --overwrite's old run is, if one is aside
    # only its config: the weights and optimiser state are read again as training starts, on rank 0
    saved = read_resume_point(last).get("run_config") if resume and last.is_file() else None
    if saved:
        config = _with_shape_of(config, saved)
        changes = _resume_changes(saved, config)
        if changes and not accept_changes:
            spans = " (the cosine learning-rate schedule spans train.epochs)" if "train.epochs" in changes else ""
            raise ConfigError(
                f"{config.out_dir} was trained under another config: {describe_changes(changes)}{spans}; "
                "resume with the run's own config (its config.yaml), pass --accept-changes to go on under the "
                "new one, or --out to start a new run"
            )
    config, data = prepare(config)
    warmup = getattr(config.model, "kl_warmup_epochs", 0)
    if warmup > config.train.epochs:  # a warning: --resume with more epochs may still reach it
        log.warning(
            "model.kl_warmup_epochs=%d is longer than train.epochs=%d: the KL weight ends at %d/%d of its value, "
            "while best.pt and val/objective are scored at the full weight",
            warmup, config.train.epochs, config.train.epochs, warmup,
        )  # fmt: skip
    torch.manual_seed(config.train.seed)  # same initial weights for the same seed
    model = build_model(config.model)
    callbacks = [*default_callbacks(config.train), *extra_callbacks]
    if config.train.score_maps_every:  # first: the callbacks after it write the row it adds to
        callbacks.insert(0, _map_score(config, data))
    if saved:
        _record_resumed_config(callbacks, saved, config, _resume_changes(saved, config), config.out_dir)  # accepted
    trainer = Trainer(
        model,
        data,
        config.train,
        out_dir=config.out_dir,
        run_config=config.to_dict(),
        binarize=config.data.binarize,
        callbacks=callbacks,
    )
    return trainer.fit(resume=resume, overwrite=overwrite)


def _resume_changes(old: dict, config: RunConfig) -> dict:
    """What differs from the run's own config; more epochs too when a cosine schedule spans them."""
    ignored = RESUMABLE_KEYS
    if config.train.lr_schedule != "constant":
        ignored = tuple(key for key in RESUMABLE_KEYS if key != "train.epochs")
    return config_changes(old, config.to_dict(), ignore=ignored)


def _map_score(config: RunConfig, data: DataSplits) -> Callback:
    """``val/map_r`` for a phantom run (``train.score_maps_every``): its volumes read again with their maps."""
    from vaegan.data.mri import config_volumes
    from vaegan.training.map_score import map_score

    return map_score(config_volumes(config.data), data.val, config.data.mri, config.train.score_maps_every)


def read_resume_point(last: Path) -> dict[str, Any]:
    """``last.pt`` to resume from; when it is unreadable, say so and whether ``best.pt`` is there instead."""
    try:
        return read_checkpoint(last)
    except CheckpointError as error:
        best = last.with_name("best.pt")
        if best.is_file():
            raise CheckpointError(
                f"{error}; cannot --resume: last.pt is unreadable, but {best} exists: copy it over last.pt to "
                "resume from its epoch, or --overwrite to start again"
            ) from None
        raise CheckpointError(f"{error}; cannot --resume from it: --overwrite to start again") from None


def _with_shape_of(config: RunConfig, trained: dict[str, Any]) -> RunConfig:
    """``config`` with the image shape and class count the run's data gave it (filled from the data later)."""
    filled = {key: trained.get("model", {}).get(key) for key in ("image_shape", "num_classes")}
    if None in filled.values():
        return config
    filled["image_shape"] = tuple(filled["image_shape"])
    return config.model_copy(update={"model": config.model.model_copy(update=filled)})


def read_changes(path: Path) -> list[dict]:
    """The changes accepted on earlier resumes, as ``config_changes.yaml`` records them ([] if none).

    Raises:
        ConfigError: the file is not the list vaegan writes (edited by hand?); it is kept as it is.
    """
    if not path.is_file():
        return []
    try:
        entries = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        problem = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        entries, reason = None, f"unreadable ({problem})"
    else:
        reason = f"holds {type(entries).__name__}, not the list of changes vaegan writes"
    if not isinstance(entries, list):
        raise ConfigError(
            f"{path}: {reason}; this resume would add to it. Mend it, or move it aside to start a new history"
        )
    return entries


# accepted changes of these keep what val/objective measures, so best.pt's value still compares
# (the data's folder too: moved, the data are the same; another set is another data.dataset or split)
SAME_OBJECTIVE = (
    *("train", "out", "tune", "data.data_dir"),
    *("model.lr", "model.betas", "model.weight_decay", "model.kl_warmup_epochs"),
)


class RecordChanges(Callback):
    """Once the first epoch under a resumed run's new config is checkpointed, rewrite ``config.yaml`` as
    ``last.pt`` now holds it, and append the accepted changes (if any: more epochs is none) to
    ``config_changes.yaml`` with the epoch they take effect after.

    Not before: a resume that fails (a NaN, Ctrl-C) in that epoch leaves the run's config as it was.
    Runs right after :class:`~vaegan.training.callbacks.Checkpoints`, before anything else can stop the epoch.
    A change of what ``val/objective`` measures (a loss weight, the likelihood, the data) starts ``best.pt``
    afresh: values under two objectives do not compare."""

    def __init__(self, changes: dict[str, tuple[Any, Any]], history: list[dict] | None = None):
        self.changes, self.history = changes, list(history or [])
        self.since: int | None = None

    def on_fit_start(self, trainer: Trainer) -> None:
        self.since = trainer.epoch
        other = [key for key in self.changes if not any(key == k or key.startswith(f"{k}.") for k in SAME_OBJECTIVE)]
        if other and self.since < trainer.config.epochs and math.isfinite(trainer.best):
            log.warning(
                "%s: the accepted changes (%s) change what val/objective measures, so checkpoints/best.pt starts "
                "afresh: it is rewritten by the first epoch under them (the best so far, %.6g, is not compared)",
                trainer.out_dir, ", ".join(other), trainer.best,
            )  # fmt: skip
            trainer.best = math.inf

    def on_epoch_end(self, trainer: Trainer, row: dict[str, float]) -> None:
        if self.since is None:
            return
        if self.changes:
            changed = {key: {"old": old, "new": new} for key, (old, new) in self.changes.items()}
            entries = [*self.history, {"epoch": self.since, "changes": changed}]
            write_text_atomic(trainer.out_dir / "config_changes.yaml", yaml.safe_dump(entries, sort_keys=False))
        self.since = None
        write_text_atomic(trainer.out_dir / "config.yaml", yaml.safe_dump(trainer.run_config, sort_keys=False))

    def on_fit_end(self, trainer: Trainer) -> None:
        if self.changes and self.since is not None and self.since >= trainer.config.epochs:
            log.warning(
                "%s: no epoch was left to train under the accepted changes (%s), so they were not applied; "
                "raise --epochs to train under them",
                trainer.out_dir,
                ", ".join(self.changes),
            )

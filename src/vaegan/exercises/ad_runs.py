"""The AD notebooks' shared steps: a shipped AD config trained once and reused, and its held-out subjects.

Each notebook in ``notebooks/AD/`` tells the story of one model; what they all
do first lives here. A full run trains the config as shipped into
``<notebook folder>/outputs/<name>`` once, and later notebooks (or a second
reading) reuse it once it has finished (one interrupted is trained on).
QUICK (``VAEGAN_QUICK=1``, what CI runs) trains a tiny version every time,
into ``outputs/quick/<name>``, so it never replaces a full run; its figures
are noise by design.

Example:
    >>> run = ad_run("ad_cvae_2d")  # doctest: +SKIP
    >>> test = held_out_subjects(run.config.data)  # doctest: +SKIP
    >>> len(test.subjects), test.maps.shape  # doctest: +SKIP
    (40, torch.Size([40, 1, 64, 64, 64]))
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import yaml

from vaegan.config import RunConfig, load_config, text_override
from vaegan.config.run import FROM_DATA, RESUMABLE_KEYS, config_changes, describe_changes
from vaegan.data.config import DataConfig
from vaegan.data.datasets import split_subjects
from vaegan.data.mri import MRIVolumes, config_volumes
from vaegan.exercises import notebook
from vaegan.experiment import train_from_config
from vaegan.foundation.checkpoints import held_epoch
from vaegan.foundation.errors import ConfigError
from vaegan.runs import Run, load_run
from vaegan.training.replacement import resume_point

logger = logging.getLogger(__name__)

# QUICK: 12 phantom subjects at 5 mm, not registered, resized to 32^3, an 8-d code, one epoch (seconds on a CPU)
QUICK_DATA = (
    "data.mri.phantom_subjects=12",
    "data.mri.phantom_spacing=5",
    "data.mri.registration=off",
    "data.mri.size=32",
    "model.latent_dim=8",
    "train.epochs=1",
    "train.batch_size=16",
)
NETWORKS = ("network", "discriminator", "classifier")  # the model config sections that hold a network
QUIET = ("train.progress=false", "data.mri.progress=false", "train.tensorboard=false")  # a notebook shows no bars


def quick_settings(config: RunConfig) -> list[str]:
    """The QUICK overrides of an AD config: :data:`QUICK_DATA`, and every network the model has made small.

    Each network gets two convolution blocks of 8 and 16 channels, and one
    dense layer of 32 units where the shipped one has dense layers, so one set
    of rules fits a VAE (one network), an ACGAN (and a discriminator) and a
    CVAE-GAN (and a classifier).
    """
    settings = list(QUICK_DATA)
    for name in NETWORKS:
        network = getattr(config.model, name, None)
        if network is None:
            continue
        settings.append(f"model.{name}.channels=[8,16]")
        if network.hidden:
            settings.append(f"model.{name}.hidden=[32]")
    return settings


def ad_run(name: str, overrides: Sequence[str] = (), *, quick: bool | None = None) -> Run:
    """The trained run of the shipped AD config ``name``: reused if it finished before, else trained now.

    A run there that stopped before its last epoch (interrupted) is trained on: resumed from its
    ``last.pt``, or trained again where it has none. A run there is judged, and trained on, under its
    own ``config.yaml``, so a later notebook that calls ``ad_run(name)`` gets the run an earlier one
    trained with overrides.

    Args:
        name: a shipped config, e.g. ``"ad_cvae_2d"``.
        overrides: dotted overrides on top (``"train.epochs=10"``).
        quick: QUICK mode: :func:`quick_settings`, trained every time into
            ``outputs/quick/<name>``. None: as ``VAEGAN_QUICK`` says.

    Raises:
        ConfigError: ``overrides`` differ from the settings the run there was trained under.
    """
    quick = notebook.quick() if quick is None else quick
    out = notebook.notebook_outputs("quick") / name if quick else notebook.notebook_outputs(name)
    settings = [*QUIET, *overrides, text_override("out", out)]
    if quick:
        train_from_config(load_config(name, [*quick_settings(load_config(name)), *settings]), overwrite=True)
    elif not (out / "config.yaml").is_file():  # nothing trained there yet
        train_from_config(load_config(name, settings), overwrite=True)
    else:
        config = trained_config(out, settings)
        done = held_epoch(out / "checkpoints" / "last.pt")
        if done is None or done < config.train.epochs:
            resume = held_epoch(resume_point(out)) is not None
            logger.warning(
                "%s: stopped %s of its %d epochs; %s",
                out,
                f"after epoch {done}" if done is not None else "before any checkpoint",
                config.train.epochs,
                "resuming it" if resume else "training it again",
            )
            train_from_config(config, resume=resume, overwrite=not resume)
    return load_run(out)


# What a call may change on a trained run without changing what it learned
HARMLESS = (*(key for key in RESUMABLE_KEYS if key != "train.epochs"), *FROM_DATA)


def trained_config(out: Path, settings: Sequence[str]) -> RunConfig:
    """The config the run in ``out`` was trained under (its ``config.yaml``), with ``settings`` on top.

    Raises:
        ConfigError: a setting changes what the run learns (its data, model or training).
    """
    saved = out / "config.yaml"
    config = load_config(saved, list(settings))
    changes = config_changes(yaml.safe_load(saved.read_text(encoding="utf-8")), config.to_dict(), ignore=HARMLESS)
    if changes:
        raise ConfigError(
            f"{out} was trained under other settings than these overrides give: {describe_changes(changes)}; "
            f"pass the overrides it was trained with (its config.yaml) to reuse it, or delete {out} to train it "
            "again under the new ones"
        )
    return config


def held_out_subjects(data: DataConfig, *, learned: bool = False) -> MRIVolumes:
    """The test subjects of the training's split, each volume with its true atrophy map beside it where the
    folder has maps (phantoms; real scans have none); ``learned=True``: the other subjects instead, the
    ones the model learned from (training and validation).

    Args:
        data: the run's ``data`` section (``run.config.data``): the volumes it read (``dataset``, ``data_dir``:
            the cached phantom set, a phantom folder, or your own scans), their preprocessing, and the subject
            split (``mri.test_size``).
    """
    volumes = config_volumes(data)
    test = split_subjects(volumes.subjects, volumes.labels, data.mri.test_size)
    return volumes.select(~test if learned else test)

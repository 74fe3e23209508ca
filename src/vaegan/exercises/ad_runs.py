"""The AD notebooks' shared steps: a shipped AD config trained once and reused, and its held-out subjects.

Each notebook in ``notebooks/AD/`` tells the story of one model; what they all
do first lives here. A full run trains the config as shipped into
``<notebook folder>/outputs/<name>`` once, and later notebooks (or a second
reading) reuse it. QUICK (``VAEGAN_QUICK=1``, what CI runs) trains a tiny
version every time, into ``outputs/quick/<name>``, so it never replaces a full
run; its figures are noise by design.

Example:
    >>> run = ad_run("ad_cvae_2d")  # doctest: +SKIP
    >>> test = held_out_subjects(run.config.data.mri)  # doctest: +SKIP
    >>> len(test.subjects), test.maps.shape  # doctest: +SKIP
    (40, torch.Size([40, 1, 64, 64, 64]))
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from vaegan.config import RunConfig, load_config, text_override
from vaegan.data.config import MRIConfig
from vaegan.data.datasets import split_subjects
from vaegan.data.mri import MRIVolumes, phantom_folder, read_volumes
from vaegan.data.phantoms import ATROPHY_SUFFIX
from vaegan.exercises import notebook
from vaegan.experiment import train_from_config
from vaegan.runs import Run, load_run

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

    Args:
        name: a shipped config, e.g. ``"ad_cvae_2d"``.
        overrides: dotted overrides on top (``"train.epochs=10"``).
        quick: QUICK mode: :func:`quick_settings`, trained every time into
            ``outputs/quick/<name>``. None: as ``VAEGAN_QUICK`` says.
    """
    quick = notebook.quick() if quick is None else quick
    out = notebook.notebook_outputs("quick") / name if quick else notebook.notebook_outputs(name)
    settings = quick_settings(load_config(name)) if quick else []
    config = load_config(name, [*settings, *QUIET, *overrides, text_override("out", out)])
    if quick or not (out / "checkpoints" / "best.pt").is_file():
        train_from_config(config, overwrite=True)
    return load_run(out)


def held_out_subjects(options: MRIConfig, folder: str | Path | None = None) -> MRIVolumes:
    """The test subjects of the training's split, each volume with its true atrophy map beside it.

    Args:
        options: the run's ``data.mri``: preprocessing, and the subject split (``test_size``).
        folder: a BIDS folder of phantoms; None: the cached phantom set ``options`` names.
    """
    folder = Path(folder) if folder is not None else phantom_folder(options)
    volumes = read_volumes(folder, options, maps_suffix=ATROPHY_SUFFIX)
    return volumes.select(split_subjects(volumes.subjects, volumes.labels, options.test_size))

"""vaegan: density-estimating generative networks (AE, VAE, GAN, cVAE, ACGAN, CVAE-GAN) on images.

Floors, top to bottom (each imports only those below it; ``lint-imports`` checks this):

    cli                      one module per ``vaegan`` subcommand (``__main__.py``: ``python -m vaegan``)
    exercises                the course's graded exercises (templates, checks, the model contract)
    tuning | evaluation      Optuna studies; metrics of a trained run
    runs                     a finished run folder: config, model, data
    experiment               from a run config to a trained run; ``fit()``
    config                   the composed ``RunConfig``, YAML loading, ``--set``, shipped configs
    training                 ``Trainer``, callbacks (grids, curves, TensorBoard, checkpoints)
    visualization            grids, curves, latent figures, brain maps, HTML report
    models                   the hierarchy, its registry, checkpoint -> model
    networks                 2-D/3-D encoders, decoders, discriminators
    data                     datasets and their ``data`` config section
    foundation               errors, atomic files, checkpoint I/O, caches, ``Section``

Example:
    >>> from vaegan import VAE, VAEConfig, fit, load_dataset
    >>> data = load_dataset("mnist")
    >>> model = VAE(VAEConfig(latent_dim=16, likelihood="bernoulli"))
    >>> # binary images drawn afresh each epoch: what a Bernoulli likelihood is a likelihood of
    >>> history = fit(model, data, epochs=5, out_dir="outputs/my_vae", binarize=True)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from vaegan.foundation.files import package_version

# The public API, imported on first use: `import vaegan` (and so `vaegan --help`) must not pay
# for torch and the plotting stack (PEP 562). Name -> the module that defines it.
_EXPORTS = {
    "RunConfig": "vaegan.config",
    "load_config": "vaegan.config",
    "DataSplits": "vaegan.data",
    "ImageDataset": "vaegan.data",
    "list_datasets": "vaegan.data",
    "load_dataset": "vaegan.data",
    "fit": "vaegan.experiment",
    "TrainConfig": "vaegan.training",
    "Trainer": "vaegan.training",
    **dict.fromkeys(
        [
            "ACGAN",
            "CVAEGAN",
            "GAN",
            "VAE",
            "WGANGP",
            "AutoEncoder",
            "AutoEncoderConfig",
            "BetaTCVAE",
            "ConditionalVAE",
            "GenerativeModel",
            "VAEConfig",
            "build_model",
            "list_models",
            "register_model",
        ],
        "vaegan.models",
    ),
}

if TYPE_CHECKING:  # for type checkers and IDEs; at run time __getattr__ imports on first use
    from vaegan.config import RunConfig, load_config  # noqa: F401
    from vaegan.data import DataSplits, ImageDataset, list_datasets, load_dataset  # noqa: F401
    from vaegan.experiment import fit  # noqa: F401
    from vaegan.models import (  # noqa: F401
        ACGAN,
        CVAEGAN,
        GAN,
        VAE,
        WGANGP,
        AutoEncoder,
        AutoEncoderConfig,
        BetaTCVAE,
        ConditionalVAE,
        GenerativeModel,
        VAEConfig,
        build_model,
        list_models,
        register_model,
    )
    from vaegan.training import TrainConfig, Trainer  # noqa: F401

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name == "__version__":  # reading the installed metadata takes a few hundred ms: only when asked
        return package_version()
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value  # next time, a plain attribute
        return value
    raise AttributeError(f"module 'vaegan' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])

"""vaegan: density-estimating generative networks (AE, VAE, GAN, cVAE, ACGAN, CVAE-GAN) on images.

Floors, top to bottom (each imports only those below it; ``lint-imports`` checks this):

    cli                      one module per ``vaegan`` subcommand
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
    >>> model = VAE(VAEConfig(latent_dim=16))
    >>> history = fit(model, data, epochs=5, out_dir="outputs/my_vae")
"""

from vaegan.config import RunConfig, load_config
from vaegan.data import DataSplits, ImageDataset, list_datasets, load_dataset
from vaegan.experiment import fit
from vaegan.foundation.files import package_version
from vaegan.models import (
    ACGAN,
    CVAEGAN,
    GAN,
    VAE,
    AutoEncoder,
    AutoEncoderConfig,
    ConditionalVAE,
    GenerativeModel,
    VAEConfig,
    build_model,
    list_models,
    register_model,
)
from vaegan.training import TrainConfig, Trainer

__version__ = package_version()

__all__ = [
    "ACGAN",
    "CVAEGAN",
    "GAN",
    "VAE",
    "AutoEncoder",
    "AutoEncoderConfig",
    "ConditionalVAE",
    "DataSplits",
    "GenerativeModel",
    "ImageDataset",
    "RunConfig",
    "TrainConfig",
    "Trainer",
    "VAEConfig",
    "build_model",
    "fit",
    "list_datasets",
    "list_models",
    "load_config",
    "load_dataset",
    "register_model",
]

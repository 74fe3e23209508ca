"""vaegan: density-estimating generative networks (AE, VAE, GAN, cVAE, ACGAN, CVAE-GAN) on images.

Packages: ``models`` (the class hierarchy and registry), ``networks`` (2-D/3-D
encoders and decoders), ``data`` (datasets), ``training`` (Trainer, callbacks,
checkpoints), ``visualization`` (grids, curves), ``cli`` (the ``vaegan``
command). ``config`` holds the typed run configuration.

Example:
    >>> from vaegan import VAE, VAEConfig, load_dataset
    >>> data = load_dataset("mnist")
    >>> model = VAE(VAEConfig(latent_dim=16))
    >>> history = model.fit(data, epochs=5, out_dir="outputs/my_vae")
"""

from vaegan.config import RunConfig, TrainConfig, load_config
from vaegan.data import DataSplits, ImageDataset, list_datasets, load_dataset
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
from vaegan.training import Trainer

__version__ = "0.1.0"

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
    "list_datasets",
    "list_models",
    "load_config",
    "load_dataset",
    "register_model",
]

"""From a run config (or a model and data) to a trained run folder: data, model, Trainer.

Example:
    >>> from vaegan import VAE, VAEConfig, fit, load_dataset
    >>> history = fit(VAE(VAEConfig(latent_dim=16)), load_dataset("mnist"), epochs=5, out_dir="outputs/my_vae")
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from vaegan.config import RunConfig
from vaegan.data import DataSplits, load_dataset
from vaegan.foundation.errors import ConfigError
from vaegan.models import GenerativeModel, build_model
from vaegan.training import Callback, History, Trainer
from vaegan.training.callbacks import default_callbacks
from vaegan.training.config import TrainConfig


def fit(
    model: GenerativeModel,
    data: DataSplits,
    *,
    out_dir: str | Path = "outputs/fit",
    resume: bool = False,
    overwrite: bool = False,
    **train_options: Any,
) -> History:
    """Train ``model`` with the generic Trainer; ``train_options`` are TrainConfig fields (epochs=5, ...)."""
    try:
        config = TrainConfig(**train_options)
    except ValueError as error:  # pydantic's ValidationError names the field and the allowed values
        raise ConfigError(f"fit(): {error}") from None
    return Trainer(model, data, config, out_dir=out_dir).fit(resume=resume, overwrite=overwrite)


def load_data(config: RunConfig) -> DataSplits:
    data = config.data
    return load_dataset(
        data.dataset, data_dir=data.data_dir, val_size=data.val_size, seed=data.seed, limit=data.limit, mri=data.mri
    )


def prepare(config: RunConfig) -> tuple[RunConfig, DataSplits]:
    """Load the data and fill the model's image shape and class count from it."""
    data = load_data(config)
    model = config.model.model_copy(update={"image_shape": data.image_shape, "num_classes": data.num_classes})
    return config.model_copy(update={"model": model}), data


def train_from_config(
    config: RunConfig, *, resume: bool = False, overwrite: bool = False, extra_callbacks: list[Callback] = ()
) -> History:
    """Build everything ``config`` describes and train it into ``config.out_dir``.

    ``extra_callbacks`` run after the default ones (grids, metrics, TensorBoard, checkpoints).
    """
    config, data = prepare(config)
    torch.manual_seed(config.train.seed)  # same initial weights for the same seed
    model = build_model(config.model)
    callbacks = [*default_callbacks(config.train), *extra_callbacks]
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

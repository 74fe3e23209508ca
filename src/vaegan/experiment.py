"""From a RunConfig to a trained run folder: data, model, Trainer."""

from __future__ import annotations

import torch

from vaegan.config import RunConfig
from vaegan.data import DataSplits, load_dataset
from vaegan.models import build_model
from vaegan.training import Callback, History, Trainer
from vaegan.training.callbacks import default_callbacks


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
        run_config=config,
        binarize=config.data.binarize,
        callbacks=callbacks,
    )
    return trainer.fit(resume=resume, overwrite=overwrite)

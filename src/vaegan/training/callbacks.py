"""Callbacks: what the Trainer writes after each epoch, each in its own small class."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING

import torch

from vaegan.config import TrainConfig
from vaegan.models.base import FixedInputs
from vaegan.training.checkpoint import atomic_save, atomic_write
from vaegan.visualization import plot_curves, save_grid

if TYPE_CHECKING:
    from vaegan.training.trainer import Trainer


class Callback:
    """Hooks called by the Trainer; override the ones you need."""

    def on_fit_start(self, trainer: Trainer) -> None: ...

    def on_epoch_end(self, trainer: Trainer, row: dict[str, float]) -> None: ...

    def on_fit_end(self, trainer: Trainer) -> None: ...


def fixed_inputs(trainer: Trainer, size: int) -> FixedInputs:
    """The first ``size`` validation images and seeded prior noise, identical every epoch and run."""
    val, model = trainer.data.val, trainer.model
    generator = torch.Generator().manual_seed(trainer.config.seed + 2)
    noise = torch.randn(size, model.config.latent_dim, generator=generator)
    classes = torch.arange(size) % model.config.num_classes
    device = trainer.device
    return FixedInputs(val.images[:size].to(device), val.labels[:size].to(device), noise.to(device), classes.to(device))


class ImageGrids(Callback):
    """``epochNNN_<name>.png`` for every grid the model offers (recons, fakes, ...)."""

    def __init__(self, size: int):
        self.size = size

    def on_fit_start(self, trainer: Trainer) -> None:
        self.fixed = fixed_inputs(trainer, self.size)

    def on_epoch_end(self, trainer: Trainer, row: dict[str, float]) -> None:
        trainer.model.eval()
        with torch.no_grad():
            grids = trainer.model.epoch_images(self.fixed)
        for name, (images, columns) in grids.items():
            save_grid(images, trainer.out_dir / f"epoch{trainer.epoch:03d}_{name}.png", columns)
            writer = getattr(trainer, "writer", None)
            if writer is not None:
                from vaegan.visualization.grids import make_grid

                writer.add_image(
                    name, make_grid(images, columns), trainer.epoch, dataformats="HW" if images.shape[1] == 1 else "HWC"
                )


class MetricsLog(Callback):
    """metrics.csv (every term, train and validation) and curves.png, rewritten each epoch."""

    def on_epoch_end(self, trainer: Trainer, row: dict[str, float]) -> None:
        fields: dict[str, None] = {}
        for past in trainer.history:
            fields.update(dict.fromkeys(past))
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(fields))
        writer.writeheader()
        writer.writerows(trainer.history)
        atomic_write(trainer.out_dir / "metrics.csv", lambda tmp: tmp.write_text(buffer.getvalue()))
        plot_curves(trainer.history, trainer.out_dir / "curves.png", title=f"{trainer.model.name}: training curves")


class TensorBoard(Callback):
    """Scalars (and, through ImageGrids, images) as TensorBoard event files in ``tensorboard/``."""

    def on_fit_start(self, trainer: Trainer) -> None:
        from torch.utils.tensorboard import SummaryWriter

        trainer.writer = SummaryWriter(str(trainer.out_dir / "tensorboard"), purge_step=trainer.epoch + 1)

    def on_epoch_end(self, trainer: Trainer, row: dict[str, float]) -> None:
        for key, value in row.items():
            if key != "epoch":
                trainer.writer.add_scalar(key, value, trainer.epoch)
        trainer.writer.flush()

    def on_fit_end(self, trainer: Trainer) -> None:
        trainer.writer.close()
        trainer.writer = None


class Checkpoints(Callback):
    """``checkpoints/last.pt`` every epoch; ``best.pt`` when the monitored validation loss improves."""

    def on_epoch_end(self, trainer: Trainer, row: dict[str, float]) -> None:
        folder = trainer.out_dir / "checkpoints"
        monitor = trainer.model.monitor
        value = row.get(f"val/{monitor}") if monitor else None
        improved = value is None or value < trainer.best
        if value is not None and improved:
            trainer.best = value
        payload = trainer.checkpoint_payload()
        atomic_save(payload, folder / "last.pt")
        if improved:
            atomic_save(payload, folder / "best.pt")


def default_callbacks(config: TrainConfig) -> list[Callback]:
    # TensorBoard first so its writer exists when ImageGrids logs images; checkpoints last
    callbacks: list[Callback] = [TensorBoard()] if config.tensorboard else []
    callbacks += [ImageGrids(config.grid_size), MetricsLog(), Checkpoints()]
    if config.visualize_every:
        from vaegan.visualization.callback import LatentFigures  # lazy: that module imports this one

        callbacks.append(LatentFigures(config.visualize_every))
    return callbacks

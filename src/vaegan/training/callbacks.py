"""Callbacks: what the Trainer writes after each epoch, each in its own small class."""

from __future__ import annotations

import csv
import io
import logging
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch
from PIL import Image

from vaegan.foundation.checkpoints import atomic_save
from vaegan.foundation.files import write_text_atomic
from vaegan.models.base import FixedInputs
from vaegan.training.config import TrainConfig
from vaegan.training.run_folder import note_grids
from vaegan.visualization import latent_figures, layout_grid, make_grid, plot_curves, save_grid

if TYPE_CHECKING:
    from vaegan.training.trainer import Trainer

log = logging.getLogger(__name__)


class Callback:
    """Hooks called by the Trainer; override the ones you need."""

    def on_fit_start(self, trainer: Trainer) -> None: ...

    def on_epoch_end(self, trainer: Trainer, row: dict[str, float]) -> None: ...

    def on_image(self, trainer: Trainer, name: str, image: np.ndarray) -> None:
        """An image another callback drew this epoch ((H, W) or (H, W, 3) uint8), for loggers."""

    def on_fit_end(self, trainer: Trainer) -> None: ...


def fixed_inputs(trainer: Trainer, size: int) -> FixedInputs:
    """The first ``size`` validation images and seeded prior noise, identical every epoch and run."""
    val, model = trainer.data.val, trainer.model
    noise = model.prior_noise(size, torch.Generator().manual_seed(trainer.config.seed + 2))
    device = trainer.device
    return FixedInputs(val.images[:size].to(device, torch.float32), val.labels[:size].to(device), noise)


class ImageGrids(Callback):
    """``epochNNN_<name>.png`` for every image set the model draws (recons, fakes, ...)."""

    def __init__(self, size: int):
        self.size = size

    def on_fit_start(self, trainer: Trainer) -> None:
        self.fixed = fixed_inputs(trainer, self.size)

    def on_epoch_end(self, trainer: Trainer, row: dict[str, float]) -> None:
        grids = trainer.model.epoch_images(self.fixed)
        note_grids(trainer.out_dir, list(grids))  # a plugin's own names, for --overwrite
        for name, images in grids.items():
            batch, columns = layout_grid(images, image_dims=len(trainer.model.config.image_shape))
            rows = trainer.model.grid_rows(name, trainer.data.class_names)
            if rows and len(rows) == len(images) and images.dim() == len(trainer.model.config.image_shape) + 2:
                rows = rows * (len(batch) // columns // len(rows))  # a folded grid repeats its rows, block by block
            else:
                rows = None
            save_grid(batch, trainer.out_dir / f"epoch{trainer.epoch:03d}_{name}.png", columns, row_labels=rows)
            trainer.log_image(name, make_grid(batch, columns))


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
        write_text_atomic(trainer.out_dir / "metrics.csv", buffer.getvalue())
        plot_curves(
            trainer.history,
            trainer.out_dir / "curves.png",
            title=f"{trainer.model.name}: training curves",
            units=trainer.model.curve_units(),
        )


class TensorBoard(Callback):
    """Scalars and images as TensorBoard event files in ``tensorboard/``.

    TensorBoard is a view of the run, not the run: when its files cannot be written (a full
    disk), one warning says so, logging stops, and training goes on (the checkpoints, metrics.csv
    and grids report their own failures). The writer's thread is kept from printing a traceback.
    """

    def on_fit_start(self, trainer: Trainer) -> None:
        from tensorboard.summary.writer.event_file_writer import _AsyncWriterThread
        from torch.utils.tensorboard import SummaryWriter  # slow to import: only when TensorBoard is on

        self._hook, self._quiet, self.writer = threading.excepthook, _AsyncWriterThread, None
        threading.excepthook = self._thread_failed  # its error reaches us on the next write, once
        folder = str(trainer.out_dir / "tensorboard")
        self.stopped = False
        self._guarded(trainer, lambda: setattr(self, "writer", SummaryWriter(folder, purge_step=trainer.epoch + 1)))

    def _thread_failed(self, args: threading.ExceptHookArgs) -> None:
        if not (isinstance(args.thread, self._quiet) and issubclass(args.exc_type, OSError)):
            self._hook(args)

    def _guarded(self, trainer: Trainer, write) -> None:
        if self.stopped:
            return
        try:
            write()
        except OSError as error:
            where = trainer.out_dir / "tensorboard"
            log.warning("%s: TensorBoard logging stopped (%s); training goes on", where, error)
            self.stopped = True

    def on_epoch_end(self, trainer: Trainer, row: dict[str, float]) -> None:
        def write() -> None:
            for key, value in row.items():
                if key != "epoch":
                    self.writer.add_scalar(key, value, trainer.epoch)
            self.writer.flush()

        self._guarded(trainer, write)

    def on_image(self, trainer: Trainer, name: str, image: np.ndarray) -> None:
        form = "HW" if image.ndim == 2 else "HWC"
        self._guarded(trainer, lambda: self.writer.add_image(name, image, trainer.epoch, dataformats=form))

    def on_fit_end(self, trainer: Trainer) -> None:
        try:
            self._guarded(trainer, lambda: self.writer.close())
        finally:
            threading.excepthook = self._hook


class Checkpoints(Callback):
    """``checkpoints/last.pt`` every epoch; ``best.pt`` when the monitored validation loss improves."""

    def on_epoch_end(self, trainer: Trainer, row: dict[str, float]) -> None:
        folder = trainer.out_dir / "checkpoints"
        monitor = trainer.model.monitor
        value = row.get(f"val/{monitor}") if monitor else None
        improved = value is None or value < trainer.best
        previous = trainer.best
        if value is not None and improved:
            trainer.best = value
        payload = trainer.checkpoint_payload()
        if improved:  # best.pt first: if its write fails, last.pt still names the best that best.pt holds
            try:
                atomic_save(payload, folder / "best.pt")
            except BaseException:
                trainer.best = previous
                raise
        atomic_save(payload, folder / "last.pt")


class LatentFigures(Callback):
    """Write ``RUN/latent/*.png`` from the validation images every ``every`` epochs and after the last.

    The files always show the latest epoch; with TensorBoard on, every drawing is
    also logged as an image under ``latent/<name>``, so the history is kept there.
    t-SNE and UMAP are slow, so by default only PCA is drawn during training
    (``vaegan visualize RUN`` draws all three at the end).

    Args:
        every: draw after epochs every, 2 * every, ... (and after the last epoch).
        methods: scatter projections, any of ``pca``, ``tsne``, ``umap``.
        n_points: validation images encoded for the scatter plots.
    """

    def __init__(self, every: int = 1, *, methods: Sequence[str] = ("pca",), n_points: int = 1000):
        if every < 1:
            raise ValueError(f"every={every}: draw every N >= 1 epochs")
        self.every, self.methods, self.n_points = every, tuple(methods), n_points

    def on_epoch_end(self, trainer: Trainer, row: dict[str, float]) -> None:
        if trainer.epoch % self.every and trainer.epoch != trainer.config.epochs:
            return
        folder = trainer.out_dir / "latent"
        paths = latent_figures(
            trainer.model,
            trainer.data.val,
            folder,
            methods=self.methods,
            n_points=self.n_points,
            seed=trainer.config.seed,
            split="val",
            drawn_from={"checkpoint": "last", "epoch": trainer.epoch},  # this epoch's weights, as last.pt holds them
        )
        log.info("epoch %d: latent figures in %s", trainer.epoch, folder)
        for name, path in paths.items():
            trainer.log_image(f"latent/{name}", np.asarray(Image.open(path).convert("RGB")))


def default_callbacks(config: TrainConfig) -> list[Callback]:
    callbacks: list[Callback] = [TensorBoard()] if config.tensorboard else []
    callbacks += [ImageGrids(config.grid_size), MetricsLog(), Checkpoints()]
    if config.visualize_every:
        callbacks.append(LatentFigures(config.visualize_every))
    return callbacks

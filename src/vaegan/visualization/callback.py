"""``LatentFigures``: the latent-space figures redrawn during training, every N epochs."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from vaegan.training.callbacks import Callback
from vaegan.visualization.latent import latent_figures

if TYPE_CHECKING:
    from vaegan.training.trainer import Trainer

log = logging.getLogger(__name__)


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

    Example:
        >>> trainer = Trainer(model, data, TrainConfig(epochs=10), out_dir="outputs/x",
        ...                   callbacks=[*default_callbacks(config), LatentFigures(every=5)])  # doctest: +SKIP
    """

    def __init__(self, every: int = 1, *, methods: Sequence[str] = ("pca",), n_points: int = 1000):
        if every < 1:
            raise ValueError(f"every={every}: draw every N >= 1 epochs")
        self.every, self.methods, self.n_points = every, tuple(methods), n_points

    def on_epoch_end(self, trainer: Trainer, row: dict[str, float]) -> None:
        if trainer.epoch % self.every and trainer.epoch != trainer.config.epochs:
            return
        paths = latent_figures(
            trainer.model,
            trainer.data.val,
            trainer.out_dir / "latent",
            methods=self.methods,
            n_points=self.n_points,
            seed=trainer.config.seed,
        )
        log.info("epoch %d: latent figures in %s", trainer.epoch, trainer.out_dir / "latent")
        writer = getattr(trainer, "writer", None)
        if writer is not None:
            for name, path in paths.items():
                image = np.asarray(Image.open(path).convert("RGB"))
                writer.add_image(f"latent/{name}", image, trainer.epoch, dataformats="HWC")

"""Training: the generic loop and what it writes.

- ``config.py``: :class:`TrainConfig`, the ``train`` section.
- ``trainer.py``: :class:`Trainer` (batches, validation, NaN guard, resume).
- ``distributed.py``: data parallelism under torchrun (gradient averaging per optimizer, rank 0 writes).
- ``placement.py``: training images on the device or streamed (``train.data_on_device``), memory layout.
- ``finite.py``: the NaN/inf guard on the losses, checked every N steps.
- ``callbacks.py``: image grids, metrics.csv and curves, TensorBoard, checkpoints, latent figures.
- ``checkpoint.py``: the RNG states a Trainer checkpoint adds, so resume is exact.
"""

from vaegan.training.callbacks import Callback, LatentFigures, default_callbacks
from vaegan.training.config import TrainConfig
from vaegan.training.trainer import History, Trainer

__all__ = ["Callback", "History", "LatentFigures", "TrainConfig", "Trainer", "default_callbacks"]

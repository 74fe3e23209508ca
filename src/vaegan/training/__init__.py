"""Training: the generic loop and what it writes.

- ``config.py``: :class:`TrainConfig`, the ``train`` section.
- ``trainer.py``: :class:`Trainer` (batches, validation, NaN guard, resume).
- ``distributed.py``: data parallelism under torchrun (gradient averaging per optimizer, rank 0 writes).
- ``placement.py``: training images on the device or streamed (``train.data_on_device``), memory layout.
- ``finite.py``: the NaN/inf guard on the losses, checked every N steps.
- ``callbacks.py``: image grids, metrics.csv and curves, TensorBoard, checkpoints, latent figures.
- ``checkpoint.py``: the RNG states a Trainer checkpoint adds, so resume is exact.
- ``run_folder.py``: the run folder's own files, its marker and lock; refusing folders that hold more.
- ``schedule.py``: the learning-rate schedule (``train.lr_schedule``), stepped per batch.
- ``map_score.py``: ``val/map_r``, a phantom run's disease map scored during training.
- ``replacement.py``: ``--overwrite`` keeping the old run aside until the new one has a checkpoint.
"""

from vaegan.training.callbacks import Callback, LatentFigures, default_callbacks
from vaegan.training.config import TrainConfig
from vaegan.training.trainer import History, Trainer

__all__ = ["Callback", "History", "LatentFigures", "TrainConfig", "Trainer", "default_callbacks"]

"""Training: the generic loop and what it writes.

- ``trainer.py``: :class:`Trainer` (batches, validation, NaN guard, resume).
- ``callbacks.py``: image grids, metrics.csv and curves, TensorBoard, checkpoints.
- ``checkpoint.py``: atomic writes and weights-only loading.
"""

from vaegan.training.callbacks import Callback
from vaegan.training.checkpoint import model_from_checkpoint, read_checkpoint
from vaegan.training.trainer import History, Trainer

__all__ = ["Callback", "History", "Trainer", "model_from_checkpoint", "read_checkpoint"]

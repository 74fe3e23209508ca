"""The NaN/inf guard on the training losses, cheap on CUDA (few host syncs)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from vaegan.foundation.errors import TrainingError
from vaegan.training.run_folder import non_finite_advice

if TYPE_CHECKING:
    from vaegan.training.trainer import Trainer


class FiniteGuard:
    """Raises when a loss term turns NaN or inf, checking every ``train.check_finite_every`` steps.

    The check reads a flag back from the device, which on CUDA waits for the
    GPU; so there it runs every 25 steps by default, on a flag accumulated on
    the device, and the error names the range of steps. The last check runs
    before the epoch ends, so no checkpoint is ever written from bad weights.
    """

    def __init__(self, trainer: Trainer, epoch: int):
        self.trainer, self.epoch = trainer, epoch
        every = trainer.config.check_finite_every
        self.every = every or (25 if trainer.device.type == "cuda" else 1)
        self.bad: torch.Tensor | None = None  # (T,) bool: term t was non-finite since the last check
        self.names: list[str] = []
        self.first = self.last = 1

    def update(self, step: int, terms: dict[str, torch.Tensor]) -> None:
        flags = ~torch.isfinite(torch.stack([v.detach().float() for v in terms.values()]))  # (T,)
        self.bad = flags if self.bad is None else self.bad | flags
        self.names, self.last = list(terms), step
        if step % self.every == 0:
            self.check()

    def check(self) -> None:
        if self.bad is None:
            return
        bad, self.bad = self.bad, None
        if self.trainer.ranks.any(bad.any()):
            terms = [name for name, flag in zip(self.names, bad.tolist()) if flag] or ["on another rank"]
            steps = f"step {self.last}" if self.first == self.last else f"steps {self.first}-{self.last}"
            raise TrainingError(
                f"loss became non-finite at epoch {self.epoch}, {steps} ({', '.join(terms)}); stopped. "
                f"{non_finite_advice(self.trainer.out_dir, self.trainer.config.precision)}"
            )
        self.first = self.last + 1

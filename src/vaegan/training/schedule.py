"""The learning rate over a run (``train.lr_schedule``): constant, or a cosine decay step by step.

Cosine annealing (Loshchilov & Hutter 2017, "SGDR", eq. 5, one cycle without restarts): the rate
falls from the model's own ``lr`` to ``lr_final_fraction`` of it along half a cosine, a little at
every optimizer step. Late in a run, large steps keep the weights moving about their optimum;
small ones let them settle. The rate is a function of the step alone, not of a scheduler's
state, so a resumed run continues exactly where it stopped; each optimizer's starting rate is
kept in its parameter groups as ``initial_lr`` (as ``torch.optim.lr_scheduler`` keeps it), and so in
its checkpoint.

Example:
    >>> round(cosine_fraction(0.5, final=0.0), 2)
    0.5
"""

from __future__ import annotations

import math

from torch.optim import Optimizer


def cosine_fraction(progress: float, final: float) -> float:
    """The fraction of the starting rate after ``progress`` (0 to 1) of the run: 1 at 0, ``final`` at 1."""
    return final + (1.0 - final) * 0.5 * (1.0 + math.cos(math.pi * progress))


class LearningRate:
    """Sets every optimizer's rate before each step: ``initial_lr`` times :func:`cosine_fraction`.

    Args:
        optimizers: the model's optimizers, by name (a GAN has two, each with its own rate).
        schedule: ``"constant"`` (leaves the rates alone) or ``"cosine"``.
        final: the fraction of the starting rate reached at the end of the run.
    """

    def __init__(self, optimizers: dict[str, Optimizer], schedule: str, final: float):
        self.optimizers, self.schedule, self.final = optimizers, schedule, final
        for optimizer in optimizers.values():
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])

    def step(self, progress: float) -> float | None:
        """Set the rates for a step ``progress`` (0 to 1) into the run; the first optimizer's rate, None if constant."""
        if self.schedule == "constant":
            return None
        fraction = cosine_fraction(progress, self.final)
        for optimizer in self.optimizers.values():
            for group in optimizer.param_groups:
                group["lr"] = group["initial_lr"] * fraction
        return next(iter(self.optimizers.values())).param_groups[0]["lr"]

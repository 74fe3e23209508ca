"""Comparing a student's numbers with vaegan's: same config, same weights, same seed, same numbers.

The catalogue's checks (``catalogue.py``) are built from these: ``twins`` makes the student's model and
vaegan's from one config with vaegan's weights in both, ``seeded`` runs a call under a seed, and ``same``
and ``compare_terms`` raise :class:`~vaegan.exercises.contract.CheckFailed` with what differs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from vaegan.exercises.contract import IMAGE_SHAPE, NUM_CLASSES, CheckFailed
from vaegan.models import GenerativeModel


def same(got: Tensor, expected: Tensor, what: str, atol: float = 1e-5) -> None:
    """Raise CheckFailed unless ``got`` has ``expected``'s shape and values."""
    if not isinstance(got, Tensor):
        raise CheckFailed(f"{what}: expected a tensor, got {type(got).__name__}")
    if got.shape != expected.shape:
        raise CheckFailed(f"{what}: expected shape {tuple(expected.shape)}, got {tuple(got.shape)}")
    if not torch.isfinite(got.detach()).all() and torch.isfinite(expected).all():
        raise CheckFailed(f"{what}: holds NaN or inf where vaegan's is finite (a division by zero, the log of 0?)")
    if not torch.allclose(got.detach().float(), expected.detach().float(), atol=atol, rtol=1e-4):
        diff = float((got.detach().float() - expected.detach().float()).abs().max())
        raise CheckFailed(f"{what}: differs from vaegan's by up to {diff:.3g} (same inputs, same seed)")


def twins(student: type[GenerativeModel], shipped: type[GenerativeModel], overrides: dict[str, Any], **extra):
    """The student's model and vaegan's, from one config and with vaegan's weights in both."""
    data = {"image_shape": IMAGE_SHAPE, "num_classes": NUM_CLASSES, **overrides, **extra}
    torch.manual_seed(0)
    theirs = shipped(shipped.config_class.model_validate(data))
    mine = student(student.config_class.model_validate(data))
    try:
        mine.load_state_dict(theirs.state_dict())
    except RuntimeError as error:
        first = str(error).splitlines()[0]
        raise CheckFailed(
            f"your model's networks differ from vaegan's ({first}); check cond_dim and the outputs"
        ) from None
    return mine, theirs


def seeded(seed: int, fn: Callable[[], Any]) -> Any:
    torch.manual_seed(seed)
    return fn()


COMBINED = ("loss", "objective", "d_loss", "g_loss")  # sums of the other terms: named after them


def compare_terms(got: dict[str, Tensor], expected: dict[str, Tensor], what: str) -> None:
    if not isinstance(got, dict) or set(got) != set(expected):
        keys = sorted(got) if isinstance(got, dict) else type(got).__name__
        raise CheckFailed(f"{what} should return the terms {sorted(expected)}, got {keys}")
    failures = []
    for key in sorted(expected, key=lambda k: k in COMBINED):  # the terms first, then what sums them
        try:
            same(got[key], expected[key], f"{what}[{key!r}]")
        except CheckFailed as failed:
            failures.append(str(failed))
    if failures:  # every term that differs: the first named is the one to look at
        raise CheckFailed("; ".join(failures))

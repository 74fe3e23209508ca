"""The model contract as checks in words: what ``vaegan check-model`` and ``vaegan exercises check`` run.

The same promises as the contract test suite (``tests/models/test_contract.py``), for a
model that is not (yet) part of vaegan: it registers, builds from its config, learns,
evaluates without changing, samples in [0, 1] reproducibly, survives a save and load, and,
with an encoder, encodes and reconstructs. Each check raises :class:`CheckFailed` with
a sentence a student can act on.

Example:
    >>> results = run_contract(VAE, {"latent_dim": 4})  # doctest: +SKIP
    >>> [r.passed for r in results]  # doctest: +SKIP
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from vaegan.models import Batch, GenerativeModel, build_model, list_models, load_model, register_model
from vaegan.models.registry import get_model_class, unregister_model

IMAGE_SHAPE = (1, 16, 16)
NUM_CLASSES = 3


class CheckFailed(AssertionError):
    """A check did not hold; the message says what was expected and what came instead."""


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    message: str = ""


def registry_name(cls: type[GenerativeModel]) -> str:
    """The name a model class registers under: its config's ``name`` default."""
    return cls.config_class.model_fields["name"].default


@contextmanager
def registered(cls: type[GenerativeModel]) -> Iterator[str]:
    """Register ``cls`` under its config's name for the block, then forget it again.

    The registry is global; a checked model must not stay in it (it would join every
    later ``list_models()``). Already-registered classes are left as they are.
    """
    name = registry_name(cls)
    if name in list_models():
        if get_model_class(name) is not cls:
            raise CheckFailed(
                f"config name {name!r} is already taken by {get_model_class(name).__name__}; "
                f"give {cls.config_class.__name__} its own `name: str = ...`"
            )
        yield name
        return
    register_model(name)(cls)
    try:
        yield name
    finally:
        unregister_model(name)


def tiny_config(cls: type[GenerativeModel], overrides: dict[str, Any] | None = None):
    """``cls``'s config on 16x16 images with 3 classes, plus ``overrides``."""
    data = {"image_shape": IMAGE_SHAPE, "num_classes": NUM_CLASSES, "latent_dim": 4, **(overrides or {})}
    return cls.config_class.model_validate(data)


def synthetic_batch(model: GenerativeModel, n: int = 6, seed: int = 0) -> Batch:
    """``n`` images in [0, 1] of the model's shape with labels 0, 1, 2, 0, ..."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, *model.config.image_shape, generator=g).round()
    return Batch(x, torch.arange(n) % model.config.num_classes)


def labels_for(model: GenerativeModel, n: int) -> Tensor | None:
    return torch.arange(n) % model.config.num_classes if model.conditional else None


def _check_train_step(model: GenerativeModel) -> None:
    optimizers = model.configure_optimizers()
    if not optimizers or not all(isinstance(o, torch.optim.Optimizer) for o in optimizers.values()):
        raise CheckFailed(f"configure_optimizers() should return a dict of optimizers, got {optimizers!r}")
    before = [p.detach().clone() for p in model.parameters()]
    terms = model.train_step(synthetic_batch(model), optimizers)
    if not isinstance(terms, dict) or not terms:
        raise CheckFailed(f"train_step should return a dict of named loss terms, got {type(terms).__name__}")
    for key, value in terms.items():
        if not isinstance(value, Tensor) or value.dim() != 0:
            raise CheckFailed(f"train_step term {key!r} should be a scalar tensor, got {value!r}")
        if not torch.isfinite(value):
            raise CheckFailed(f"train_step term {key!r} is {float(value)}, not a finite number")
        if value.requires_grad:
            raise CheckFailed(f"train_step term {key!r} still holds its graph; return value.detach()")
    if all(torch.equal(a, b) for a, b in zip(before, model.parameters())):
        raise CheckFailed("train_step changed no parameter; did it call optimizer.step()?")


def _check_eval_step(model: GenerativeModel) -> None:
    model.eval()
    state = copy.deepcopy(model.state_dict())
    terms = model.eval_step(synthetic_batch(model))
    if not terms or not all(torch.isfinite(v) for v in terms.values()):
        raise CheckFailed(f"eval_step should return finite named terms, got {terms!r}")
    for key, value in model.state_dict().items():
        if not torch.equal(value, state[key]):
            raise CheckFailed(f"eval_step changed {key}; evaluation must not update the model")


def _check_sample(model: GenerativeModel) -> None:
    labels = labels_for(model, 5)
    a = model.sample(5, labels, torch.Generator().manual_seed(3))
    b = model.sample(5, labels, torch.Generator().manual_seed(3))
    c = model.sample(5, labels, torch.Generator().manual_seed(4))
    expected = (5, *model.config.image_shape)
    if tuple(a.shape) != expected:
        raise CheckFailed(f"sample(5) should have shape {expected}, got {tuple(a.shape)}")
    if a.min() < 0 or a.max() > 1:
        raise CheckFailed(f"samples should lie in [0, 1], got [{float(a.min()):.3g}, {float(a.max()):.3g}]")
    if not torch.equal(a, b):
        raise CheckFailed("two samples with the same generator seed differ; draw the noise with the generator")
    if torch.equal(a, c):
        raise CheckFailed("samples with different seeds are identical; the noise is ignored")
    if model.conditional:  # every batch above held the top class: F.one_hot(labels) without K passed them
        top = model.config.num_classes - 1
        try:
            lacking = model.sample(2, torch.zeros(2, dtype=torch.long), torch.Generator().manual_seed(3))
        except Exception as error:
            raise CheckFailed(
                f"sample(2) with labels [0, 0] (a batch without class {top}) failed: {_reason(error)}; does "
                "condition() size its code by the batch's labels? one_hot(labels, num_classes) does not"
            ) from None
        if tuple(lacking.shape) != (2, *model.config.image_shape):
            raise CheckFailed(f"sample(2) with labels [0, 0] (without class {top}) has shape {tuple(lacking.shape)}")


def _check_save_load(model: GenerativeModel) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.pt"
        model.save(path)
        raw = torch.load(path, weights_only=True)
        loaded = load_model(path)
    if raw["model_config"]["name"] != model.name or type(loaded) is not type(model):
        raise CheckFailed(f"save/load gave a {type(loaded).__name__}, not a {type(model).__name__}")
    labels = labels_for(model, 3)
    before, after = (m.sample(3, labels, torch.Generator().manual_seed(0)) for m in (model, loaded))
    if not torch.equal(before, after):
        raise CheckFailed("the loaded model samples differently from the saved one")


def _check_encoder(model: GenerativeModel) -> None:
    if not model.has_encoder:
        return
    x, y = synthetic_batch(model, 4)
    labels = y if model.conditional else None
    z = model.encode(x, labels)
    if tuple(z.shape) != (4, model.config.latent_dim):
        raise CheckFailed(f"encode(x) should have shape (4, {model.config.latent_dim}), got {tuple(z.shape)}")
    recon = model.reconstruct(x, labels)
    if recon.shape != x.shape or recon.min() < 0 or recon.max() > 1:
        raise CheckFailed(f"reconstruct(x) should have x's shape {tuple(x.shape)} and lie in [0, 1]")


CHECKS: dict[str, Callable[[GenerativeModel], None]] = {
    "train_step returns finite named losses and learns": _check_train_step,
    "eval_step changes nothing": _check_eval_step,
    "sample: shape, range [0, 1], seeded determinism": _check_sample,
    "save and load round trip (weights only)": _check_save_load,
    "encode and reconstruct (models with an encoder)": _check_encoder,
}


def _reason(error: BaseException) -> str:
    if isinstance(error, CheckFailed):
        return str(error)
    if isinstance(error, NotImplementedError):
        return f"not implemented yet ({error})" if str(error) else "not implemented yet"
    first = (str(error).strip().splitlines() or [""])[0]
    return f"{type(error).__name__}: {first}"


def run_contract(cls: type[GenerativeModel], overrides: dict[str, Any] | None = None) -> list[CheckResult]:
    """Every contract check on a fresh tiny ``cls`` (registered for the duration); never raises."""
    results: list[CheckResult] = []
    try:
        with registered(cls) as name:
            torch.manual_seed(0)
            model = build_model(tiny_config(cls, overrides))
            if not isinstance(model, cls) or model.name != name:
                raise CheckFailed(f"build_model({name!r}) gave a {type(model).__name__}")
            results.append(CheckResult(f"registers as {name!r} and builds from its config", True))
            for label, check in CHECKS.items():
                torch.manual_seed(0)
                try:
                    check(build_model(tiny_config(cls, overrides)))
                    results.append(CheckResult(label, True))
                except Exception as error:  # a student's code may raise anything: report it, go on
                    results.append(CheckResult(label, False, _reason(error)))
    except Exception as error:
        results.append(CheckResult("registers and builds from its config", False, _reason(error)))
    return results

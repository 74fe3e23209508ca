"""The contract every vaegan model keeps, so one Trainer, one CLI and one test suite serve them all."""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar, NamedTuple, TypeVar

import torch
from torch import Tensor, nn

from vaegan.foundation.checkpoints import atomic_save
from vaegan.models.config import ModelConfig
from vaegan.models.registry import load_model

F = TypeVar("F", bound=Callable[..., Any])


class Batch(NamedTuple):
    """A slice of the in-memory dataset: images (B, C, *S) in [0, 1] and int64 labels (B,)."""

    x: Tensor
    y: Tensor


class FixedInputs(NamedTuple):
    """What the per-epoch grids are drawn from, fixed at the start so epochs compare."""

    x: Tensor  # (G, C, *S) validation images
    y: Tensor  # (G,) their labels
    z: Tensor  # (G, latent_dim) prior noise


def inference(method: F) -> F:
    """Run a model method without gradients and in eval mode (batch norm on running statistics,
    no dropout), then restore the caller's mode. Every public inference entry point wears it."""

    @functools.wraps(method)
    def wrapper(self: nn.Module, *args: Any, **kwargs: Any) -> Any:
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                return method(self, *args, **kwargs)
        finally:
            self.train(was_training)

    return wrapper  # type: ignore[return-value]


def pinned(device: torch.device) -> bool:
    """Whether CPU tensors bound for ``device`` are drawn into pinned memory (CUDA): copied without blocking,
    they leave the GPU's queue running."""
    return device.type == "cuda"


def to_device(x: Tensor, device: torch.device) -> Tensor:
    """``x`` on ``device``, without waiting where ``x`` is pinned (see :func:`pinned`)."""
    return x.to(device, non_blocking=x.is_pinned())


def adam(params, config: ModelConfig) -> torch.optim.Adam:
    """Adam with the config's learning rate, betas and weight decay, fused where the device supports it (one
    kernel for all parameters)."""
    params = list(params)
    fused = all(p.device.type in ("cpu", "cuda") for p in params)
    return torch.optim.Adam(params, lr=config.lr, betas=config.betas, weight_decay=config.weight_decay, fused=fused)


class GenerativeModel(nn.Module, ABC):
    """Base of the hierarchy: a module that learns, samples and saves itself.

    Subclasses set ``config_class`` and implement ``synthesize`` (noise -> images,
    differentiable; ``generate`` and ``sample`` wrap it for use) and either
    ``losses`` (one objective, one optimizer: the default ``train_step`` and
    ``eval_step`` do the rest) or their own ``train_step`` and ``eval_step`` (a GAN
    steps its two optimizers itself, and scores a validation batch its own way).
    Conditioning hooks (``cond_dim``, ``condition``) default to none;
    :class:`LabelConditioned` replaces them.
    """

    name: ClassVar[str] = "base"
    config_class: ClassVar[type[ModelConfig]] = ModelConfig
    # capabilities: what callers may ask of a model (never its name, never hasattr)
    conditional: ClassVar[bool] = False  # sample/generate/encode take class labels
    soft_labels: ClassVar[bool] = False  # labels may also be (B, K) class weights (one-hot conditioning)
    has_encoder: ClassVar[bool] = False  # encode() and reconstruct()
    probabilistic: ClassVar[bool] = False  # posterior() -> DiagonalGaussian and log_likelihood()
    monitor: ClassVar[str | None] = "loss"  # validation metric that picks best.pt (lower is better)

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config

    # -- learning ---------------------------------------------------------
    def losses(self, batch: Batch) -> dict[str, Tensor]:
        """Named loss terms with the optimised total under ``"loss"``."""
        own = type(self)
        if own.train_step is not GenerativeModel.train_step and own.eval_step is not GenerativeModel.eval_step:
            raise NotImplementedError(
                f"{own.__name__} trains with its own train_step() and eval_step(), which do not go through losses(): "
                "call those for its loss terms"
            )
        raise NotImplementedError(
            f"{type(self).__name__} must define losses(), or both train_step() and eval_step() "
            "(the default train_step and eval_step call losses())"
        )

    def train_step(self, batch: Batch, optimizers: dict[str, torch.optim.Optimizer]) -> dict[str, Tensor]:
        """One optimisation step; returns the detached loss terms."""
        optimizer = optimizers["model"]
        optimizer.zero_grad(set_to_none=True)
        terms = self.losses(batch)
        terms["loss"].backward()
        optimizer.step()
        return {key: value.detach() for key, value in terms.items()}

    def batch_statistics(self) -> bool:
        """Whether a loss term is a statistic of the whole batch (a minibatch estimate such as a total
        correlation or an MMD), whose value moves with the batch size: the trainer then validates in
        batches of ``train.batch_size``, so that val/ compares with one process's train/ and moves with
        neither ``eval_batch_size`` nor the number of torchrun processes (each of which trains on its
        share of a batch, so train/ of such a term is over batch_size / W images there)."""
        return False

    @torch.no_grad()
    def eval_step(self, batch: Batch) -> dict[str, Tensor]:
        """The same terms as ``train_step``, without updates."""
        return {key: value.detach() for key, value in self.losses(batch).items()}

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"model": adam(self.parameters(), self.config)}

    # -- conditioning (LabelConditioned replaces both) ----------------------
    @property
    def cond_dim(self) -> int:
        """Length of the conditioning vector joined to the networks' inputs or features (0: none)."""
        return 0

    def condition(self, labels: Tensor | None) -> Tensor | None:
        """The conditioning vector for ``labels``; unconditional models ignore labels."""
        return None

    def on_fit_start(self, dataset_size: int) -> None:
        """Hook called once before training with the number of training images (beta-TCVAE's estimator needs it)."""

    def check_steps(self, steps: int) -> None:
        """Hook called before anything is written with the run's training steps in all; raises ConfigError
        where the model cannot train in so few (a GAN whose generator would never step)."""

    def on_epoch_start(self, epoch: int) -> None:
        """Hook for schedules that depend on the epoch (1-based), e.g. KL warm-up."""

    # -- sampling ---------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def prior_noise(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """z ~ N(0, I), shape (n, latent_dim), drawn on the CPU so seeds agree across devices (into pinned
        memory on CUDA, so the copy does not wait for the GPU's queue, once per training step)."""
        return to_device(
            torch.randn(n, self.config.latent_dim, generator=generator, pin_memory=pinned(self.device)), self.device
        )

    @abstractmethod
    def synthesize(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """Images in [0, 1] from latent noise (B, latent_dim), differentiable, in the current mode.

        Training code calls this; users call :meth:`generate` or :meth:`sample`.
        """

    @inference
    def generate(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """Images in [0, 1] (B, C, *S) decoded from the noise ``z`` (B, latent_dim), in eval mode."""
        return self.synthesize(z.to(self.device), None if labels is None else labels.to(self.device))

    @inference
    def sample(self, n: int, labels: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        """``n`` new images (n, C, *S) in [0, 1]; conditional models take ``labels`` (n,)."""
        return self.generate(self.prior_noise(n, generator), labels)

    @inference
    def class_fakes(self, z: Tensor) -> Tensor:
        """Decode the noise ``z`` (N, D) as every class: (K, N, C, *S), row k drawn as class k."""
        k = self.config.num_classes
        classes = torch.arange(k, device=z.device).repeat_interleave(len(z))  # (K*N,): 0,0,..,1,1,..
        return self.generate(z.repeat(k, 1), classes).unflatten(0, (k, len(z)))

    @inference
    def epoch_images(self, fixed: FixedInputs) -> dict[str, Tensor]:
        """Named image sets drawn each epoch from fixed inputs, so epochs compare.

        Each value is either a batch (N, C, *S), or a grid (R, K, C, *S) whose rows
        mean something (one class per row); the grids callback does the layout.
        Conditional models draw one row per class with the same noise down each
        column, so class and style are separate axes.
        """
        if self.conditional:
            return {"fakes": self.class_fakes(fixed.z[: max(1, min(self.config.num_classes, len(fixed.z)))])}
        return {"fakes": self.generate(fixed.z)}

    def grid_rows(self, name: str, class_names: Sequence[str]) -> list[str] | None:
        """What each row of the epoch grid ``name`` (from :meth:`epoch_images`) holds, written left of it;
        ``None`` for a batch, whose rows mean nothing. Conditional fakes: one class a row."""
        if name == "fakes" and self.conditional:
            return list(class_names[: self.config.num_classes])
        return None

    def differentiated_twice(self) -> set[str]:
        """Names of the child networks whose gradient the training loss itself differentiates (WGAN-GP's
        gradient penalty). torch.compile cannot differentiate a compiled network's backward, so
        ``train.compile`` leaves these uncompiled."""
        return set()

    def curve_units(self) -> dict[str, str | None]:
        """Units of logged terms where the curves' default table is wrong for this model (None: no unit).

        The table (``vaegan.visualization.curves.UNITS``) reads ``loss``, ``d_loss``, ``g_loss`` as
        nats per image; a model whose loss adds terms of other units (an MMD, feature distances, a
        critic's score) says so here.
        """
        return {}

    # -- persistence ------------------------------------------------------
    def checkpoint_payload(self) -> dict[str, Any]:
        """Plain data + tensors only, readable with ``torch.load(weights_only=True)``."""
        return {"model_config": self.config.model_dump(mode="json"), "model": self.state_dict()}

    def save(self, path: str | Path) -> None:
        """Write the config and weights, readable with ``torch.load(weights_only=True)``."""
        atomic_save(self.checkpoint_payload(), Path(path))

    @classmethod
    def load(cls, path: str | Path, map_location: str | torch.device = "cpu") -> GenerativeModel:
        """Rebuild a model from a checkpoint written by ``save`` or by the Trainer, in eval mode."""
        model = load_model(path, map_location)
        if not isinstance(model, cls):
            raise TypeError(f"{path} holds model class {type(model).__name__}, not {cls.__name__}")
        return model


class LabelConditioned:
    """Mixin for class-conditional models: the label enters as a one-hot vector (B, K).

    Put it before the base model (``class ACGAN(LabelConditioned, GAN)``) so its
    ``cond_dim`` and ``condition`` replace the unconditional hooks.
    """

    conditional = True
    soft_labels = True
    config: ModelConfig

    @property
    def cond_dim(self) -> int:
        return self.config.num_classes

    def condition(self, labels: Tensor | None) -> Tensor:
        """One-hot labels (B, K), joined to the networks' inputs or features.

        (B, K) float class weights pass through as they are, so a decoder can be
        asked for a mixture of classes (class interpolation figures).
        """
        if labels is not None and labels.is_floating_point() and labels.dim() == 2:
            return labels.float()
        if labels is None:
            raise ValueError(
                f"{type(self).__name__} is conditional: pass labels, class indices in 0..{self.config.num_classes - 1}"
                ", e.g. model.sample(10, labels=torch.arange(10))"
            )
        return torch.nn.functional.one_hot(labels.long(), self.config.num_classes).float()

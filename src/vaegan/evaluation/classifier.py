"""The reference classifier: a small CNN whose features and predictions judge generated images.

Its penultimate activations are the feature space of the Fréchet and kernel
distances and of precision/recall (as Inception-v3 is for natural images,
Heusel et al. 2017); its predictions score class-conditional samples. This module
holds the network and its training; ``classifier_store.py`` keeps one per dataset in
the user cache (``load_classifier``).

Example:
    >>> clf = fit_classifier(load_dataset("mnist").train, epochs=5)  # doctest: +SKIP
    >>> classifier_accuracy(clf, test.images, test.labels)  # doctest: +SKIP
    0.992
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vaegan.data import ImageDataset
from vaegan.foundation.errors import TrainingError
from vaegan.networks.layers import BATCH_NORM, CONV

__all__ = ["ReferenceClassifier", "classifier_accuracy", "fit_classifier"]

log = logging.getLogger(__name__)

KIND = "reference-classifier"
MAX_POOLED_SIDE = 7  # pool until every side is at most this: 28 -> 14 -> 7, 64 -> ... -> 4


def default_widths(image_shape: tuple[int, ...]) -> tuple[int, ...]:
    """One stage per halving until the smallest side is <= 7; widths 32, 64, 128, 128, ..."""
    stages = max(1, math.ceil(math.log2(max(1.0, min(image_shape[1:]) / MAX_POOLED_SIDE))))
    return tuple(min(32 * 2**i, 128) for i in range(stages))


class ReferenceClassifier(nn.Module):
    """Conv-BN-ReLU-maxpool stages, one dense feature layer, a linear head; 2-D or 3-D.

    Args:
        image_shape: ``(C, H, W)`` or ``(C, D, H, W)``.
        num_classes: outputs of the head.
        widths: channels of each stage (default: enough stages to pool to <= 7 per side).
        hidden: size of the feature layer, the space FID/KID/PR are measured in.
        dropout: dropout before the head, during training only.

    Example:
        >>> clf = ReferenceClassifier((1, 28, 28), 10)
        >>> clf(torch.rand(2, 1, 28, 28)).shape, clf.features(torch.rand(2, 1, 28, 28)).shape
        (torch.Size([2, 10]), torch.Size([2, 128]))
    """

    def __init__(
        self,
        image_shape: tuple[int, ...],
        num_classes: int,
        *,
        widths: tuple[int, ...] | None = None,
        hidden: int = 128,
        dropout: float = 0.25,
    ):
        super().__init__()
        self.image_shape = tuple(image_shape)
        self.num_classes = num_classes
        self.widths = tuple(widths or default_widths(self.image_shape))
        self.hidden = hidden
        dims = len(self.image_shape) - 1
        layers: list[nn.Module] = []
        in_ch, sizes = self.image_shape[0], list(self.image_shape[1:])
        for width in self.widths:
            layers += [CONV[dims](in_ch, width, 3, padding=1, bias=False), BATCH_NORM[dims](width), nn.ReLU()]
            layers += [nn.MaxPool2d(2) if dims == 2 else nn.MaxPool3d(2)]
            in_ch, sizes = width, [s // 2 for s in sizes]
        self.body = nn.Sequential(*layers)
        self.dense = nn.Sequential(nn.Linear(in_ch * math.prod(sizes), hidden), nn.ReLU())
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden, num_classes))
        self.num_features = hidden  # what torchmetrics' FID/KID read from a custom extractor
        self.metadata: dict[str, Any] = {}  # filled from the checkpoint: dataset, test_accuracy, epochs, ...

    def features(self, x: Tensor) -> Tensor:
        """Penultimate activations (B, hidden) of images (B, C, *S) in [0, 1]."""
        return self.dense(self.body(x - 0.5).flatten(1))

    def forward(self, x: Tensor) -> Tensor:
        """Class logits (B, num_classes)."""
        return self.head(self.features(x))

    def architecture(self) -> dict[str, Any]:
        """Plain data that rebuilds this network (stored in the checkpoint)."""
        return {
            "image_shape": list(self.image_shape),
            "num_classes": self.num_classes,
            "widths": list(self.widths),
            "hidden": self.hidden,
        }


def _shift(x: Tensor, max_shift: int, generator: torch.Generator) -> Tensor:
    """Random translation of each image by up to ``max_shift`` pixels (2-D or 3-D), zeros outside."""
    b, dims = len(x), x.dim() - 2
    sides = torch.tensor(list(reversed(x.shape[2:])), dtype=torch.float32)  # affine_grid orders (W, H[, D])
    offsets = torch.randint(-max_shift, max_shift + 1, (b, dims), generator=generator).float() * 2 / sides
    theta = torch.zeros(b, dims, dims + 1)
    theta[:, :, :dims] = torch.eye(dims)
    theta[:, :, dims] = offsets
    grid = F.affine_grid(theta.to(x.device), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="nearest", padding_mode="zeros", align_corners=False)


def fit_classifier(
    train: ImageDataset,
    *,
    epochs: int = 3,
    batch_size: int = 128,
    lr: float = 1e-3,
    max_shift: int = 2,
    device: str | torch.device = "cpu",
    seed: int = 0,
) -> ReferenceClassifier:
    """Train a fresh :class:`ReferenceClassifier` on ``train`` (Adam, one-cycle schedule, random shifts).

    Also used to train on generated images (train-on-generated, test-on-real). At ``lr`` 3e-3 the
    64^3 phantoms' classifier died (constant features, accuracy 0.50 after 12 epochs); at 1e-3 it
    reaches 0.80.
    Seeded, and the global random state is left as it was.
    """
    device = torch.device(device)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)  # initial weights and dropout
        model = ReferenceClassifier(train.image_shape, train.num_classes).to(device)
        _train(model, train, epochs, batch_size, lr, max_shift, torch.Generator().manual_seed(seed))
    return model.eval()


MIN_STEPS = 150  # what a small set (160 volumes, 10 steps an epoch) needs to learn anything


def batch_for(n: int, batch_size: int = 128) -> int:
    """The batch ``fit_classifier`` uses on ``n`` images: small sets still get about 10 steps an epoch."""
    return min(batch_size, max(8, n // 10))


def default_epochs(n: int, least: int = 5) -> int:
    """Epochs of a classifier on ``n`` images: ``least`` (the reference one's 5: MNIST 2,345 steps), or as
    many as :data:`MIN_STEPS` optimiser steps take (the 64^3 phantoms' 160 volumes: 15; 5 left it at chance)."""
    return max(least, math.ceil(MIN_STEPS / math.ceil(n / batch_for(n))))


def _train(
    model: ReferenceClassifier,
    train: ImageDataset,
    epochs: int,
    batch_size: int,
    lr: float,
    max_shift: int,
    generator: torch.Generator,
) -> None:
    device = next(model.parameters()).device
    batch_size = batch_for(len(train), batch_size)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * math.ceil(len(train) / batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps)
    x_all, y_all = train.images.to(device, torch.float32), train.labels.to(device)
    model.train()
    for epoch in range(1, epochs + 1):
        started, total = time.perf_counter(), 0.0
        order = torch.randperm(len(train), generator=generator).to(device)
        for start in range(0, len(train), batch_size):
            index = order[start : start + batch_size]
            x = _shift(x_all[index], max_shift, generator) if max_shift else x_all[index]
            loss = F.cross_entropy(model(x), y_all[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total += float(loss.detach()) * len(index)
        if not math.isfinite(total):  # NaN weights would score every later evaluation at chance
            raise TrainingError(
                f"classifier epoch {epoch}/{epochs}: the loss is not finite ({total}); do the images hold NaN or "
                "infinite values? Nothing was saved"
            )
        seconds = time.perf_counter() - started
        log.info("classifier epoch %d/%d: loss %.4f (%.1f s)", epoch, epochs, total / len(train), seconds)


@torch.no_grad()
def classifier_accuracy(classifier: nn.Module, images: Tensor, labels: Tensor, *, batch_size: int = 1000) -> float:
    """Fraction of ``images`` (N, C, *S) whose predicted class equals ``labels`` (N,)."""
    if len(images) == 0:
        raise ValueError("classifier_accuracy: no images to score")
    was_training = classifier.training
    classifier.eval()
    device = next(classifier.parameters()).device
    correct = 0
    try:
        for start in range(0, len(images), batch_size):
            logits = classifier(images[start : start + batch_size].to(device, torch.float32))
            correct += int((logits.argmax(1).cpu() == labels[start : start + batch_size].cpu()).sum())
    finally:
        classifier.train(was_training)
    return correct / len(images)

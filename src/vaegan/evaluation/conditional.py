"""Whether class-conditional samples show their class: two accuracies.

- *Conditional accuracy*: the reference classifier's accuracy on samples drawn
  for given labels (the ACGAN paper's measure, Odena et al. 2017, sec. 4.1).
- *Train on generated, test on real* (TSTR; the classification accuracy score
  of Ravuri & Vinyals 2019): a fresh classifier trained only on samples,
  tested on the real test set. It is low when samples are faithful but not
  varied enough to teach the class.

Each one's floor trains or tests on real images instead.

Example:
    >>> train_on_generated_accuracy(fakes, fake_labels, test, epochs=2)  # doctest: +SKIP
    0.95
"""

from __future__ import annotations

import torch
from torch import Tensor

from vaegan.data import ImageDataset
from vaegan.evaluation.classifier import classifier_accuracy, default_epochs, fit_classifier

__all__ = ["train_on_generated_accuracy"]


def train_on_generated_accuracy(
    images: Tensor,
    labels: Tensor,
    test: ImageDataset,
    *,
    epochs: int | None = None,
    device: str | torch.device = "cpu",
    seed: int = 0,
) -> float:
    """Accuracy on ``test`` of a classifier trained from scratch on ``images`` (N, C, *S) with ``labels`` (N,).

    Pass real training images to get the floor (train on real, test on real). ``epochs`` defaults to 3, or
    more where ``images`` are few: at least :data:`~vaegan.evaluation.classifier.MIN_STEPS` optimiser
    steps (40 MRI volumes: 30 epochs of 5 steps; 3 epochs left the real floor at chance).
    """
    train = ImageDataset(images.float().cpu(), labels.long().cpu(), test.class_names, f"{test.name}-generated")
    epochs = epochs or default_epochs(len(train), least=3)
    classifier = fit_classifier(train, epochs=epochs, device=device, seed=seed)
    return classifier_accuracy(classifier, test.images, test.labels)

"""The evaluation's sections: each turns one thing a model can do into named :class:`Metric` figures.

- :func:`reconstruction_section`: MSE, PSNR, SSIM of the test images through encoder and decoder.
- :func:`likelihood_section`: NLL and -ELBO on test rows drawn by :func:`nll_rows`, under the protocol
  valid for the run (binary, dequantised 8-bit levels, or a density), or a note where none is.
- :func:`sample_section`: FID, KID, precision/recall and within-class diversity of the samples in the
  reference classifier's feature space (:class:`Features`), each beside real train vs real test.
- :func:`collapse_note`: a note where the samples have collapsed and precision reads high all the same.
- :func:`conditional_section`: train-on-generated accuracy and the class accuracy of conditional samples.

Which sections a model gets, and in what order, is :func:`~vaegan.evaluation.evaluator.evaluate_model`'s.

Example:
    >>> from vaegan.evaluation.results import Metric
    >>> collapse_note({"diversity": Metric(0.5, floor=10.0), "precision": Metric(0.0, floor=0.9)}) is None
    True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from vaegan.data import DataSplits, ImageDataset
from vaegan.evaluation.chance import above_chance, chance_level, too_few, trials
from vaegan.evaluation.classifier import default_epochs
from vaegan.evaluation.conditional import train_on_generated_accuracy
from vaegan.evaluation.feature_metrics import (
    frechet_distance,
    kernel_distance,
    manifold_radii,
    precision_recall,
    within_class_diversity,
)
from vaegan.evaluation.likelihood import bits_per_dim, likelihood_metrics, likelihood_protocol
from vaegan.evaluation.reconstruction import reconstruction_metrics
from vaegan.evaluation.results import Metric
from vaegan.evaluation.sampling import Samples
from vaegan.models.base import GenerativeModel

if TYPE_CHECKING:  # evaluator.py imports this module: its options are read here, never built
    from vaegan.evaluation.evaluator import EvaluationOptions

__all__ = [
    "COLLAPSED",
    "Features",
    "collapse_note",
    "conditional_section",
    "likelihood_section",
    "nll_rows",
    "reconstruction_section",
    "sample_section",
]


@dataclass
class Features:
    """Reference-classifier features of the three image sets that the sample metrics compare."""

    test: Tensor  # (N_test, F) real test images
    train: Tensor  # (n, F) real training images, as many as samples: the floor's "fake" set
    fake: Tensor  # (n, F) generated images


def reconstruction_section(model: GenerativeModel, data: DataSplits) -> dict[str, Metric]:
    scores = reconstruction_metrics(model, data.test.images, data.test.labels)
    return {
        "recon_mse": Metric(scores["mse"], unit="per pixel", better="lower"),
        "recon_psnr": Metric(scores["psnr"], unit="dB", better="higher"),
        "recon_ssim": Metric(scores["ssim"], better="higher"),
    }


def nll_rows(n_test: int, count: int | None, seed: int) -> torch.Tensor:
    """The test rows the NLL is estimated on: ``count`` drawn with ``seed`` (all if None or more), in order.

    Drawn, not the first rows: a test set is often ordered (MRI slices by subject and scan), and its first
    rows would be one or two subjects.
    """
    if count is None or count >= n_test:
        return torch.arange(n_test)
    drawn = torch.randperm(n_test, generator=torch.Generator().manual_seed(seed))[:count]
    return drawn.sort().values


def likelihood_section(
    model: GenerativeModel, data: DataSplits, options: EvaluationOptions, *, binarize: bool, notes: list[str]
) -> dict[str, Metric]:
    """The test likelihood under the protocol that is valid for this run; none (and a note) where none is."""
    test = data.test.subset(nll_rows(len(data.test), options.nll_images, options.seed))
    protocol = likelihood_protocol(model, test.images, binarize=binarize)
    if protocol.kind is None:
        notes.append(protocol.reason)
        return {}
    images = protocol.prepare(test.images, options.seed)
    prior = torch.bincount(data.train.labels.long(), minlength=model.config.num_classes).double()
    scores = likelihood_metrics(
        model,
        images,
        test.labels,
        class_prior=prior / prior.sum(),
        k=options.k,
        seed=options.seed,
        progress=options.progress,
    )
    if protocol.kind == "dequantized":  # bound on the 256-level data: + D log 256 (Theis et al. 2016)
        offset = math.prod(data.image_shape) * math.log(256.0)
        scores = {name: value + offset for name, value in scores.items()}
    unit = "nats (density)" if protocol.kind == "density" else "nats"
    suffix = "_density" if protocol.kind == "density" else ""  # a density value, -ELBO too, is no bound on data
    metrics = {name + suffix: Metric(value, unit=unit, better="lower") for name, value in scores.items()}
    if protocol.kind == "dequantized":
        metrics["bits_per_dim"] = Metric(bits_per_dim(scores["nll"], data.image_shape), unit="bits/dim")
    notes.append(f"likelihood: {protocol.reason}, k={options.k}, {len(test)} test images")
    return metrics


def sample_section(features: Features, fake_classes: Tensor, real_classes: Tensor, seed: int) -> dict[str, Metric]:
    """FID, KID, precision/recall and diversity of the fakes, each beside real train vs real test.

    Diversity is within classes: ``fake_classes`` and ``real_classes`` group the fakes and the test images,
    alike (asked-for and true labels, or the classifier's predictions for both).
    """
    f = features
    kid, kid_std = kernel_distance(f.test, f.fake, seed=seed)
    kid_floor, _ = kernel_distance(f.test, f.train, seed=seed)
    radii = manifold_radii(f.test)  # the real manifold, once for both
    precision, recall = precision_recall(f.test, f.fake, real_radii=radii)
    precision_floor, recall_floor = precision_recall(f.test, f.train, real_radii=radii)
    return {
        "fid": Metric(frechet_distance(f.test, f.fake), floor=frechet_distance(f.test, f.train)),
        "kid": Metric(kid, floor=kid_floor, std=kid_std),
        "precision": Metric(precision, floor=precision_floor, unit="fraction", better="higher"),
        "recall": Metric(recall, floor=recall_floor, unit="fraction", better="higher"),
        "diversity": Metric(
            within_class_diversity(f.fake, fake_classes),
            floor=within_class_diversity(f.test, real_classes),
            unit="feature distance",
            better="closer",
        ),
    }


COLLAPSED = 0.2  # diversity below this share of its floor: the samples have collapsed (README, "collapsed")


def collapse_note(metrics: dict[str, Metric]) -> str | None:
    """A note where the samples have collapsed (``diversity`` under a fifth of its floor), saying that
    ``precision`` is then no evidence of quality; None otherwise.

    Precision counts the samples inside real images' k-NN neighbourhoods: identical samples that land in one
    outlier's large neighbourhood score 1. A fifth: on MNIST, distinct but heavily blurred digits keep 0.32-0.41
    of the floor (and the fitted draws of the 3-D cVAE 0.33), one image a class 0.1, one image for all 0.
    """
    diversity, precision = metrics.get("diversity"), metrics.get("precision")
    if diversity is None or precision is None or diversity.floor is None:
        return None
    if not 0 <= diversity.value < COLLAPSED * diversity.floor:  # NaN or a floor of 0: nothing to compare
        return None
    if not precision.value >= 0.5 and not (precision.floor is not None and precision.value >= precision.floor):
        return None  # collapsed samples outside every real neighbourhood: a low precision already says so
    recall = metrics.get("recall")
    shortfall = f"recall {recall.value:.4g}, FID" if recall is not None else "FID"
    return (
        f"precision: the samples have collapsed (diversity {diversity.value:.4g} is under a fifth of its floor "
        f"{diversity.floor:.4g}: a class's samples lie far closer together than real images do); precision "
        f"{precision.value:.4g} counts the samples that fall inside real images' neighbourhoods, and collapsed "
        "samples piled into one score high: it is no evidence of quality here "
        f"({shortfall} and diversity say how far they fall short)"
    )


def conditional_section(
    samples: Samples,
    real_train: ImageDataset,
    data: DataSplits,
    options: EvaluationOptions,
    notes: list[str],
    accuracy: tuple[float, float] | None,
) -> dict[str, Metric]:
    """Train-on-generated accuracy, and ``accuracy``: the reference classifier's on the samples (as the
    classes asked for) and on the test images (its floor), None where that classifier is at chance."""
    test = data.test
    epochs = options.tstr_epochs or default_epochs(len(real_train), least=3)
    tstr = [
        train_on_generated_accuracy(x, y, test, epochs=epochs, device=options.device, seed=options.seed)
        for x, y in ((samples.images, samples.labels), (real_train.images, real_train.labels))
    ]
    metrics = {"tstr_accuracy": Metric(tstr[0], floor=tstr[1], unit="fraction", better="higher")}
    if accuracy is not None:  # a blind classifier's verdict on the samples means nothing
        metrics["cond_accuracy"] = Metric(accuracy[0], floor=accuracy[1], unit="fraction", better="higher")
    chance = chance_level(test.labels)
    n, units = trials(test)
    if few := too_few(chance, n, units):
        notes.append(f"tstr: {few}; tstr_accuracy ({tstr[0]:.2f}, floor {tstr[1]:.2f}) says nothing and is left out")
        del metrics["tstr_accuracy"]
    elif not above_chance(tstr[1], chance, n):  # "tstr 0.5 (floor 0.5)" would read as a perfect model
        notes.append(
            f"tstr: the classifier trained on {len(real_train)} real images for {epochs} epochs scores "
            f"{tstr[1]:.2f}, chance {chance:.2f}, no better over its {n} {units}: its floor is at chance, so "
            f"tstr_accuracy ({tstr[0]:.2f}) says nothing and is left out; raise --tstr-epochs, or --samples "
            f"(up to {len(data.train)})"
        )
        del metrics["tstr_accuracy"]
    return metrics

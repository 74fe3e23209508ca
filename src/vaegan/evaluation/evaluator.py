"""Evaluate any model by what it can do: reconstruct, estimate log p(x), sample, condition on a class.

The dispatch reads the model's capabilities, never its name, so models added
later are evaluated without touching this file:

- ``model.has_encoder``: reconstruction MSE, PSNR, SSIM.
- a ``log_likelihood`` method: NLL (importance-weighted, k samples) and
  negative ELBO, in nats, and bits/dim for continuous likelihoods.
- every model samples: FID, KID, precision/recall and within-class diversity
  in the reference classifier's feature space, and sharpness (variance of
  the Laplacian), each beside its floor.
- ``model.conditional``: the classifier's accuracy on class-conditional samples
  and train-on-generated / test-on-real accuracy.

A figure that would say nothing is left out with a note instead: no NLL where the decoder's
density is not one, no feature metrics where the reference classifier is no better than chance on
the test images, and no TSTR accuracy where its train-on-real floor is at chance (both tested over the
test subjects where the images have them: one subject's MRI slices or sessions are no independent trials).
Where the samples have collapsed (diversity under a fifth of its floor) and precision still reads high, it is
kept beside a note that it is no evidence.

This file orders the sections and times them; ``sections.py`` builds each one's metrics, and ``chance.py``
holds the chance-level tests and the checks on the reference classifier.

Example:
    >>> result = evaluate_run("outputs/mnist_vae", options=EvaluationOptions(k=500))  # doctest: +SKIP
    >>> result.metrics["fid"].format()  # doctest: +SKIP
    '4.21 (floor 0.38)'
"""

from __future__ import annotations

import csv
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from vaegan.data import DataSplits
from vaegan.evaluation.chance import check_classifier_subjects, retrain_command, sighted
from vaegan.evaluation.classifier import ReferenceClassifier
from vaegan.evaluation.classifier_store import classifier_path, load_classifier
from vaegan.evaluation.feature_metrics import extract_features
from vaegan.evaluation.results import Evaluation, Metric
from vaegan.evaluation.sampling import draw_samples
from vaegan.evaluation.sections import (
    Features,
    collapse_note,
    conditional_section,
    likelihood_section,
    reconstruction_section,
    sample_section,
)
from vaegan.evaluation.sharpness import sharpness
from vaegan.foundation.errors import VaeganError
from vaegan.models.base import GenerativeModel
from vaegan.visualization.codes import fit_code_density

__all__ = ["EvaluationOptions", "evaluate_model", "evaluate_run"]

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class EvaluationOptions:
    """How thoroughly to evaluate.

    Attributes:
        k: importance samples per image for the NLL.
        nll_images: test images the NLL is estimated on, drawn with ``seed`` (None: all; k * N decoder passes).
        n_samples: generated images for FID/KID/PR (None: as many as test images).
        tstr_epochs: epochs of the classifier trained on generated images (and of its floor, trained on as
            many real ones); None: 3, or enough for 150 optimiser steps on a small set (MRI).
        seed: seed of sampling, subsets and classifier training.
        device: where the model and classifiers run.
        progress: a bar for the NLL, the slow part on large images (its decoder passes and time left).
        latent: where the sample metrics' codes come from: ``prior`` (the model's own N(0, I)) or
            ``fitted`` (a Gaussian per class fitted to the training images' codes, models with an
            encoder: what :class:`~vaegan.visualization.codes.CodeDensity` draws). The NLL is the prior's
            either way.
    """

    k: int = 5000
    nll_images: int | None = 1000
    n_samples: int | None = None
    tstr_epochs: int | None = None
    seed: int = 0
    device: str = "cpu"
    progress: bool = False
    latent: str = "prior"

    def __post_init__(self) -> None:
        if self.n_samples is not None and self.n_samples < 4:
            raise ValueError(
                f"n_samples={self.n_samples}: give at least 4 (precision/recall compares each image with its "
                "3 nearest neighbours)"
            )
        if self.latent not in LATENTS:
            raise ValueError(f"latent={self.latent!r}: use one of {', '.join(LATENTS)}")


LATENTS = ("prior", "fitted")


def _fraction(predicted: Tensor, labels: Tensor) -> float:
    """The share of ``predicted`` classes equal to ``labels``."""
    return float((predicted == labels.cpu()).float().mean())


def _predicted_classes(classifier: ReferenceClassifier, features: Tensor) -> Tensor:
    head = classifier.head.eval()
    device = next(head.parameters()).device
    return torch.cat([head(chunk.to(device)).argmax(1).cpu() for chunk in features.split(4096)])


def _check_latent(model: GenerativeModel, options: EvaluationOptions) -> None:
    """Refuse fitted codes for a model without an encoder: before the minutes of NLL, not after."""
    if options.latent == "fitted" and not model.has_encoder:
        raise VaeganError(f"{model.name} has no encoder: samples from fitted codes need the training images' codes")


def evaluate_model(
    model: GenerativeModel,
    data: DataSplits,
    classifier: ReferenceClassifier,
    *,
    options: EvaluationOptions | None = None,
    binarize: bool = False,
    retrain: str | None = None,
) -> Evaluation:
    """Every metric that ``model``'s capabilities allow, on ``data``'s test split.

    Args:
        model: any registered model, trained.
        data: its dataset's splits; real train images give the floors.
        classifier: the dataset's reference classifier (:func:`load_classifier`).
        options: sample counts, k, seed, device.
        binarize: the model was trained on binarised images (NLL on a fixed binarisation).
        retrain: the command that trains a better reference classifier, for a note (default: by dataset name).
    """
    options = options or EvaluationOptions()
    _check_latent(model, options)
    device = torch.device(options.device)
    model, classifier = model.to(device).eval(), classifier.to(device).eval()
    metrics: dict[str, Metric] = {}
    seconds: dict[str, float] = {}

    def timed(name: str, section) -> Any:
        started = time.perf_counter()
        result = section()
        seconds[name] = round(time.perf_counter() - started, 2)
        log.info("evaluate: %s done in %.1f s", name, seconds[name])
        return result

    if model.has_encoder:
        metrics.update(timed("reconstruction", lambda: reconstruction_section(model, data)))
    notes: list[str] = list(data.notes)  # how the splits were made (a run's split kept on changed data)
    section = lambda: likelihood_section(model, data, options, binarize=binarize, notes=notes)  # noqa: E731
    metrics.update(timed("likelihood", section))
    n = options.n_samples or len(data.test)
    if n > len(data.train):  # the floors compare as many real training images as samples: no more exist
        notes.append(
            f"samples: {n} asked, {len(data.train)} drawn, as many as the {len(data.train)} training images "
            "the floors compare them with"
        )
        n = len(data.train)
    order = torch.randperm(len(data.train), generator=torch.Generator().manual_seed(options.seed))
    real_train = data.train.subset(order[:n])
    density = None
    if options.latent == "fitted":
        density = timed("code_density", lambda: fit_code_density(model, data.train))
        notes.append(
            f"samples: codes from a Gaussian fitted to the {len(data.train)} training images' codes (latent "
            "fitted), not the prior N(0, I): the sample metrics score those draws; the nll is the prior's"
        )
    draw = lambda: draw_samples(model, n, class_labels=data.test.labels, seed=options.seed, density=density)  # noqa: E731
    samples = timed("sampling", draw)
    retrain = retrain or f"vaegan train-classifier --dataset {data.test.name} --force"
    if limit := classifier.metadata.get("limit"):  # train-classifier --limit: a quick check's classifier
        notes.append(
            f"reference classifier: trained on only {limit} images, so the figures measured in its features (FID, "
            f"KID, precision/recall, diversity, class accuracy) are a quick check's; retrain it with {retrain}"
        )
    # each image set through the classifier once: its accuracies come from the head over the same features
    test_features = timed("test_features", lambda: extract_features(classifier.features, data.test.images))
    predicted_test = _predicted_classes(classifier, test_features)
    test_accuracy = _fraction(predicted_test, data.test.labels)
    accuracy = None  # the class accuracy of the samples and its floor, where the classifier sees anything
    if sighted(test_accuracy, data, notes, retrain):
        sets = lambda: [extract_features(classifier.features, s.images) for s in (real_train, samples)]  # noqa: E731
        features = Features(test_features, *timed("features", sets))
        predicted_fake = _predicted_classes(classifier, features.fake)
        if model.conditional:  # the classes asked for, beside the real images' own
            fake_classes, real_classes = samples.labels, data.test.labels
            accuracy = (_fraction(predicted_fake, samples.labels), test_accuracy)
        else:  # what the classifier sees in each set alike: a perfect model then meets the floor
            fake_classes, real_classes = predicted_fake, predicted_test
        metrics.update(
            timed("sample_metrics", lambda: sample_section(features, fake_classes, real_classes, options.seed))
        )
        note = collapse_note(metrics)
        if note:  # the figures are kept: the note says what precision is worth beside them
            notes.append(note)
    metrics["sharpness"] = Metric(
        sharpness(samples.images), floor=sharpness(real_train.images), unit="Laplacian variance", better="closer"
    )
    if model.conditional:
        section = lambda: conditional_section(samples, real_train, data, options, notes, accuracy)  # noqa: E731
        metrics.update(timed("conditional", section))
    info = {"options": asdict(options), "n_samples": n, "n_test": len(data.test), "seconds": seconds, "notes": notes}
    return Evaluation(model.name, data.train.name, metrics, info)


def training_summary(run_dir: Path) -> dict[str, Any]:
    """Epochs trained and mean seconds per epoch, from ``RUN/metrics.csv`` (empty if absent)."""
    path = run_dir / "metrics.csv"
    if not path.is_file():
        return {}
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    seconds = [float(row["seconds"]) for row in rows if row.get("seconds")]
    return {"epochs": len(rows), "seconds_per_epoch": sum(seconds) / len(seconds) if seconds else None}


def evaluate_run(
    run_dir: str | Path,
    *,
    options: EvaluationOptions | None = None,
    checkpoint: str = "best",
    data_dir: str | Path | None = None,
) -> Evaluation:
    """Evaluate a trained run folder on its own dataset (as its config describes it).

    Raises:
        VaeganError: no such run, or the cached classifier does not fit the dataset's images.
    """
    from dataclasses import replace

    from vaegan.runs import load_run

    options = options or EvaluationOptions()
    run = load_run(run_dir, checkpoint=checkpoint, device=options.device)
    _check_latent(run.model, options)  # before a reference classifier is trained
    config = run.config
    if data_dir is not None:
        config = config.model_copy(update={"data": config.data.model_copy(update={"data_dir": str(data_dir)})})
        run = replace(run, config=config)
    data = run.load_data()  # says when its test subjects are not the ones the run held out
    dataset = config.data.dataset
    source = {"data_dir": config.data.data_dir, "mri": config.data.mri}  # MRI: one classifier per folder and options
    trained = not classifier_path(dataset, **source).is_file()  # first use: trained now, minutes on MNIST
    started = time.perf_counter()
    classifier = load_classifier(dataset, device=options.device, **source)
    trained_seconds = round(time.perf_counter() - started, 2) if trained else None
    retrain = retrain_command(dataset, run_dir, data_dir)
    if classifier.image_shape != data.image_shape or classifier.num_classes != data.num_classes:
        where = classifier_path(dataset, **source)
        raise VaeganError(
            f"{where} classifies {classifier.num_classes} classes of {classifier.image_shape} "
            f"images, but {run_dir} uses {data.num_classes} classes of {data.image_shape}; retrain it with {retrain}"
        )
    check_classifier_subjects(classifier, data.test, retrain)
    binarize = config.data.binarize
    result = evaluate_model(run.model, data, classifier, options=options, binarize=binarize, retrain=retrain)
    result.dataset = dataset  # the registry name the run was trained on
    if trained_seconds is not None:  # what this call cost, the classifier's training first
        result.info["seconds"] = {"reference_classifier": trained_seconds, **result.info["seconds"]}
    meta = classifier.metadata
    result.info = {
        "run": str(run_dir),
        "checkpoint": run.checkpoint.stem if run.checkpoint else checkpoint,  # the one read (best falls to last)
        "checkpoint_epoch": run.epoch,
        "train": training_summary(Path(run_dir)),
        "classifier": {key: meta.get(key) for key in ("path", "test_accuracy", "epochs", "limit")},
        **result.info,
    }
    return result

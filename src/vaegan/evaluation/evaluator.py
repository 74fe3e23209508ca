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

Example:
    >>> result = evaluate_run("outputs/mnist_vae", options=EvaluationOptions(k=500))  # doctest: +SKIP
    >>> result.metrics["fid"].format()  # doctest: +SKIP
    '4.21 (floor 0.38)'
"""

from __future__ import annotations

import csv
import logging
import math
import shlex
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from scipy.stats import binomtest
from torch import Tensor

from vaegan.data import DataSplits, ImageDataset
from vaegan.evaluation.classifier import ReferenceClassifier, default_epochs
from vaegan.evaluation.classifier_store import classifier_path, data_source, load_classifier, subject_names
from vaegan.evaluation.conditional import train_on_generated_accuracy
from vaegan.evaluation.feature_metrics import (
    extract_features,
    frechet_distance,
    kernel_distance,
    manifold_radii,
    precision_recall,
    within_class_diversity,
)
from vaegan.evaluation.likelihood import bits_per_dim, likelihood_metrics, likelihood_protocol
from vaegan.evaluation.reconstruction import reconstruction_metrics
from vaegan.evaluation.results import Evaluation, Metric
from vaegan.evaluation.sampling import Samples, draw_samples
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


@dataclass
class _Features:
    """Reference-classifier features of the three image sets that the sample metrics compare."""

    test: Tensor  # (N_test, F) real test images
    train: Tensor  # (n, F) real training images, as many as samples: the floor's "fake" set
    fake: Tensor  # (n, F) generated images


def _fraction(predicted: Tensor, labels: Tensor) -> float:
    """The share of ``predicted`` classes equal to ``labels``."""
    return float((predicted == labels.cpu()).float().mean())


def _predicted_classes(classifier: ReferenceClassifier, features: Tensor) -> Tensor:
    head = classifier.head.eval()
    device = next(head.parameters()).device
    return torch.cat([head(chunk.to(device)).argmax(1).cpu() for chunk in features.split(4096)])


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


def sample_section(features: _Features, fake_classes: Tensor, real_classes: Tensor, seed: int) -> dict[str, Metric]:
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
    if not above_chance(tstr[1], chance, n):  # "tstr 0.5 (floor 0.5)" would read as a perfect model
        notes.append(
            f"tstr: the classifier trained on {len(real_train)} real images for {epochs} epochs scores "
            f"{tstr[1]:.2f}, chance {chance:.2f}, no better over its {n} {units}: its floor is at chance, so "
            f"tstr_accuracy ({tstr[0]:.2f}) says nothing and is left out; raise --tstr-epochs, or --samples "
            f"(up to {len(data.train)})"
        )
        del metrics["tstr_accuracy"]
    return metrics


def chance_level(labels: Tensor) -> float:
    """The accuracy of always answering the most frequent class of ``labels`` (N,)."""
    return float(torch.bincount(labels.long()).max()) / len(labels)


def above_chance(accuracy: float, chance: float, n: int) -> bool:
    """Whether ``accuracy`` over ``n`` independent trials beats ``chance`` (one-sided binomial test, p < 0.05)."""
    return binomtest(round(accuracy * n), n, chance, alternative="greater").pvalue < 0.05


def trials(test: ImageDataset) -> tuple[int, str]:
    """The independent trials among the test images, and their name for a note: the subjects where the images
    have them, else the images.

    The 2-D slices of one subject (about 17 a subject) are not independent: a classifier right on 22 of 40
    subjects, on all their slices, is 0.55 on 680 images, above chance 0.5 over the images (p ~ 0.005) but not
    over the subjects (p ~ 0.3). The accuracy, the mean over the images (each subject's mean accuracy, weighted
    by its images), is then tested as if over the subjects.
    """
    if test.groups is None:
        return len(test), "test images"
    subjects = int(test.groups.unique().numel())
    if subjects == len(test):  # one image a subject (3-D volumes)
        return subjects, "test images"
    return subjects, f"test subjects (not {len(test)} images: a subject's slices or sessions are no independent trials)"


def retrain_command(dataset: str, run_dir: str | Path, data_dir: str | Path | None) -> str:
    """The command that (re)trains the reference classifier a run's evaluation loads.

    Where data options pick the classifier (MRI, phantoms: one per folder and ``data.mri``), ``--dataset``
    alone would train the default options' one: the run's own config names them.
    """
    if data_source(dataset, data_dir) is None:
        return f"vaegan train-classifier --dataset {dataset} --force"
    folder = f" --data-dir {shlex.quote(str(data_dir))}" if data_dir is not None else ""
    config = shlex.quote(str(Path(run_dir) / "config.yaml"))  # a run name may hold a space
    return f"vaegan train-classifier --config {config}{folder} --force"


def _sighted(accuracy: float, data: DataSplits, notes: list[str], retrain: str) -> bool:
    """Whether the reference classifier, of ``accuracy`` on the test images, tells their classes apart better
    than chance (over the test subjects where the images have them: :func:`trials`); a note if not.

    One that does not (the 3-D phantoms' after 5 epochs on 160 volumes: 0.50) has learned nothing its
    features could measure samples by: FID, KID, precision/recall and diversity in them are not evidence.
    """
    test = data.test
    chance = chance_level(test.labels)
    n, units = trials(test)
    if above_chance(accuracy, chance, n):
        return True
    notes.append(
        f"reference classifier: {accuracy:.2f} on the test images, chance {chance:.2f}, no better over its {n} "
        f"{units}: its features tell nothing apart, so FID, KID, precision/recall, diversity and class accuracy "
        f"are not scored; train a better one ({retrain} --epochs N)"
    )
    return False


def check_classifier_subjects(classifier: ReferenceClassifier, test: ImageDataset, retrain: str) -> None:
    """Refuse a reference classifier that learned from one of the run's test subjects: its cache is keyed by
    the data folder and options, and subjects added to a folder since redraw the test split. A run tested on
    the very subjects the classifier was tested on shares its split (given train/ and test/ folders may
    name one subject in both: that is the data's, and warned about as it is read)."""
    tested = subject_names(test)
    if classifier.metadata.get("test_subjects") == tested:
        return
    shared = sorted(set(classifier.metadata.get("train_subjects") or []) & set(tested))
    if shared:
        named = ", ".join(shared[:5]) + (" ..." if len(shared) > 5 else "")
        raise VaeganError(
            f"{classifier.metadata.get('path', 'the reference classifier')} was trained on {len(shared)} of this "
            f"run's test subjects ({named}): the data folder has changed since it was trained, and its scores of "
            f"them would flatter; retrain it with {retrain}"
        )


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
    # each image set through the classifier once: its accuracies come from the head over the same features
    test_features = timed("test_features", lambda: extract_features(classifier.features, data.test.images))
    predicted_test = _predicted_classes(classifier, test_features)
    test_accuracy = _fraction(predicted_test, data.test.labels)
    sighted = _sighted(test_accuracy, data, notes, retrain)
    accuracy = None  # the class accuracy of the samples and its floor, where the classifier sees anything
    if sighted:
        sets = lambda: [extract_features(classifier.features, s.images) for s in (real_train, samples)]  # noqa: E731
        features = _Features(test_features, *timed("features", sets))
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

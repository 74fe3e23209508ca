"""Whether a classifier's accuracy says anything: chance level, a binomial test over independent trials, and
the checks on the reference classifier that evaluation loads.

A figure measured by a classifier no better than chance is left out with a note (:func:`sighted`), and the
trials it is tested over are the test subjects where the images have them: one subject's MRI slices or
sessions are no independent trials (:func:`trials`). A cached classifier that learned from one of the run's
test subjects is refused (:func:`check_classifier_subjects`); :func:`retrain_command` is what each note and
error tells the user to run.

Example:
    >>> import torch
    >>> chance_level(torch.tensor([0, 0, 0, 1]))
    0.75
    >>> print(above_chance(0.9, 0.5, n=100), above_chance(0.55, 0.5, n=20))  # 0.55 of 20 trials: p ~ 0.41
    True False
"""

from __future__ import annotations

import shlex
from pathlib import Path

import torch
from scipy.stats import binomtest
from torch import Tensor

from vaegan.data import DataSplits, ImageDataset
from vaegan.evaluation.classifier import ReferenceClassifier
from vaegan.evaluation.classifier_store import data_source, subject_names
from vaegan.foundation.errors import VaeganError

__all__ = [
    "above_chance",
    "chance_level",
    "check_classifier_subjects",
    "retrain_command",
    "sighted",
    "too_few",
    "trials",
]


def chance_level(labels: Tensor) -> float:
    """The accuracy of always answering the most frequent class of ``labels`` (N,)."""
    return float(torch.bincount(labels.long()).max()) / len(labels)


def above_chance(accuracy: float, chance: float, n: int) -> bool:
    """Whether ``accuracy`` over ``n`` independent trials beats ``chance`` (one-sided binomial test, p < 0.05)."""
    return binomtest(round(accuracy * n), n, chance, alternative="greater").pvalue < 0.05


def too_few(chance: float, n: int, units: str) -> str | None:
    """Why ``n`` trials cannot show any classifier above ``chance`` (even all of them right), or None.

    With 4 test subjects at chance 0.5, 4 of 4 right is p = 0.0625: a classifier's accuracy on them says
    nothing whatever it is, and retraining it cannot help; more test subjects can.
    """
    if above_chance(1.0, chance, n):
        return None
    if chance >= 1.0:
        return f"the {n} {units} are all of one class, where no classifier can beat chance"
    return (
        f"{n} {units} are too few to tell any classifier from chance {chance:.2f} (even all of them right is not "
        "p < 0.05); hold out more test subjects (data.mri.test_size, or more subjects)"
    )


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


def sighted(accuracy: float, data: DataSplits, notes: list[str], retrain: str) -> bool:
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
    if few := too_few(chance, n, units):
        notes.append(
            f"reference classifier: {accuracy:.2f} on the test images, but {few}: FID, KID, precision/recall, "
            "diversity and class accuracy are not scored"
        )
        return False
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

"""The reference classifier: learns, caches itself atomically, reloads weights-only, reaches MNIST accuracy."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
import torch

from tests.conftest import blob_images
from tests.evaluation.conftest import blob_loader
from vaegan.evaluation import ReferenceClassifier, classifier_accuracy, load_classifier, train_classifier
from vaegan.evaluation.classifier import default_epochs, fit_classifier
from vaegan.evaluation.classifier_store import classifier_path, read_classifier
from vaegan.foundation.errors import TrainingError


@pytest.mark.parametrize("shape", [(1, 28, 28), (2, 16, 16), (1, 8, 16, 12)])
def test_shapes_of_logits_and_features(shape):
    clf = ReferenceClassifier(shape, 4).eval()
    x = torch.rand(3, *shape)
    assert clf(x).shape == (3, 4)
    assert clf.features(x).shape == (3, clf.num_features)


def test_learns_a_synthetic_task_and_scores_it():
    train, test = blob_images(150, (1, 16, 16), 3, seed=0), blob_images(60, (1, 16, 16), 3, seed=5)
    untrained = ReferenceClassifier((1, 16, 16), 3)
    clf = fit_classifier(train, epochs=3, batch_size=16)
    assert classifier_accuracy(clf, test.images, test.labels) >= 0.95
    # an untrained one is at chance here; wrong labels score zero
    assert classifier_accuracy(untrained, test.images, test.labels) < 0.8
    assert classifier_accuracy(clf, test.images, (test.labels + 1) % 3) <= 0.05
    assert not clf.training  # left in eval mode


def test_train_caches_atomically_and_load_round_trips(cache, blobs, monkeypatch):
    path = train_classifier(blobs, epochs=2, device="cpu")
    assert path == cache / "classifiers" / f"{blobs}.pt" == classifier_path(blobs)
    assert not list(path.parent.glob("*.tmp"))  # no half-written leftovers
    payload = torch.load(path, weights_only=True)  # plain data and tensors only
    assert payload["dataset"] == blobs and 0.0 <= payload["test_accuracy"] <= 1.0
    clf = load_classifier(blobs, train_if_missing=False)
    assert clf.metadata["test_accuracy"] == payload["test_accuracy"]
    # the loaded network is the trained one: it scores the test split exactly as recorded at training time
    test = blob_loader()[1]
    assert classifier_accuracy(clf, test.images, test.labels) == payload["test_accuracy"]
    assert classifier_accuracy(clf, test.images, (test.labels + 1) % 3) < payload["test_accuracy"]
    # a cached classifier is reused unless forced
    mtime = path.stat().st_mtime_ns
    assert train_classifier(blobs, epochs=2) == path and path.stat().st_mtime_ns == mtime
    train_classifier(blobs, epochs=1, force=True)
    assert read_classifier(path).metadata["epochs"] == 1

    def full_disk(obj, f, *args, **kwargs):  # half a file, then the disk is full
        Path(f).write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device", str(f))

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(OSError):
        train_classifier(blobs, epochs=2, force=True)
    assert read_classifier(path).metadata["epochs"] == 1  # the cached one is whole and unchanged
    assert not list(path.parent.glob("*.tmp"))


def test_missing_classifier_is_trained_on_first_use_or_named_in_the_error(cache, blobs):
    with pytest.raises(TrainingError, match="vaegan train-classifier --dataset eval-blobs"):
        load_classifier(blobs, train_if_missing=False)
    clf = load_classifier(blobs)
    assert classifier_path(blobs).is_file() and clf.num_classes == 3


def test_a_damaged_cache_file_is_an_error_naming_it(cache, blobs):
    path = classifier_path(blobs)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(TrainingError, match=str(path)):
        load_classifier(blobs)


def test_mnist_one_epoch_on_5000_images_is_already_accurate(mnist_dir, cache):
    path = train_classifier("mnist", data_dir=mnist_dir, epochs=1, limit=5000, device="cpu")
    meta = read_classifier(path).metadata
    assert meta["limit"] == 5000
    assert meta["test_accuracy"] >= 0.85  # 40 steps, on the first 5000 test images (5 full epochs: 0.992)


def _slices(root, seed: int = 0):
    """An image folder: 6 subjects per class, 16x16 PNGs whose bright half tells the class."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    for label, cls in enumerate(("AD", "CN")):
        for subject in range(6):
            pixels = rng.integers(0, 40, (16, 16), dtype=np.uint8)
            pixels[:, label * 8 : label * 8 + 8] += 200
            path = root / cls / f"sub-{cls}{subject}_slice-1.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(path)
    return root


def test_mri_classifiers_are_keyed_by_data_folder_and_options(tmp_path, cache):
    from vaegan.data.config import MRIConfig

    mri = MRIConfig(size=16, progress=False, test_size=0.34)
    first, second = _slices(tmp_path / "a"), _slices(tmp_path / "b", seed=1)
    path_a = classifier_path("image-folder", data_dir=first, mri=mri)
    assert path_a != classifier_path("image-folder", data_dir=second, mri=mri)
    assert path_a != classifier_path("image-folder", data_dir=first, mri=mri.model_copy(update={"size": 12}))
    assert path_a == classifier_path("image-folder", data_dir=first, mri=mri.model_copy(update={"progress": True}))
    assert classifier_path("mnist", data_dir=first, mri=mri) == classifier_path("mnist")  # verified files: one key
    a = train_classifier("image-folder", data_dir=first, mri=mri, epochs=1)
    b = train_classifier("image-folder", data_dir=second, mri=mri, epochs=1)
    assert a == path_a and b != a and a.is_file() and b.is_file()
    meta = read_classifier(a).metadata
    assert meta["data_dir"] == str(first.resolve()) and meta["mri"]["size"] == 16
    assert read_classifier(a).image_shape == (1, 16, 16)  # trained with the run's options, not the defaults (64)
    clf = load_classifier("image-folder", data_dir=second, mri=mri, train_if_missing=False)
    assert clf.metadata["path"] == str(b)


def test_cli_trains_the_classifier_a_run_config_describes(tmp_path, cache, capsys):
    from tests.conftest import REPO
    from vaegan.cli import main
    from vaegan.config import load_config

    folder = _slices(tmp_path / "slices")
    sets = ["data.dataset=image-folder", f"data.data_dir={folder}", "data.mri.size=16", "data.mri.test_size=0.34"]
    config = REPO / "configs" / "ad_cvae_2d.yaml"
    assert main(["train-classifier", "--config", str(config), *[f"--set={s}" for s in sets], "--epochs", "1"]) == 0
    data = load_config(config, sets).data
    path = classifier_path("image-folder", data_dir=data.data_dir, mri=data.mri)
    assert path.is_file() and str(path) in capsys.readouterr().out
    assert main(["train-classifier"]) == 2 and "--dataset NAME or --config" in capsys.readouterr().err


def test_small_sets_get_enough_steps_by_default(cache, blobs):
    # 5 epochs of the 64^3 phantoms' 160 volumes were 50 steps, and the classifier stayed at chance
    assert default_epochs(60000) == 5  # MNIST: 469 steps an epoch already
    assert default_epochs(160) == 15  # 10 steps an epoch
    assert default_epochs(2720) == 7  # the 2-D phantoms' slices: 22 steps an epoch
    n = len(blob_loader()[0])
    path = train_classifier(blobs, device="cpu")
    assert read_classifier(path).metadata["epochs"] == default_epochs(n) > 5


def test_the_cached_phantoms_classifier_does_not_depend_on_the_data_root(monkeypatch, cache):
    # cached phantoms are made from their options, not read from $VAEGAN_DATA_DIR: a shell with it set
    # and one without retrained the 64^3 classifier (9 minutes) under a second name
    from vaegan.data.config import MRIConfig

    mri = MRIConfig(spatial_dims=3, size=64)
    monkeypatch.delenv("VAEGAN_DATA_DIR", raising=False)
    without = classifier_path("phantoms", mri=mri)
    monkeypatch.setenv("VAEGAN_DATA_DIR", "/somewhere/else")
    assert classifier_path("phantoms", mri=mri) == without
    assert classifier_path("mri", mri=mri) != classifier_path("mri", mri=mri, data_dir="/a/bids/folder")


def test_a_classifier_whose_loss_turns_nan_is_an_error_and_the_cached_one_is_kept(cache, blobs, monkeypatch):
    """--force on a diverging run saved NaN weights over the good classifier, and every evaluation used it."""
    import torch.nn.functional as F

    path = train_classifier(blobs, epochs=1)
    before = path.read_bytes()
    cross_entropy = F.cross_entropy
    monkeypatch.setattr(F, "cross_entropy", lambda *args, **kwargs: cross_entropy(*args, **kwargs) * float("nan"))
    with pytest.raises(TrainingError, match="not finite"):
        train_classifier(blobs, epochs=1, force=True)
    assert path.read_bytes() == before


def test_a_classifier_trained_on_a_runs_test_subjects_is_refused(cache, monkeypatch):
    """Its key is the folder and options: subjects added to the folder redrew the test split, and the cached
    classifier, trained on some of the new test subjects, scored the run's samples and floors silently."""
    from tests.evaluation.conftest import SHAPE
    from vaegan.data import DataSplits, ImageDataset
    from vaegan.evaluation import classifier_store
    from vaegan.evaluation.chance import check_classifier_subjects
    from vaegan.foundation.errors import VaeganError

    def subjects(n, names, seed):
        blobs = blob_images(n, SHAPE, 3, seed=seed)
        groups = torch.arange(n) % len(names)
        return ImageDataset(blobs.images, blobs.labels, blobs.class_names, "phantoms", groups, names)

    train, test = subjects(60, [f"sub-{i}" for i in range(10)], 0), subjects(30, ["sub-10", "sub-11"], 1)
    monkeypatch.setattr(classifier_store, "load_dataset", lambda *a, **k: DataSplits(train, test.subset([]), test))
    classifier = read_classifier(train_classifier("phantoms", epochs=1))
    assert classifier.metadata["train_subjects"] == [f"sub-{i}" for i in range(10)]
    check_classifier_subjects(classifier, test, retrain="vaegan train-classifier --force")  # apart: nothing said
    shared = subjects(30, ["sub-3", "sub-12"], 2)
    with pytest.raises(VaeganError, match=r"1 of this run's test subjects \(sub-3\).*train-classifier --force"):
        check_classifier_subjects(classifier, shared, retrain="vaegan train-classifier --force")
    # given train/ and test/ folders may name a subject in both (CN/001 in each): the split the classifier
    # was tested on is the run's, so nothing changed since, and retraining would record the same names
    given = subjects(30, ["sub-10", "sub-11"], 3)
    classifier.metadata["train_subjects"] += ["sub-10"]
    check_classifier_subjects(classifier, given, retrain="vaegan train-classifier --force")


def test_the_retrain_command_can_be_pasted_for_a_run_name_with_a_space():
    import shlex

    from vaegan.evaluation.chance import retrain_command

    words = shlex.split(retrain_command("phantoms", "outputs/my vae", "/data/my scans"))
    assert words[words.index("--config") + 1] == "outputs/my vae/config.yaml"
    assert words[words.index("--data-dir") + 1] == "/data/my scans"

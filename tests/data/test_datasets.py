"""The dataset registry, splits, the lookup order of MNIST-family files, and the real MNIST."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import torch

from vaegan.data import DataLocation, ImageDataset, describe_datasets, idx, list_datasets, load_dataset, mnist
from vaegan.data.idx import read_idx
from vaegan.foundation.errors import ConfigError, DataError

from .conftest import Toy, idx_bytes, write_idx


def _dataset(n: int = 10, shape: tuple[int, ...] = (1, 4, 4)) -> ImageDataset:
    images = torch.arange(n, dtype=torch.float32).view(n, *[1] * len(shape)).expand(n, *shape).clone()
    return ImageDataset(images, torch.arange(n) % 3, ["x", "y", "z"], "fake")


def test_image_dataset_basics() -> None:
    ds = _dataset()
    assert len(ds) == 10 and ds.image_shape == (1, 4, 4) and ds.num_classes == 3
    assert repr(ds) == "ImageDataset(name='fake', n=10, image_shape=(1, 4, 4), num_classes=3)"
    mask = torch.isin(torch.arange(10), torch.tensor([1, 3]))
    for indices in ([1, 3], torch.tensor([1, 3]), np.array([1, 3]), mask, slice(1, 4, 2)):
        sub = ds.subset(indices)
        assert sub.labels.tolist() == [1, 0] and sub.images[:, 0, 0, 0].tolist() == [1.0, 3.0]
        assert sub.class_names is ds.class_names and sub.name == "fake"
    assert _dataset(shape=(1, 3, 4, 5)).image_shape == (1, 3, 4, 5)  # 3-D volumes
    with pytest.raises(ValueError, match="one per image"):
        ImageDataset(torch.zeros(3, 1, 2, 2), torch.zeros(2, dtype=torch.long), ["a"], "bad")
    with pytest.raises(ValueError, match="got shape"):
        ImageDataset(torch.zeros(3, 2, 2), torch.zeros(3, dtype=torch.long), ["a"], "bad")


def test_builtin_names_and_unknown_name() -> None:
    assert {"mnist", "fashion-mnist"} <= set(list_datasets())
    with pytest.raises(DataError, match=r"unknown dataset 'mnits'; known datasets: .*fashion-mnist.*mnist"):
        load_dataset("mnits")


def test_split_sizes_determinism_and_disjointness(toy: Toy, tmp_path: Path) -> None:
    data_dir = toy.write(tmp_path / "d" / "toy")
    splits = load_dataset("toy", data_dir=data_dir, val_size=8, seed=3)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (32, 8, 12)
    assert splits.image_shape == (1, 6, 6) and splits.num_classes == 4 and splits.class_names == ["a", "b", "c", "d"]
    x = splits.train.images
    assert x.dtype == torch.float32 and splits.train.labels.dtype == torch.int64 and 0 <= x.min() <= x.max() <= 1
    expected_test = torch.from_numpy(toy.arrays["test-images"]).unsqueeze(1).float() / 255
    assert torch.equal(splits.test.images, expected_test)  # the test set is kept whole and in order

    # train and val partition the training file: disjoint rows, together all of it
    full = torch.from_numpy(toy.arrays["train-images"]).float().div(255).flatten(1)
    rows = {tuple(r.tolist()) for r in full}
    train_rows = {tuple(r.tolist()) for r in splits.train.images.flatten(1)}
    val_rows = {tuple(r.tolist()) for r in splits.val.images.flatten(1)}
    assert not train_rows & val_rows and train_rows | val_rows == rows

    again = load_dataset("Toy", data_dir=data_dir, val_size=8, seed=3)  # names are case-insensitive
    assert torch.equal(again.val.images, splits.val.images)
    other = load_dataset("toy", data_dir=data_dir, val_size=8, seed=4)
    assert not torch.equal(other.val.images, splits.val.images)


def test_train_and_val_is_every_image_outside_the_test_split(toy: Toy, tmp_path: Path) -> None:
    splits = load_dataset("toy", data_dir=toy.write(tmp_path / "d" / "toy"), val_size=8, seed=3)
    both = splits.train_and_val()
    assert len(both) == len(splits.train) + len(splits.val) == 40
    assert torch.equal(both.images[32:], splits.val.images) and torch.equal(both.labels[:32], splits.train.labels)
    assert both.class_names == splits.train.class_names and both.groups is None


@pytest.mark.parametrize(("val_size", "n_val"), [(0, 0), (1, 1), (0.25, 10), (39, 39)])
def test_val_size_count_or_fraction(toy: Toy, tmp_path: Path, val_size: float, n_val: int) -> None:
    splits = load_dataset("toy", data_dir=toy.write(tmp_path / "toy"), val_size=val_size)
    assert (len(splits.train), len(splits.val)) == (40 - n_val, n_val)


@pytest.mark.parametrize("val_size", [40, -1, 0.0, 1.0, 1.5, True, "5"])
def test_impossible_val_size(toy: Toy, tmp_path: Path, val_size: object) -> None:
    with pytest.raises(ConfigError, match=f"val_size={val_size!r}"):
        load_dataset("toy", data_dir=toy.write(tmp_path / "toy"), val_size=val_size)


def test_limit_keeps_first_images_and_scales_a_val_count(toy: Toy, tmp_path: Path) -> None:
    data_dir = toy.write(tmp_path / "toy")
    splits = load_dataset("toy", data_dir=data_dir, limit=20, val_size=10)  # 10 of 40 -> 5 of 20
    assert (len(splits.train), len(splits.val), len(splits.test)) == (15, 5, 12)
    used = torch.cat([splits.train.images, splits.val.images]).flatten(1)
    first20 = torch.from_numpy(toy.arrays["train-images"][:20]).float().div(255).flatten(1)
    assert {tuple(r.tolist()) for r in used} == {tuple(r.tolist()) for r in first20}
    assert len(load_dataset("toy", data_dir=data_dir, limit=5, val_size=0.2).test) == 5
    with pytest.raises(ConfigError, match="limit=0"):
        load_dataset("toy", data_dir=data_dir, limit=0)


def test_lookup_order_explicit_then_env_then_cache_then_system(
    toy: Toy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    explicit, env, cache = tmp_path / "explicit", tmp_path / "env", tmp_path / "home" / ".cache" / "vaegan"
    for root in (explicit, env, cache, mnist.SYSTEM_DATA_ROOT):
        toy.write(root / "toy")
    monkeypatch.setenv("VAEGAN_DATA_DIR", str(env))
    assert mnist.locate(toy.spec, explicit).folder == explicit / "toy"
    assert mnist.locate(toy.spec, tmp_path / "empty").folder == env / "toy"
    monkeypatch.delenv("VAEGAN_DATA_DIR")
    assert mnist.locate(toy.spec).folder == cache / "toy"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))  # replaces ~/.cache
    assert mnist.locate(toy.spec).folder == mnist.SYSTEM_DATA_ROOT / "toy"
    toy.write(tmp_path / "xdg" / "vaegan" / "toy")
    assert mnist.locate(toy.spec).folder == tmp_path / "xdg" / "vaegan" / "toy"


def test_explicit_dir_may_hold_the_files_directly_raw_or_gzipped(toy: Toy, tmp_path: Path) -> None:
    toy.write(tmp_path / "flat", gz=False, only=("train-images", "test-labels"))
    toy.write(tmp_path / "flat", gz=True, only=("train-labels", "test-images"))
    assert mnist.locate(toy.spec, tmp_path / "flat").folder == tmp_path / "flat"
    assert len(load_dataset("toy", data_dir=tmp_path / "flat", val_size=0).train) == 40


def test_offline_and_missing_lists_files_folders_and_fix(toy: Toy, tmp_path: Path, no_network: list[str]) -> None:
    toy.write(tmp_path / "given" / "toy", only=("train-images",))
    with pytest.raises(DataError) as info:
        load_dataset("toy", data_dir=tmp_path / "given")
    message = str(info.value)
    assert no_network == ["https://mirror.invalid/toy/train-images.gz"]
    assert "Needed files: train-images, train-labels, test-images, test-labels" in message
    cache = tmp_path / "home" / ".cache" / "vaegan" / "toy"
    searched = [tmp_path / "given" / "toy", tmp_path / "given", cache, tmp_path / "system" / "toy"]
    assert "Folders searched, in order:\n" + "".join(f"  {p}\n" for p in searched) in message
    assert "network disabled in tests" in message and "VAEGAN_DATA_DIR=DIR" in message and str(cache) in message
    assert f"{tmp_path / 'given' / 'toy'} holds only train-images" in message
    with pytest.raises(DataError, match="disabled"):
        mnist.load(toy.spec, download=False)


def test_download_fills_the_cache(toy: Toy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def serve(url: str, dest: Path, timeout: float, max_bytes: int | None = None) -> None:
        dest.write_bytes(gzip.compress(idx_bytes(toy.arrays[url.rsplit("/", 1)[1].removesuffix(".gz")])))

    monkeypatch.setattr(idx, "_fetch", serve)
    train, test = mnist.load(toy.spec)
    cache = tmp_path / "home" / ".cache" / "vaegan" / "toy"
    assert sorted(p.name for p in cache.iterdir()) == sorted(f"{f.name}.gz" for f in toy.spec.files)
    assert (len(train), len(test)) == (40, 12) and mnist.locate(toy.spec).folder == cache


def test_images_labels_count_mismatch_names_both_files(tmp_path: Path) -> None:
    family = Toy({"train-labels": np.zeros(39, dtype=np.uint8)})
    family.write(tmp_path / "toy")
    with pytest.raises(DataError, match=r"train-images.gz holds 40 images but .*train-labels.gz holds 39 labels"):
        mnist.load(family.spec, tmp_path)


def test_damaged_file_is_reported_not_skipped(toy: Toy, tmp_path: Path) -> None:
    folder = toy.write(tmp_path / "toy")
    write_idx(folder / "test-labels.gz", np.full(12, 3, dtype=np.uint8), gz=True)  # another version
    with pytest.raises(DataError, match=r"test-labels.gz: checksum mismatch"):
        load_dataset("toy", data_dir=tmp_path)
    write_idx(folder / "test-labels.gz", np.full(12, 9, dtype=np.uint8), gz=True)
    with pytest.raises(DataError, match=r"test-labels.gz: labels range 9..9, expected 0..3"):
        mnist.load(toy.spec, tmp_path, verify=False)


def test_describe_datasets(toy: Toy, tmp_path: Path) -> None:
    rows = {row["name"]: row for row in describe_datasets(tmp_path / "nothing")}
    assert rows["toy"]["status"] == "missing" and rows["toy"]["path"] is None
    assert rows["toy"]["missing"] == [f.name for f in toy.spec.files]
    assert rows["toy"]["searched"][:2] == [str(tmp_path / "nothing" / "toy"), str(tmp_path / "nothing")]
    toy.write(tmp_path / "there" / "toy")
    row = next(r for r in describe_datasets(tmp_path / "there") if r["name"] == "toy")
    assert (row["status"], row["path"], row["missing"]) == ("found", str(tmp_path / "there" / "toy"), [])


def test_registry_is_generic(monkeypatch: pytest.MonkeyPatch) -> None:
    from vaegan.data import register_dataset, registry

    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    seen = []

    def volumes(data_dir: Path | None) -> tuple[ImageDataset, ImageDataset]:
        seen.append(data_dir)
        return _dataset(20, (1, 3, 4, 5)), _dataset(6, (1, 3, 4, 5))

    register_dataset("Brain_Volumes", volumes)
    with pytest.raises(ValueError, match="already registered"):
        register_dataset("brain-volumes", volumes)
    splits = load_dataset("brain-volumes", data_dir="~/x", val_size=0.25)
    assert seen == [Path.home() / "x"] and splits.image_shape == (1, 3, 4, 5) and len(splits.val) == 5
    row = next(r for r in describe_datasets() if r["name"] == "brain-volumes")
    assert row["status"] == "found" and row["path"] is None
    register_dataset("brain-volumes", volumes, locate=lambda d: DataLocation(None, ["a.nii"]), replace=True)
    assert next(r for r in describe_datasets() if r["name"] == "brain-volumes")["status"] == "missing"


def test_real_mnist(mnist_dir: Path) -> None:
    where = mnist.locate(mnist.MNIST)
    assert where.folder is not None, f"MNIST not found under VAEGAN_DATA_DIR: {where}"
    for file in mnist.MNIST.files:  # md5 of the uncompressed content, as published
        read_idx(mnist._find_file(where.folder, file), expected_md5=file.md5)
    splits = load_dataset("mnist")
    assert splits.train.images.shape == (55000, 1, 28, 28) and splits.val.images.shape == (5000, 1, 28, 28)
    assert splits.test.images.shape == (10000, 1, 28, 28) and splits.class_names == [str(d) for d in range(10)]
    for part in (splits.train, splits.val, splits.test):
        assert part.images.dtype == torch.float32 and part.labels.dtype == torch.int64
        assert part.images.min() == 0 and part.images.max() == 1
        share = torch.bincount(part.labels, minlength=10).float() / len(part)
        assert share.min() > 0.08 and share.max() < 0.13  # MNIST: 9.0 % (fives) to 11.4 % (ones)
    assert splits.test.labels[:5].tolist() == [7, 2, 1, 0, 4]  # the well-known first test digits


def test_real_fashion_mnist_from_debian(fashion_mnist_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VAEGAN_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", "/nonexistent")
    train, test = mnist.load(mnist.FASHION_MNIST)  # verifies the md5s of the uncompressed files
    assert train.images.shape == (60000, 1, 28, 28) and test.images.shape == (10000, 1, 28, 28)
    assert torch.bincount(test.labels).tolist() == [1000] * 10 and train.class_names[9] == "Ankle boot"


@pytest.mark.parametrize("test_size", [0.75, 0.9, 0.99])
def test_a_split_keeps_a_training_subject_of_every_class(test_size: float) -> None:
    """round(0.75 * 2) is 2: a class of two subjects went whole into the test set, and the model never saw it."""
    from vaegan.data.datasets import split_subjects

    subjects = ["a", "b", "c", "d", "e"]
    labels = torch.tensor([0, 0, 1, 1, 1])
    test = split_subjects(subjects, labels, test_size)
    for label in (0, 1):
        assert (~test[labels == label]).any(), (test_size, test.tolist())
        assert test[labels == label].any()


def test_a_class_of_one_subject_is_warned_to_be_missing_from_the_test_set(caplog) -> None:
    """10 CN and 1 AD: the AD subject trains, and the test set silently held no AD at all."""
    import logging

    from vaegan.data.datasets import split_subjects

    subjects = [f"cn{i}" for i in range(10)] + ["ad0", "ad0"]
    labels = torch.tensor([0] * 10 + [1, 1])
    with caplog.at_level(logging.WARNING):
        test = split_subjects(subjects, labels, 0.2)
    assert not test[labels == 1].any()
    assert "class 1" in caplog.text and "one subject" in caplog.text


def test_a_cohort_with_one_training_subject_a_class_has_no_validation_subject_and_says_so() -> None:
    """4 phantoms: 1 CN and 1 AD left to train on, no subject could go to validation, and the run started
    with an empty validation set."""
    from vaegan.data.registry import _group_val_mask
    from vaegan.foundation.errors import ConfigError

    dataset = ImageDataset(
        torch.rand(4, 1, 4, 4),
        torch.tensor([0, 0, 1, 1]),
        ["CN", "AD"],
        "tiny",
        torch.tensor([0, 0, 1, 1]),
        ["s1", "s2"],
    )
    with pytest.raises(ConfigError, match="validation"):
        _group_val_mask(dataset, 1, 0)

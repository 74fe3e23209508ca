"""``--labels`` by class name for datasets whose classes have names (Fashion-MNIST), and the names in files."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.conftest import blob_images
from vaegan.cli import main, samples
from vaegan.data import register_dataset, registry
from vaegan.data.mnist import FASHION_MNIST
from vaegan.foundation.errors import VaeganError
from vaegan.runs import load_run, parse_labels
from vaegan.visualization.grids import PAD_VALUE


@pytest.fixture
def fashion_run(tmp_path, monkeypatch):
    """A tiny cVAE trained through the CLI on ten classes of blobs standing in for Fashion-MNIST."""
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    register_dataset(
        "fashion-mnist",
        lambda data_dir=None, **_: (blob_images(100, (1, 16, 16), 10), blob_images(20, (1, 16, 16), 10, seed=5)),
        replace=True,
    )
    config = {
        "data": {"dataset": "fashion-mnist", "val_size": 20},
        "model": {"name": "cvae", "latent_dim": 3, "network": {"channels": [8, 16], "hidden": [32]}},
        "train": {"epochs": 1, "batch_size": 16, "grid_size": 10, "progress": False, "tensorboard": False},
    }
    path = tmp_path / "fashion.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["train", "--config", str(path), "--out", str(tmp_path / "run")]) == 0
    return tmp_path / "run"


def test_a_fashion_mnist_run_takes_its_class_names_as_labels(fashion_run, tmp_path):
    """Run.class_names held names for MRI alone: --labels Sandal failed with 'expected numbers like 0-9',
    and the NIfTI sidecar named the classes '0' to '9'."""
    names = load_run(fashion_run).class_names
    assert names == list(FASHION_MNIST.class_names)
    assert parse_labels("Sandal", 10, names) == [5]
    assert parse_labels("sandal,Ankle boot", 10, names) == [5, 9]
    out = tmp_path / "s.nii.gz"
    assert main(["sample", str(fashion_run), "--n", "2", "--labels", "Sandal", "--out", str(out)]) == 0
    sidecar = json.loads((tmp_path / "s.json").read_text())
    assert sidecar["labels"] == [5, 5] and sidecar["class_names"] == ["Sandal", "Sandal"]


def test_a_class_outside_the_run_is_named_as_given():
    """--labels 12 on MNIST said 'classes must lie in 0-9 (0=0, 1=1, ..., 9=9), got [12, 12]'."""
    digits = [str(d) for d in range(10)]
    with pytest.raises(VaeganError) as error:
        parse_labels("12", 10, digits)
    assert str(error.value).endswith("classes must lie in 0-9, got 12")  # names equal to the numbers: not listed
    with pytest.raises(VaeganError, match=r"classes must lie in 0-9, got 12, 3-15$"):
        parse_labels("1,12,3-15,12", 10, digits)  # each bad part once, in the order given
    with pytest.raises(VaeganError, match=r"0-9 \(0=T-shirt/top, 1=Trouser, .*9=Ankle boot\), got 12$"):
        parse_labels("12", 10, list(FASHION_MNIST.class_names))  # names that differ from the numbers: listed


def test_a_conditional_png_has_one_row_per_class(fashion_run, tmp_path, monkeypatch, capsys):
    """--n 20 --labels 0-9 laid the PNG out 5 wide, so the classes' pairs wrapped across rows, unlabelled."""
    drawn = {}

    def save_grid(images, out, columns, row_labels=None):
        drawn.update(images=images, columns=columns, row_labels=row_labels)

    monkeypatch.setattr(samples, "save_grid", save_grid)
    assert main(["sample", str(fashion_run), "--n", "20", "--labels", "0-9", "--out", str(tmp_path / "s.png")]) == 0
    assert drawn["columns"] == 2 and len(drawn["images"]) == 20  # 10 rows of 2
    assert "one row per class, top to bottom: T-shirt/top, Trouser," in capsys.readouterr().out
    # 15 over 10 classes: 2 of classes 0, 2, 4, 6, 8, 1 of the others; their rows end in a grey tile
    assert main(["sample", str(fashion_run), "--n", "15", "--out", str(tmp_path / "t.png")]) == 0
    assert drawn["columns"] == 2 and len(drawn["images"]) == 20
    filler = [i for i, image in enumerate(drawn["images"]) if bool((image == PAD_VALUE).all())]
    assert filler == [3, 7, 11, 15, 19]


def test_a_conditional_pngs_rows_are_labelled_with_their_classes_block_after_block(fashion_run, tmp_path, monkeypatch):
    """The class of each row was printed alone: a folded grid's lower block read as the other classes."""
    drawn = {}
    record = lambda images, out, columns, row_labels=None: drawn.update(rows=row_labels)  # noqa: E731
    monkeypatch.setattr(samples, "save_grid", record)
    assert main(["sample", str(fashion_run), "--n", "40", "--labels", "0,1", "--out", str(tmp_path / "s.png")]) == 0
    rows = drawn["rows"]
    assert rows and set(rows) == {"T-shirt/top", "Trouser"} and rows[:2] == ["T-shirt/top", "Trouser"]
    assert rows == rows[:2] * (len(rows) // 2)  # a folded grid: the same classes in each block

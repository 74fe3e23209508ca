"""ConditionalVAE-specific behaviour; the shared contract suite covers the rest."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

from tests.conftest import REPO, tiny_splits
from tests.models.test_contract import batch, make
from vaegan.config import load_config
from vaegan.experiment import train_from_config
from vaegan.models import VAE, Batch, ConditionalVAE, FixedInputs

K = 3  # classes of the tiny blob data


def fixed_inputs(model, n: int = 8) -> FixedInputs:
    x = batch(model, n)
    return FixedInputs(x.x, x.y, torch.randn(n, model.config.latent_dim))


def test_is_a_vae_that_needs_labels():
    model = make("cvae")
    assert isinstance(model, VAE) and model.conditional
    with pytest.raises(ValueError, match="pass labels"):
        model.sample(2)


def test_the_label_reaches_encoder_and_decoder():
    model = make("cvae").eval()
    x = batch(model, 4).x
    z = torch.randn(4, model.config.latent_dim)
    zeros, ones = torch.zeros(4, dtype=torch.long), torch.ones(4, dtype=torch.long)
    assert not torch.allclose(model.encode(x, zeros), model.encode(x, ones))
    assert not torch.allclose(model.generate(z, zeros), model.generate(z, ones))


def test_analogies_decode_each_code_with_every_class():
    model = make("cvae").eval()
    x = batch(model, 4)
    out = model.analogies(x.x, x.y)
    assert out.shape == (4 * K, *x.x.shape[1:])
    rows = out.view(4, K, *x.x.shape[1:])
    codes = model.encode(x.x, x.y)  # each image encoded with its own label
    for i in range(4):
        expected = model.generate(codes[i].expand(K, -1), torch.arange(K))
        torch.testing.assert_close(rows[i], expected)


def test_epoch_grids_fakes_are_one_row_per_class_and_analogies_start_with_the_input():
    model = make("cvae").eval()
    fixed = fixed_inputs(model)
    grids = model.epoch_images(fixed)
    assert set(grids) == {"recons", "fakes", "analogies"}
    shape = fixed.x.shape[1:]

    rows = grids["fakes"]
    columns = K
    assert rows.shape == (K, K, *shape)
    for c in range(K):  # row c: class c drawn from the first `columns` noises
        torch.testing.assert_close(rows[c], model.generate(fixed.z[:columns], torch.full((columns,), c)))

    table = grids["analogies"]
    assert table.shape == (8, K + 1, *shape)
    torch.testing.assert_close(table[:, 0], fixed.x)  # column 0: the inputs themselves
    torch.testing.assert_close(table[:, 1:].flatten(0, 1), model.analogies(fixed.x, fixed.y))


def test_after_training_the_label_puts_the_blob_where_that_class_has_it():
    """Blob data: class c is a bright square on the diagonal at c/3 of the image. Same noise, three labels."""
    torch.manual_seed(0)
    model = make("cvae", num_classes=K)
    data = tiny_splits(n=96).train
    optimizers = model.configure_optimizers()
    for step in range(150):
        index = torch.randperm(96, generator=torch.Generator().manual_seed(step))[:16]
        model.train_step(Batch(data.images[index], data.labels[index]), optimizers)
    for c in range(K):
        images = model.sample(10, torch.full((10,), c), torch.Generator().manual_seed(0))[:, 0]  # (10, 16, 16)
        brightness = [float(images[:, s : s + 5, s : s + 5].mean()) for s in (0, 5, 10)]  # each class's square
        assert max(range(K), key=brightness.__getitem__) == c, (c, brightness)


def grid_content(path) -> np.ndarray:
    """The pixels of a saved grid in [0, 1], without the grey padding between images."""
    pixels = np.asarray(Image.open(path))
    return pixels[pixels != 128].astype(np.float32) / 255.0


def assert_not_blank(path) -> None:
    content = grid_content(path)
    assert content.std() > 0.08, f"{path} looks blank (pixel std {content.std():.3f})"


def test_briefly_trains_on_real_mnist_with_the_default_config(mnist_dir, tmp_path):
    overrides = [f"data.data_dir={mnist_dir}", "data.limit=2000", "data.val_size=200", "train.epochs=1"]
    overrides += ["train.progress=false", "train.tensorboard=false", f"out={tmp_path}"]
    history = train_from_config(load_config(REPO / "configs" / "mnist_cvae.yaml", overrides))
    assert len(history) == 1 and all(math.isfinite(v) for v in history[0].values())
    for name in ("recons", "fakes", "analogies"):
        assert_not_blank(tmp_path / f"epoch001_{name}.png")
        assert grid_content(tmp_path / f"epoch001_{name}.png").mean() < 0.5  # dark background, light strokes
    model = ConditionalVAE.load(tmp_path / "checkpoints" / "last.pt")
    assert model.sample(10, torch.arange(10)).std() > 0.05

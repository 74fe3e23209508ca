"""Sampling from a Gaussian fitted to the training codes (ex-post density estimation)."""

from __future__ import annotations

import torch

from tests.evaluation.conftest import tiny_model
from vaegan.data import ImageDataset
from vaegan.visualization.codes import fit_code_density


def shifted_codes(model, offsets: dict[int, float]):
    """Make ``model`` encode class c at offsets[c] + 0.1 noise: codes far from its N(0, I) prior."""

    def encode(x, labels=None):
        noise = torch.randn(len(x), model.config.latent_dim, generator=torch.Generator().manual_seed(len(x)))
        centre = torch.tensor([offsets[int(c)] for c in labels]) if labels is not None else torch.full((len(x),), 5.0)
        return centre[:, None] + 0.1 * noise

    model.encode = encode
    model.probabilistic = False  # encode_dataset then reads model.encode, not the posterior's mean
    return model


def test_draws_follow_the_codes_of_each_class_not_the_prior():
    # the shipped 64^3 cVAE's prior draws decode to near-black volumes (mean 0.01 against 0.20); its
    # training codes do not fill N(0, I), and draws from a Gaussian fitted to them are brains again
    model = shifted_codes(tiny_model("cvae"), {0: 5.0, 1: -3.0, 2: 0.0})
    images = torch.rand(90, *model.config.image_shape)
    density = fit_code_density(model, ImageDataset(images, torch.arange(90) % 3, ["a", "b", "c"], "toy"))
    z = density.sample(torch.tensor([0] * 200 + [1] * 200), generator=torch.Generator().manual_seed(0))
    assert z.shape == (400, model.config.latent_dim)
    assert abs(z[:200].mean() - 5.0) < 0.05 and abs(z[200:].mean() + 3.0) < 0.05
    assert 0.05 < z[:200].std(0).mean() < 0.2  # the codes' spread, not the prior's 1
    again = density.sample(torch.tensor([0] * 200 + [1] * 200), generator=torch.Generator().manual_seed(0))
    assert torch.equal(z, again)  # seeded


def test_an_unconditional_model_gets_one_gaussian():
    model = shifted_codes(tiny_model("vae"), {})
    images = torch.rand(40, *model.config.image_shape)
    density = fit_code_density(model, ImageDataset(images, torch.zeros(40, dtype=torch.long), ["a"], "toy"))
    z = density.sample(None, n=100, generator=torch.Generator().manual_seed(1))
    assert abs(z.mean() - 5.0) < 0.05


def test_a_class_with_one_image_is_named_in_the_error():
    from vaegan.foundation.errors import VaeganError

    model = tiny_model("cvae")
    images = torch.rand(5, *model.config.image_shape)
    labels = torch.tensor([0, 0, 0, 0, 1])
    data = ImageDataset(images, labels, [str(c) for c in range(model.config.num_classes)], "toy")
    try:
        fit_code_density(model, data)
    except VaeganError as error:
        assert "class 1" in str(error) and "1 image" in str(error)
    else:
        raise AssertionError("a class of one image cannot give a Gaussian")

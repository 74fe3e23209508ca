"""Likelihoods: reported only where they are one, bounds ordered and seeded, conditional marginals exact."""

from __future__ import annotations

import math

import pytest
import torch

from tests.conftest import blob_images
from tests.evaluation.conftest import tiny_model
from vaegan.evaluation.likelihood import bits_per_dim, is_8bit, likelihood_metrics, likelihood_protocol


@pytest.mark.parametrize("name", ["vae", "cvae"])
def test_elbo_is_below_the_importance_weighted_bound(name):
    model = tiny_model(name).eval()
    data = blob_images(24, (1, 16, 16), 3, seed=3)
    x = torch.bernoulli(data.images, generator=torch.Generator().manual_seed(0))
    scores = likelihood_metrics(model, x, data.labels, k=64, batch_size=10)
    nll, elbo = (
        (scores["nll_given_label"], scores["neg_elbo_given_label"])
        if model.conditional
        else (scores["nll"], scores["neg_elbo"])
    )
    assert math.isfinite(nll) and nll > 0  # a Bernoulli mass on binary images: -log p(x) > 0
    assert elbo >= nll  # -ELBO >= -IWAE_k
    assert likelihood_metrics(model, x, data.labels, k=64, batch_size=10) == scores  # seeded


def test_more_importance_samples_tighten_the_bound():
    model = tiny_model("vae").eval()
    x = torch.bernoulli(blob_images(32, (1, 16, 16), 3, seed=4).images, generator=torch.Generator().manual_seed(1))
    one = likelihood_metrics(model, x, k=1)
    assert one["nll"] == pytest.approx(one["neg_elbo"], abs=0.5)  # k = 1 is another single ELBO draw
    five = likelihood_metrics(model, x, k=5)["nll"]
    assert five < one["nll"]


def test_a_bernoulli_decoder_on_grey_images_gets_no_likelihood_and_a_reason():
    model = tiny_model("vae")
    grey = blob_images(8, (1, 16, 16), 3).images
    protocol = likelihood_protocol(model, grey, binarize=False)
    assert protocol.kind is None and "data.binarize=true" in protocol.reason
    # why: sum over binary x of p(x) is 1, but the "density" integrated over grey x in [0, 1] is not
    p = torch.tensor(0.3)
    grid = torch.linspace(0, 1, 10001)
    mass = torch.trapezoid(p**grid * (1 - p) ** (1 - grid), grid)
    assert float(mass) < 0.6
    assert likelihood_protocol(model, grey, binarize=True).kind == "binary"


def test_continuous_decoders_are_dequantized_on_8_bit_images_and_densities_on_floats():
    model = tiny_model("vae", likelihood="gaussian")
    eight_bit = torch.randint(0, 256, (4, 1, 16, 16)) / 255.0
    protocol = likelihood_protocol(model, eight_bit, binarize=False)
    assert protocol.kind == "dequantized" and is_8bit(eight_bit)
    y = protocol.prepare(eight_bit, seed=0)
    assert (y >= eight_bit * 255 / 256).all() and (y < (eight_bit * 255 + 1) / 256).all()  # inside the bin of v
    mri = torch.rand(4, 1, 16, 16) * 0.97
    assert not is_8bit(mri) and likelihood_protocol(model, mri, binarize=False).kind == "density"


def test_conditional_marginal_is_the_prior_weighted_log_sum_exp_over_classes(monkeypatch):
    model = tiny_model("cvae").eval()
    x = torch.rand(4, 1, 16, 16).round()
    labels = torch.tensor([0, 1, 2, 0])
    table = torch.tensor([-10.0, -20.0, -30.0])  # log p(x | y = c), the same for every image

    monkeypatch.setattr(model, "log_likelihood", lambda x, y, k: table[y].double())
    prior = torch.tensor([0.5, 0.25, 0.25])
    scores = likelihood_metrics(model, x, labels, class_prior=prior, k=2)
    expected_marginal = -float(torch.logsumexp(table.double() + prior.double().log(), 0))
    assert scores["nll"] == pytest.approx(expected_marginal)
    assert scores["nll_given_label"] == pytest.approx(float(-table[labels].mean()))


def test_bits_per_dim_of_a_discrete_nll():
    assert bits_per_dim(784 * math.log(2), (1, 28, 28)) == pytest.approx(1.0)
    assert bits_per_dim(784 * 8 * math.log(2), (1, 28, 28)) == pytest.approx(8.0)  # a uniform 8-bit model


def test_likelihood_does_not_disturb_the_global_rng():
    model = tiny_model("vae").eval()
    state = torch.get_rng_state()
    likelihood_metrics(model, blob_images(4, (1, 16, 16), 3).images.round(), k=3)
    assert torch.equal(state, torch.get_rng_state())


@pytest.mark.parametrize(("name", "passes"), [("vae", 1 + 4), ("cvae", 1 + 4 * 3)])
def test_the_progress_bar_counts_every_decoder_pass(name, passes, capsys):
    # at k = 5000 the NLL of 680 64^2 MRI slices takes over an hour on 2 cores: a silent one looked hung
    model = tiny_model(name)
    data = blob_images(6, model.config.image_shape, 3, seed=0)
    likelihood_metrics(model, data.images.round(), data.labels, k=4, progress=True)
    shown = capsys.readouterr().err
    assert "NLL, k=4" in shown and f"/{6 * passes}" in shown  # the total: the time left is right from the start
    likelihood_metrics(model, data.images.round(), data.labels, k=4)
    assert capsys.readouterr().err == ""  # off unless asked (the CLI asks)


def test_the_importance_samples_of_volumes_are_decoded_within_a_budget_of_voxels(monkeypatch):
    """Chunked by rows alone, 40 test volumes of 64^3 decoded 409 samples of each at once (~70 GB)."""
    shape = (1, 8, 16, 12)
    model = tiny_model("vae", shape).eval()
    rows = []

    def decode(z, labels=None):  # what is decoded at once is the point here, not the decoder's values
        rows.append(len(z))
        return torch.zeros(len(z), *shape)

    monkeypatch.setattr(model, "decode", decode)
    x = blob_images(4, shape, 3).images.round()
    scores = likelihood_metrics(model, x, k=5000)
    assert math.isfinite(scores["nll"]) and sum(rows) == 4 * (1 + 5000)
    assert max(rows) * math.prod(shape) <= 16384 * 784  # the budget of 16384 rows of a 28x28 image


def test_volumes_larger_than_the_budget_are_decoded_a_few_at_a_time(monkeypatch):
    """One sample of each image may already be over the budget (a batch of large volumes): fewer images."""
    model = tiny_model("vae").eval()
    decode, rows = model.decode, []
    monkeypatch.setattr(model, "decode", lambda z, labels=None: rows.append(len(z)) or decode(z, labels))
    x = blob_images(8, (1, 16, 16), 3).images.round()
    log_px = model.log_likelihood(x, k=4, chunk_elements=3 * 256)
    assert log_px.shape == (8,) and torch.isfinite(log_px).all()
    assert max(rows) <= 3 and sum(rows) == 8 * 4


def test_a_continuous_decoder_trained_on_binarised_images_gets_no_likelihood_on_grey_ones():
    """It modelled binary images: its density on the grey-level (dequantised) test images scores data it never saw."""
    model = tiny_model("vae", likelihood="gaussian")
    eight_bit = torch.randint(0, 256, (4, 1, 16, 16)) / 255.0
    protocol = likelihood_protocol(model, eight_bit, binarize=True)
    assert protocol.kind is None and "binari" in protocol.reason and "data.binarize" in protocol.reason
    learned = tiny_model("vae", likelihood="gaussian_learned")
    assert likelihood_protocol(learned, eight_bit, binarize=True).kind is None


def test_a_bernoulli_decoder_on_binary_data_gets_its_likelihood_without_binarize():
    """Masks are binary already: "trained on grey levels, train with data.binarize=true" was false of them."""
    from tests.conftest import tiny_splits
    from vaegan.evaluation.evaluator import EvaluationOptions
    from vaegan.evaluation.sections import likelihood_section

    data = tiny_splits()
    for split in (data.train, data.val, data.test):
        split.images = (split.images > 0.5).float()
    notes: list[str] = []
    options = EvaluationOptions(k=4, nll_images=8)
    metrics = likelihood_section(tiny_model("vae"), data, options, binarize=False, notes=notes)
    assert "nll" in metrics and math.isfinite(metrics["nll"].value), notes
    assert "binary" in notes[0]

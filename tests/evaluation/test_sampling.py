"""draw_samples: the prior's draws, or the draws of a density fitted to the training codes."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import blob_images
from tests.evaluation.conftest import tiny_model
from vaegan.evaluation.sampling import draw_samples
from vaegan.visualization.codes import CodeDensity, decode


def point_density(model, offset: float) -> CodeDensity:
    """Every class's codes at one point of its own (no spread): each draw is that point exactly."""
    k, d = model.config.num_classes, model.config.latent_dim
    means = offset * (1 + torch.arange(k, dtype=torch.float32)).unsqueeze(1).expand(k, d).contiguous()
    return CodeDensity(means, torch.zeros(k, d, d))


def test_fitted_draws_decode_the_density_codes_of_each_asked_label():
    model = tiny_model("cvae").eval()
    labels = torch.tensor([0, 1, 2, 2, 1])
    density = point_density(model, 3.0)
    drawn = draw_samples(model, 7, class_labels=labels, density=density, batch_size=3)
    asked = drawn.labels
    assert torch.equal(asked[:5], labels) and sorted(asked[5:].tolist()) == [1, 2]  # the remainder in proportion
    torch.testing.assert_close(drawn.images, decode(model, density.means[asked], asked))
    prior = draw_samples(model, 7, class_labels=labels)
    assert not torch.allclose(prior.images, drawn.images)


def test_fitted_draws_are_seeded_and_follow_the_fitted_spread():
    from vaegan.visualization.codes import fit_code_density

    model = tiny_model("vae").eval()
    density = fit_code_density(model, blob_images(60, (1, 16, 16), 3, seed=0))
    first, again = (draw_samples(model, 20, density=density, seed=4).images for _ in range(2))
    assert torch.equal(first, again)
    assert not torch.equal(first, draw_samples(model, 20, density=density, seed=5).images)
    codes = density.sample(None, 20, generator=torch.Generator().manual_seed(4))  # the fitted Gaussian's draws
    torch.testing.assert_close(first, decode(model, codes, None))
    assert not torch.allclose(first, draw_samples(model, 20, seed=4).images)  # not the prior's


def test_a_density_for_a_model_with_another_code_size_is_refused():
    model = tiny_model("vae").eval()
    wrong = CodeDensity(torch.zeros(1, model.config.latent_dim + 1), torch.zeros(1, 1, 1))
    with pytest.raises(ValueError, match="latent"):
        draw_samples(model, 4, density=wrong)


@pytest.mark.parametrize("n", [30, 45, 90, 100, 181])
def test_conditional_draws_hold_the_test_classes_in_their_proportions_for_any_n(n):
    """Test images come ordered (MRI slices subject by subject): the first n labels were one class alone."""
    model = tiny_model("cvae").eval()
    ordered = torch.tensor([0] * 30 + [1] * 30 + [2] * 30)
    drawn = draw_samples(model, n, class_labels=ordered, seed=3).labels
    counts = torch.bincount(drawn, minlength=3)
    assert len(drawn) == n and (counts - n / 3).abs().max() < 1, counts
    if n % 90 == 0:  # whole copies of the test labels: as they are, in their order
        assert torch.equal(drawn, ordered.repeat(n // 90))
    assert torch.equal(drawn, draw_samples(model, n, class_labels=ordered, seed=3).labels)


def test_density_draws_are_each_class_mean_plus_its_factor_times_the_noise():
    generator = torch.Generator().manual_seed(0)
    means, factors = torch.randn(3, 4, generator=generator), torch.randn(3, 4, 4, generator=generator).tril()
    labels = torch.tensor([2, 0, 2, 1, 0])
    drawn = CodeDensity(means, factors).sample(labels, generator=torch.Generator().manual_seed(7))
    noise = torch.randn(5, 4, generator=torch.Generator().manual_seed(7))
    expected = means[labels] + torch.einsum("nij,nj->ni", factors[labels], noise)
    torch.testing.assert_close(drawn, expected)

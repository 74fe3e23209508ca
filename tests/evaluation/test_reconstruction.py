"""How much of each subject a model reproduces: explained variance against the mean image and a PCA of the same size."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from vaegan.evaluation.reconstruction import explained_variance
from vaegan.models import VAE, VAEConfig


class Fixed(VAE):
    """Reconstructs by a rule: the image itself, or one image for all."""

    def __init__(self, rule):
        super().__init__(VAEConfig(image_shape=(1, 6, 6), latent_dim=2, network={"kind": "mlp", "hidden": [8]}))
        self.rule = rule

    def reconstruct(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.rule(x)


def low_rank(n: int, seed: int) -> Tensor:
    """Images around a mean brain that vary along two fixed patterns only."""
    g = torch.Generator().manual_seed(7)
    mean, patterns = torch.rand(36, generator=g), torch.randn(2, 36, generator=g)
    scores = torch.randn(n, 2, generator=torch.Generator().manual_seed(seed))
    return (mean + 0.1 * scores @ patterns).view(n, 1, 6, 6)


def test_the_mean_image_explains_nothing_and_the_image_itself_everything():
    reference, test = low_rank(40, 0), low_rank(10, 1)
    mean = reference.mean(0)
    nothing = explained_variance(Fixed(lambda x: mean.expand_as(x)), reference, test)
    assert nothing["explained"] == pytest.approx(0.0, abs=1e-6)
    everything = explained_variance(Fixed(lambda x: x), reference, test)
    assert everything["explained"] == pytest.approx(1.0)
    assert everything["pca_explained"] > 0.999  # two components hold the two patterns: a code of 2 is enough
    assert everything["pca_components"] == 2


def test_a_model_worse_than_the_mean_explains_less_than_nothing():
    reference, test = low_rank(40, 0), low_rank(10, 1)
    worse = explained_variance(Fixed(lambda x: torch.zeros_like(x)), reference, test)
    assert worse["explained"] < 0.0


def test_a_model_without_an_encoder_is_refused():
    from vaegan.models import GAN, GANConfig

    gan = GAN(GANConfig(image_shape=(1, 6, 6), latent_dim=2, network={"kind": "mlp", "hidden": [8]}))
    with pytest.raises(ValueError, match="no encoder"):
        explained_variance(gan, low_rank(4, 0), low_rank(2, 1))


def test_a_conditional_model_without_labels_is_refused_with_the_reason():
    from vaegan.models import ConditionalVAE, ConditionalVAEConfig

    cvae = ConditionalVAE(
        ConditionalVAEConfig(image_shape=(1, 6, 6), num_classes=2, latent_dim=2, network={"kind": "mlp", "hidden": [8]})
    )
    with pytest.raises(ValueError, match="conditional: give the test images' labels"):
        explained_variance(cvae, low_rank(4, 0), low_rank(2, 1))
    assert set(explained_variance(cvae, low_rank(4, 0), low_rank(2, 1), torch.tensor([0, 1]))) == {
        "explained",
        "pca_explained",
        "pca_components",
    }


def test_refined_codes_reproduce_a_subject_better_than_the_encoders_guess():
    """An untrained encoder guesses badly; MAP codes under the same decoder fit the test images closer."""
    from tests.models.tiny_configs import tiny_model

    vae = tiny_model("vae", (1, 16, 16), likelihood="gaussian", sigma=0.1)
    reference, test = low_rank(40, 0), low_rank(8, 1)
    reference, test = (t.repeat(1, 1, 3, 3)[:, :, :16, :16] for t in (reference, test))
    guessed = explained_variance(vae, reference, test)["explained"]
    refined = explained_variance(vae, reference, test, refine=100)["explained"]
    assert refined > guessed + 0.1, (guessed, refined)
    with pytest.raises(ValueError, match="no prior to refine"):
        explained_variance(tiny_model("ae", (1, 16, 16)), reference, test, refine=5)


@pytest.mark.parametrize("shape", [(1, 5, 5), (1, 8, 8), (1, 6, 6, 6), (1, 28, 28)])
def test_ssim_takes_a_window_that_fits_small_images(shape):
    """torchmetrics sizes its Gaussian window from sigma alone (11 wide at 1.5) and ignores kernel_size: on
    5-pixel images the reflect padding failed, on small volumes the depth padding no longer fitted."""
    from vaegan.evaluation.reconstruction import _score

    x = torch.rand(6, *shape, generator=torch.Generator().manual_seed(0))
    noisy = (x + 0.2 * torch.randn(x.shape, generator=torch.Generator().manual_seed(1))).clamp(0, 1)
    assert _score([(x, x)], shape)["ssim"] == pytest.approx(1.0, abs=1e-5)
    assert 0.0 < _score([(noisy, x)], shape)["ssim"] < 0.95

"""AutoEncoder: a deterministic code z = f(x) and a decoder trained to give x back."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from pydantic import Field, model_validator
from torch import Tensor

from vaegan.models.base import Batch, FixedInputs, GenerativeModel, inference
from vaegan.models.config import ModelConfig
from vaegan.models.likelihoods import build_likelihood
from vaegan.models.registry import register_model
from vaegan.networks import build_decoder, build_encoder


class AutoEncoderConfig(ModelConfig):
    """An autoencoder; ``noise`` > 0 makes it denoising (Vincent et al. 2008)."""

    name: str = "ae"
    likelihood: Literal["bernoulli", "gaussian", "gaussian_learned"] = "bernoulli"
    # below 1e-3 of the [0, 1] intensity range, 1/sigma^2 overflows float32 losses
    sigma: float = Field(0.1, ge=1e-3, description="std of the fixed-variance Gaussian likelihood")
    min_sigma: float = Field(0.01, ge=1e-3, description="floor of the learned per-pixel std")
    corruption: Literal["gaussian", "masking"] = "gaussian"
    noise: float = Field(0.0, ge=0.0, le=1.0, description="corruption std, or fraction of pixels masked")

    @model_validator(mode="after")
    def _sees_something(self) -> AutoEncoderConfig:
        if self.corruption == "masking" and self.noise >= 1.0:
            raise ValueError("noise=1 with corruption 'masking' masks every pixel: the encoder never sees an image")
        return self


@register_model("ae")
class AutoEncoder(GenerativeModel):
    """Encoder -> code -> decoder, trained on the reconstruction log-likelihood.

    Example:
        >>> model = AutoEncoder(AutoEncoderConfig(latent_dim=8))
        >>> model.reconstruct(torch.rand(2, 1, 28, 28)).shape
        torch.Size([2, 1, 28, 28])
    """

    config_class = AutoEncoderConfig
    has_encoder = True
    monitor = "objective"
    config: AutoEncoderConfig

    def __init__(self, config: AutoEncoderConfig):
        super().__init__(config)
        shape = tuple(config.image_shape)
        self.likelihood = build_likelihood(config.likelihood, sigma=config.sigma, min_sigma=config.min_sigma)
        self.encoder = build_encoder(config.network, shape, self.code_features, cond_dim=self.cond_dim)
        self.decoder = build_decoder(
            config.network,
            config.latent_dim + self.cond_dim,
            shape,
            out_channels=shape[0] * self.likelihood.params_per_channel,
        )

    # -- hooks subclasses override ----------------------------------------
    @property
    def code_features(self) -> int:
        """Encoder outputs per image: the code itself here; a VAE needs mean and log-variance."""
        return self.config.latent_dim

    def code(self, x: Tensor, labels: Tensor | None) -> Tensor:
        """The deterministic code of ``x`` (B, latent_dim), differentiable; a VAE's is the posterior mean."""
        return self.encoder(x, self.condition(labels))

    def latent(self, x: Tensor, labels: Tensor | None) -> tuple[Tensor, dict[str, Tensor]]:
        """The code used for training and its extra loss terms (none for a plain autoencoder)."""
        return self.code(x, labels), {}

    def regularization(self, terms: dict[str, Tensor]) -> Tensor | float:
        """Weighted sum of the extra terms added to the reconstruction loss, at the configured weights."""
        return 0.0

    @property
    def warmup(self) -> float:
        """Fraction of the regularization applied this epoch (a VAE's KL warm-up ramps it to 1)."""
        return 1.0

    # -- the model --------------------------------------------------------
    @inference
    def encode(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """The latent code (for a VAE, the posterior mean), shape (B, latent_dim), in eval mode."""
        return self.code(x.to(self.device), None if labels is None else labels.to(self.device))

    def decode(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """The decoder's raw output: the likelihood's parameters, (B, C * params, *S)."""
        cond = self.condition(labels)
        return self.decoder(z if cond is None else torch.cat([z, cond], dim=1))

    def synthesize(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.likelihood.mean(self.decode(z, labels))

    @inference
    def reconstruct(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """Decode the code of ``x``: images in [0, 1] shaped like ``x``."""
        return self.generate(self.encode(x, labels), labels)

    def corrupt(self, x: Tensor) -> Tensor:
        """Denoising corruption of the encoder's input, during training only."""
        if not self.training or self.config.noise == 0.0:
            return x
        if self.config.corruption == "masking":
            return x * (torch.rand_like(x) >= self.config.noise)
        return (x + self.config.noise * torch.randn_like(x)).clamp(0.0, 1.0)

    def losses(self, batch: Batch) -> dict[str, Tensor]:
        x, labels = batch
        z, terms = self.latent(self.corrupt(x), labels)
        # clean targets: a denoising autoencoder scores the uncorrupted x
        recon = -self.likelihood.log_prob(self.decode(z, labels), x).mean()
        penalty = self.regularization(terms)
        # "loss" is what is optimised now (with any warm-up); "objective" is the full objective at the
        # configured weights, the same every epoch, so it alone may pick best.pt and score a trial
        return {"loss": recon + self.warmup * penalty, "objective": recon + penalty, "recon": recon, **terms}

    @inference
    def epoch_images(self, fixed: FixedInputs) -> dict[str, Tensor]:
        """The generative model's fakes, and "recons": a row of originals above a row of reconstructions."""
        images = super().epoch_images(fixed)
        x = fixed.x[: max(1, len(fixed.x) // 2)]  # half the grid originals, half reconstructions
        images["recons"] = torch.stack([x, self.reconstruct(x, fixed.y[: len(x)])])  # (2, N, C, *S)
        return images

    def grid_rows(self, name: str, class_names: Sequence[str]) -> list[str] | None:
        """The recons grid: a row of inputs above a row of their reconstructions."""
        return ["input", "recon"] if name == "recons" else super().grid_rows(name, class_names)

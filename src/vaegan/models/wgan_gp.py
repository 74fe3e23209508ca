"""WGAN-GP: a GAN whose critic estimates the Wasserstein distance (Gulrajani et al. 2017)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveFloat, PositiveInt, field_validator, model_validator

from vaegan.models.adversarial import AdversarialObjective, DiscriminatorConfig, WassersteinGP
from vaegan.models.gan import GAN, GANConfig
from vaegan.models.registry import register_model


class CriticConfig(DiscriminatorConfig):
    """The critic: a DCGAN discriminator without batch norm (the penalty is taken per image)."""

    norm: Literal["batch", "instance", "none"] = "none"


class WGANGPConfig(GANConfig):
    """A WGAN-GP; the defaults are the paper's (Algorithm 1): lambda 10, n_critic 5, Adam(1e-4, 0, 0.9)."""

    name: str = "wgan_gp"
    discriminator: CriticConfig = CriticConfig()
    lr: PositiveFloat = 1e-4
    betas: tuple[float, float] = (0.0, 0.9)
    gp_weight: float = Field(10.0, ge=0.0, description="lambda, weight of the gradient penalty")
    critic_steps: PositiveInt = Field(5, description="critic updates per generator update (n_critic)")

    @field_validator("label_smoothing")
    @classmethod
    def _no_targets_to_smooth(cls, value: float) -> float:
        if value:
            raise ValueError("the Wasserstein critic has no real/fake targets to smooth; leave it 0 for wgan_gp")
        return value

    @model_validator(mode="after")
    def _no_batch_norm_in_the_critic(self) -> WGANGPConfig:
        if self.discriminator.norm == "batch":
            raise ValueError(
                "discriminator.norm='batch' couples the images of a batch, so the per-image gradient penalty "
                "no longer constrains the critic (Gulrajani et al. 2017, sec. 4); use 'none' or 'instance'"
            )
        return self


@register_model("wgan_gp")
class WGANGP(GAN):
    """The GAN with the Wasserstein objective and a gradient penalty instead of the cross-entropy game.

    Everything but the objective is the GAN's: the DCGAN generator, the critic
    network, the training step (which takes ``critic_steps`` critic updates
    per generator update). Logged: ``wasserstein`` (the critic's estimate of
    W(P_real, P_fake), which falls as samples improve), ``gp``, ``d_loss``, ``g_loss``.

    Example:
        >>> model = WGANGP(WGANGPConfig(latent_dim=32))
        >>> model.sample(4).shape
        torch.Size([4, 1, 28, 28])
    """

    config_class = WGANGPConfig
    config: WGANGPConfig

    @property
    def objective(self) -> AdversarialObjective:
        return WassersteinGP(gp_weight=self.config.gp_weight, critic_steps=self.config.critic_steps)

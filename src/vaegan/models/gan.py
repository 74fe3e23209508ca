"""GAN: a generator against a discriminator, DCGAN-style (Goodfellow et al. 2014; Radford et al. 2016)."""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

import torch
from pydantic import Field, PositiveFloat, PositiveInt
from torch import Tensor

from vaegan.foundation.errors import ConfigError
from vaegan.models.adversarial import AdversarialObjective, DiscriminatorConfig, NonSaturating, dcgan_init, frozen
from vaegan.models.base import Batch, GenerativeModel, adam
from vaegan.models.config import ModelConfig
from vaegan.models.registry import register_model
from vaegan.networks import build_decoder, build_encoder
from vaegan.networks.config import HiddenForMLP


class GeneratorConfig(HiddenForMLP):
    """A DCGAN generator: z projected straight to the smallest feature map (batch-normed and
    activated, as in Radford et al. 2016, fig. 1), then transposed convs."""

    role, example = "generator", "[256, 256]"
    channels: tuple[PositiveInt, ...] = (64, 128)
    hidden: tuple[PositiveInt, ...] = ()
    project_norm: bool = True


class GANConfig(ModelConfig):
    """A DCGAN: ``network`` is the generator, ``discriminator`` its adversary.

    Each conv stage doubles (generator) or halves (discriminator) the image size,
    so ``channels`` sets the depth to suit the image: two stages for 28x28 digits
    (7 -> 14 -> 28), more for larger MRI slices; 3-D images use the same networks.
    The defaults are the paper's: ReLU + batch norm in the generator, leaky ReLU
    in the discriminator, Adam(2e-4, beta1=0.5), weights ~ N(0, 0.02).
    """

    name: str = "gan"
    latent_dim: PositiveInt = 64
    network: GeneratorConfig = GeneratorConfig()
    discriminator: DiscriminatorConfig = DiscriminatorConfig()
    lr: PositiveFloat = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    label_smoothing: float = Field(0.0, ge=0.0, lt=0.5, description="one-sided: real targets become 1 - this")
    dcgan_init: bool = Field(True, description="weights ~ N(0, 0.02) as in Radford et al. 2016")


Player = Literal["discriminator", "generator"]


class Critique(NamedTuple):
    """What the discriminator says about a batch of images."""

    source: Tensor  # (B,) logits of "real" vs "fake"
    classes: Tensor | None  # (B, K) class logits (ACGAN's auxiliary classifier), None for a plain GAN


@register_model("gan")
class GAN(GenerativeModel):
    """Generator G(z) -> image in [0, 1] and discriminator D(x) -> logit of "x is real".

    ``train_step`` steps both optimizers itself: first D on a real and a fake
    batch, then G against the updated D, with the non-saturating loss. A GAN
    has no validation loss worth minimising, so ``monitor`` is None and best.pt
    is simply the latest epoch.

    Subclasses (ACGAN) override only the hooks: ``cond_dim``/``condition`` (what
    G sees besides z), ``discriminator_outputs``/``discriminate`` (the head),
    ``fake_labels`` (classes of the fakes) and ``auxiliary_terms``/``auxiliary_loss``
    (terms added to both losses).

    Example:
        >>> gan = GAN(GANConfig(latent_dim=32))
        >>> gan.sample(4).shape
        torch.Size([4, 1, 28, 28])
    """

    config_class = GANConfig
    monitor = None
    config: GANConfig

    def __init__(self, config: GANConfig):
        super().__init__(config)
        shape = tuple(config.image_shape)
        self.generator = build_decoder(config.network, config.latent_dim + self.cond_dim, shape)
        self.discriminator = build_encoder(config.discriminator, shape, self.discriminator_outputs, key="discriminator")
        if config.dcgan_init:
            self.apply(dcgan_init)
        # critic updates so far: with several per generator update, resume must know where it was
        self.register_buffer("critic_updates", torch.zeros((), dtype=torch.long))
        self._updates: int | None = None  # the same count on the host, so a step never reads the GPU's

    def load_state_dict(self, *args: Any, **kwargs: Any) -> Any:
        self._updates = None  # read again from the loaded buffer at the next step
        return super().load_state_dict(*args, **kwargs)

    # -- hooks subclasses override ----------------------------------------
    @property
    def objective(self) -> AdversarialObjective:
        """How D scores real against fake and how G answers: the non-saturating GAN loss."""
        return NonSaturating(smoothing=self.config.label_smoothing)

    def curve_units(self) -> dict[str, str | None]:
        return dict(self.objective.units)

    def differentiated_twice(self) -> set[str]:
        return {"discriminator"} if self.objective.second_order else set()

    @property
    def discriminator_outputs(self) -> int:
        """Logits per image from the discriminator's head: one, real vs fake."""
        return 1

    def discriminate(self, x: Tensor) -> Critique:
        """The discriminator's verdict on images (B, C, *S)."""
        return Critique(self.discriminator(x)[:, 0], None)

    def fake_labels(self, n: int) -> Tensor | None:
        """Classes to generate ``n`` fakes of during training (None: unconditional)."""
        return None

    def auxiliary_terms(self, critique: Critique, labels: Tensor | None, which: str) -> dict[str, Tensor]:
        """Extra named terms on the ``which`` ("real" or "fake") batch; none for a plain GAN."""
        return {}

    def auxiliary_loss(self, terms: dict[str, Tensor], player: Player) -> Tensor | float:
        """What ``player`` adds to its loss from ``auxiliary_terms`` (0 for a plain GAN)."""
        return 0.0

    # -- the model --------------------------------------------------------
    def synthesize(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        cond = self.condition(labels)
        logits = self.generator(z if cond is None else torch.cat([z, cond], dim=1))  # (B, C, *S)
        return torch.sigmoid(logits)  # DCGAN's tanh, rescaled to the data's [0, 1]

    def fake_batch(self, n: int) -> tuple[Tensor, Tensor | None]:
        """``n`` fakes G(z, c) with z ~ N(0, I) and their classes c (or None)."""
        labels = self.fake_labels(n)
        return self.synthesize(self.prior_noise(n), labels), labels

    def discriminator_terms(self, batch: Batch, fake: Tensor, fake_labels: Tensor | None) -> dict[str, Tensor]:
        """D's loss on a real and a fake batch, and the objective's metrics (e.g. D(x) and D(G(z)))."""
        real_out, fake_out = self.discriminate(batch.x), self.discriminate(fake)
        terms = {
            **self.auxiliary_terms(real_out, batch.y, "real"),
            **self.auxiliary_terms(fake_out, fake_labels, "fake"),
        }
        critic = self.objective.critic_terms(
            batch.x, fake, lambda x: self.discriminate(x).source, real_out.source, fake_out.source
        )
        critic["d_loss"] = critic["d_loss"] + self.auxiliary_loss(terms, "discriminator")
        return {**critic, **terms}

    def generator_terms(self, fake: Tensor, fake_labels: Tensor | None) -> dict[str, Tensor]:
        """G's adversarial loss under ``self.objective`` (the default non-saturating one: -log D(G(z));
        WGAN-GP's: -E[D(G(z))]) plus its share of the auxiliary terms."""
        fake_out = self.discriminate(fake)
        auxiliary = self.auxiliary_loss(self.auxiliary_terms(fake_out, fake_labels, "fake"), "generator")
        return {"g_loss": self.objective.generator_loss(fake_out.source) + auxiliary}

    def check_steps(self, steps: int) -> None:
        critic_steps = self.objective.critic_steps
        if critic_steps > steps:
            raise ConfigError(
                f"model.critic_steps={critic_steps}: the run has {steps} steps in all, so the generator would "
                "never be updated; lower model.critic_steps, or train longer (train.epochs) or on more images"
            )

    def train_step(self, batch: Batch, optimizers: dict[str, torch.optim.Optimizer]) -> dict[str, Tensor]:
        """One D step on this batch; one G step after every ``objective.critic_steps`` D steps.

        Goodfellow et al. 2014, algorithm 1 (k = 1); Gulrajani et al. 2017, algorithm 1
        (n_critic = 5): each critic step sees a fresh real batch, as the Trainer gives one per step.
        The G step scores the fakes of this step's D step again, after D's update, where the
        algorithms draw fresh noise for it: the same distribution, one generator pass fewer per
        step (PyTorch's DCGAN example does the same).
        """
        fake, fake_labels = self.fake_batch(len(batch.x))  # (B, C, *S)

        d_optimizer = optimizers["discriminator"]
        d_optimizer.zero_grad(set_to_none=True)
        d_terms = self.discriminator_terms(batch, fake.detach(), fake_labels)  # detached: G gets no gradient
        d_terms["d_loss"].backward()
        d_optimizer.step()
        self._updates = (int(self.critic_updates) if self._updates is None else self._updates) + 1
        self.critic_updates += 1

        if self._updates % self.objective.critic_steps == 0:
            g_optimizer = optimizers["generator"]
            g_optimizer.zero_grad(set_to_none=True)
            with frozen(self.discriminator):  # gradients flow through D to G, but none land on D's weights
                g_terms = self.generator_terms(fake, fake_labels)
                g_terms["g_loss"].backward()
            g_optimizer.step()
        else:  # no G step this time; its loss is still logged, so every step reports the same terms
            with torch.no_grad():
                g_terms = self.generator_terms(fake, fake_labels)
        return {key: value.detach() for key, value in {**d_terms, **g_terms}.items()}

    @torch.no_grad()
    def eval_step(self, batch: Batch) -> dict[str, Tensor]:
        """The same terms as ``train_step``, without updates.

        In eval mode D's batch norm uses running statistics (a blend of real and
        fake batches), so val/ D(x) and D(G(z)) wander more than train/ ones.
        """
        fake, fake_labels = self.fake_batch(len(batch.x))
        terms = {**self.discriminator_terms(batch, fake, fake_labels), **self.generator_terms(fake, fake_labels)}
        return {key: value.detach() for key, value in terms.items()}

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {
            "generator": adam(self.generator.parameters(), self.config),
            "discriminator": adam(self.discriminator.parameters(), self.config),
        }

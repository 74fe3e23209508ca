"""CVAE-GAN (Bao et al. 2017): a conditional VAE that also owns a discriminator and a classifier.

"CVAE-GAN: Fine-Grained Image Generation through Asymmetric Training", ICCV 2017.
Four networks: the encoder E and generator G (the conditional VAE's encoder and
decoder), a discriminator D (real or fake) and a classifier C (which class).
D and C learn with cross-entropy; G learns by *matching their features*
instead of fooling D: the asymmetric training that keeps the GAN stable.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field, PositiveInt
from torch import Tensor, nn

from vaegan.models.adversarial import probability
from vaegan.models.base import Batch, adam
from vaegan.models.cvae import ConditionalVAE, ConditionalVAEConfig
from vaegan.models.cvaegan_losses import (
    class_mean_feature_matching,
    mean_feature_matching,
    pairwise_feature_matching,
    three_way_discriminator_loss,
)
from vaegan.models.registry import register_model
from vaegan.networks import build_encoder
from vaegan.networks.config import Activation, HiddenForMLP, Norm


class FeatureNetworkConfig(HiddenForMLP):
    """The discriminator's or classifier's network; its last hidden layer is the matched feature f(x).

    Its own defaults mean ``model.discriminator.channels=[32, 64]`` changes only the channels.
    """

    lost = "has no features to match (f(x) would be x)"
    channels: tuple[PositiveInt, ...] = (16, 32)
    hidden: tuple[PositiveInt, ...] = (128,)
    norm: Norm = "none"  # batch norm would mix the statistics of real and fake images
    activation: Activation = "leaky_relu"  # as DCGAN's discriminator (Radford et al. 2016)


class CVAEGANConfig(ConditionalVAEConfig):
    """A CVAE-GAN; the four loss weights default to the paper's (Bao et al. 2017, sec. 3.4).

    ``kl_weight`` is lambda_1 (inherited from the VAE). The pixel term of L_G is
    the negative log-likelihood of the configured ``likelihood``; the paper's
    1/2 ||x - x'||^2 is ``likelihood: gaussian`` with ``sigma: 1.0`` (up to a constant).
    """

    name: str = "cvaegan"
    kl_weight: float = Field(3.0, ge=0.0, description="lambda_1, on L_KL")
    recon_weight: float = Field(1.0, ge=0.0, description="lambda_2, on L_G (pixels + pairwise feature matching)")
    mean_d_weight: float = Field(1e-3, ge=0.0, description="lambda_3, on L_GD (mean discriminator features)")
    mean_c_weight: float = Field(1e-3, ge=0.0, description="lambda_4, on L_GC (class-mean classifier features)")
    label_smoothing: float = Field(0.0, ge=0.0, lt=1.0, description="one-sided, on D's real targets")
    discriminator: FeatureNetworkConfig = FeatureNetworkConfig()
    classifier: FeatureNetworkConfig = FeatureNetworkConfig()


@register_model("cvaegan")
class CVAEGAN(ConditionalVAE):
    """A ConditionalVAE plus a discriminator D and a classifier C, each with its own optimizer.

    Per batch (Bao et al. 2017, Algorithm 1), with x' = G(E(x, c), c) the
    reconstruction and x_p = G(z_p, c) a prior sample:

    - C minimises L_C = -log C(c | x) on real images (sec. 3.2, eq. 3);
    - D minimises L_D = -[log D(x) + log(1 - D(x')) + log(1 - D(x_p))] (sec. 3.1, eq. 1);
    - E and G minimise lambda_1 L_KL + lambda_2 L_G + lambda_3 L_GD + lambda_4 L_GC
      (sec. 3.4, eq. 7, less L_D and L_C), where
      L_G = -log p(x | x') + 1/2 ||f_D(x) - f_D(x')||^2 + 1/2 ||f_C(x) - f_C(x')||^2
      (sec. 3.3, eq. 6: pairwise feature matching), and L_GD, L_GC match the
      mean features of x_p to those of x, overall for D and per class for C
      (eq. 2 and 4). f_D and f_C are the networks' last hidden layers.

    The label of each prior sample is its real partner's, so every class in
    the batch has a real and a fake feature centre. E, G, D and C update
    simultaneously from one forward pass, each backward pass reaching only
    its own component's weights. The generator never sees D's verdict, only
    its features: the asymmetry that keeps training stable.

    Example:
        >>> model = CVAEGAN(CVAEGANConfig(latent_dim=8))
        >>> sorted(model.configure_optimizers())
        ['classifier', 'discriminator', 'encoder_generator']
        >>> model.sample(10, labels=torch.arange(10)).shape
        torch.Size([10, 1, 28, 28])
    """

    config_class = CVAEGANConfig
    config: CVAEGANConfig
    # adversarial losses do not fall as the model improves, so no validation loss can pick
    # the best epoch: best.pt is the last one
    monitor = None
    # optimizer name -> the loss term it minimises
    objectives = {"encoder_generator": "loss", "discriminator": "d_loss", "classifier": "c_loss"}

    def curve_units(self) -> dict[str, str | None]:
        return {"loss": None}  # KL nats + the weighted feature-matching distances of L_G

    def __init__(self, config: CVAEGANConfig):
        super().__init__(config)
        shape = tuple(config.image_shape)
        self.discriminator = build_encoder(config.discriminator, shape, 1, key="discriminator")  # -> (B, 1) logit
        self.classifier = build_encoder(config.classifier, shape, config.num_classes, key="classifier")  # (B, K)

    # -- components and their optimizers ----------------------------------
    def components(self) -> dict[str, list[nn.Module]]:
        """The modules each optimizer owns; keys match ``objectives``."""
        return {
            "encoder_generator": [self.encoder, self.decoder, self.likelihood],
            "discriminator": [self.discriminator],
            "classifier": [self.classifier],
        }

    def component_parameters(self, name: str) -> list[nn.Parameter]:
        return [p for module in self.components()[name] for p in module.parameters()]

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {name: adam(self.component_parameters(name), self.config) for name in self.objectives}

    def batch_statistics(self) -> bool:
        """True: the mean-feature matching terms compare the batch's mean features."""
        return True

    def train_step(self, batch: Batch, optimizers: dict[str, torch.optim.Optimizer]) -> dict[str, Tensor]:
        """One simultaneous update of E+G, D and C (Bao et al. 2017, Algorithm 1)."""
        terms = self.losses(batch)
        names = list(self.objectives)
        for i, name in enumerate(names):
            optimizers[name].zero_grad(set_to_none=True)
            # inputs=: this objective's gradients reach only its component (G's loss flows
            # *through* D and C to G, but leaves their weights alone)
            terms[self.objectives[name]].backward(
                inputs=self.component_parameters(name), retain_graph=i < len(names) - 1
            )
        for name in names:  # step after every backward: all losses saw the same weights
            optimizers[name].step()
        return {key: value.detach() for key, value in terms.items()}

    # -- the objective ----------------------------------------------------
    def losses(self, batch: Batch) -> dict[str, Tensor]:
        x, labels = batch  # (B, C, *S), (B,)
        z, terms = self.latent(self.corrupt(x), labels)  # z ~ q(z|x, c): (B, D); terms: kl
        z_prior = torch.randn_like(z)  # z_p ~ p(z) = N(0, I)
        # x' and x_p through the decoder in separate calls: one batch would couple them through
        # batch norm, and the generator's prior-sample terms would reach the encoder (Algorithm 1
        # updates E by L_KL and L_G only)
        out = self.decode(z, labels)  # (B, C * params, *S)
        # pixel part of L_G: -log p(x | z, c) (1/2 ||x - x'||^2 for a unit Gaussian)
        terms["recon"] = -self.likelihood.log_prob(out, x).mean()
        fakes = (self.likelihood.mean(out), self.synthesize(z_prior, labels))  # x', x_p: (B, C, *S) each
        terms.update(self.adversarial_terms(x, fakes, labels))
        c = self.config
        generator_loss = terms["recon"] + terms["pair_d"] + terms["pair_c"]  # L_G, eq. 6
        # E and G objective (eq. 7 without L_D and L_C, which only D and C minimise)
        terms["loss"] = (
            self.warmup * self.regularization(terms)  # lambda_1 * L_KL (with the VAE's KL warm-up, if configured)
            + c.recon_weight * generator_loss
            + c.mean_d_weight * terms["mean_d"]
            + c.mean_c_weight * terms["mean_c"]
        )
        return terms

    def adversarial_terms(self, x: Tensor, fakes: tuple[Tensor, Tensor], labels: Tensor) -> dict[str, Tensor]:
        """D and C losses and the feature-matching terms, from passes of each over real x, x' and x_p.

        Each set of images goes through D and C as its own batch: batch norm must not mix x'
        (which depends on the encoder) into the statistics that x and x_p are normalised with.
        """
        images = (x, *fakes)  # real x, reconstructions x', prior samples x_p: (B, C, *S) each
        fd_real, fd_recon, fd_prior = (self.discriminator.features(i) for i in images)  # f_D: (B, F_D) each
        fc_real, fc_recon, fc_prior = (self.classifier.features(i) for i in images)  # f_C: (B, F_C) each
        d_real, d_recon, d_prior = (self.discriminator.head(f) for f in (fd_real, fd_recon, fd_prior))  # (B, 1)
        with torch.no_grad():  # a metric only: does C recognise the requested class in x_p?
            prior_correct = self.classifier.head(fc_prior).argmax(1) == labels  # (B,)
        return {
            "d_loss": three_way_discriminator_loss(d_real, d_recon, d_prior, smoothing=self.config.label_smoothing),
            "c_loss": F.cross_entropy(self.classifier.head(fc_real), labels),  # L_C on real images, eq. 3
            "pair_d": pairwise_feature_matching(fd_real, fd_recon),  # L_G's feature terms, eq. 6
            "pair_c": pairwise_feature_matching(fc_real, fc_recon),
            "mean_d": mean_feature_matching(fd_real, fd_prior),  # L_GD, eq. 2
            "mean_c": class_mean_feature_matching(fc_real, fc_prior, labels, labels, self.config.num_classes),  # L_GC
            "d_real": probability(d_real),  # mean D(x)
            "d_fake": probability(d_prior),  # mean D(x_p)
            "c_acc_fake": prior_correct.float().mean(),
        }

"""Models: the class hierarchy, each registered by name.

- ``base.py``: :class:`GenerativeModel`, the contract (train_step, eval_step,
  configure_optimizers, sample, save/load; training itself is :class:`vaegan.training.Trainer`'s
  ``fit``), the shared batch types and the
  :class:`LabelConditioned` mixin (one-hot class conditioning, used by cVAE and ACGAN).
- ``registry.py``: ``register_model``, ``build_model``, ``list_models``.
- ``distributions.py``: the diagonal Gaussian posterior (sample, kl, log_prob).
- ``likelihoods.py``: p(x|z): Bernoulli, Gaussian (fixed or learned variance).
- ``autoencoder.py``: :class:`AutoEncoder` (optionally denoising).
- ``vae.py``: :class:`VAE` (AutoEncoder + probabilistic code + KL + IWAE bound).
- ``beta_tcvae.py``: :class:`BetaTCVAE` (the KL split into MI, total correlation and dimension-wise KL).
- ``cvae.py``: :class:`ConditionalVAE` (VAE conditioned on the label; analogies).
- ``cvaegan.py``: :class:`CVAEGAN` (ConditionalVAE + discriminator + classifier,
  Bao et al. 2017); its feature-matching losses in ``cvaegan_losses.py``.
- ``adversarial.py``: GAN losses on logits, DCGAN weight init, freezing a network.
- ``gan.py``: :class:`GAN` (DCGAN generator vs discriminator, two optimizers).
- ``wgan_gp.py``: :class:`WGANGP` (a critic for the Wasserstein distance, gradient penalty).
- ``acgan.py``: :class:`ACGAN` (GAN + class-conditioned generator + auxiliary classifier).
"""

from vaegan.models.acgan import ACGAN, ACGANConfig
from vaegan.models.autoencoder import AutoEncoder, AutoEncoderConfig
from vaegan.models.base import Batch, FixedInputs, GenerativeModel, inference
from vaegan.models.beta_tcvae import BetaTCVAE, BetaTCVAEConfig
from vaegan.models.config import ModelConfig
from vaegan.models.cvae import ConditionalVAE, ConditionalVAEConfig
from vaegan.models.cvaegan import CVAEGAN, CVAEGANConfig
from vaegan.models.gan import GAN, GANConfig
from vaegan.models.registry import (
    build_model,
    get_model_class,
    list_models,
    load_model,
    model_from_checkpoint,
    register_model,
)
from vaegan.models.vae import VAE, VAEConfig
from vaegan.models.wgan_gp import WGANGP, WGANGPConfig

__all__ = [
    "ACGAN",
    "CVAEGAN",
    "GAN",
    "VAE",
    "ACGANConfig",
    "AutoEncoder",
    "AutoEncoderConfig",
    "BetaTCVAE",
    "BetaTCVAEConfig",
    "Batch",
    "CVAEGANConfig",
    "ConditionalVAE",
    "ConditionalVAEConfig",
    "FixedInputs",
    "GANConfig",
    "GenerativeModel",
    "ModelConfig",
    "VAEConfig",
    "WGANGP",
    "WGANGPConfig",
    "build_model",
    "get_model_class",
    "inference",
    "list_models",
    "load_model",
    "model_from_checkpoint",
    "register_model",
]

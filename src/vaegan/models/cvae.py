"""Conditional VAE (Sohn et al. 2015): the label conditions both q(z|x, y) and p(x|z, y)."""

from __future__ import annotations

import torch
from torch import Tensor

from vaegan.models.base import FixedInputs, LabelConditioned, inference
from vaegan.models.registry import register_model
from vaegan.models.vae import VAE, VAEConfig


class ConditionalVAEConfig(VAEConfig):
    """A conditional VAE; the label is joined as a one-hot vector to encoder features and code."""

    name: str = "cvae"


@register_model("cvae")
class ConditionalVAE(LabelConditioned, VAE):
    """A VAE whose encoder and decoder also see the class label.

    It overrides only the conditioning hooks and adds grids: the loss is the
    VAE's negative ELBO with every distribution conditioned on y,
    -E_q(z|x,y)[log p(x|z,y)] + KL(q(z|x,y) || p(z)) (Sohn et al. 2015, eq. 4-5),
    with the prior p(z) = N(0, I) independent of y. Because the label carries
    the class, the code z is free to carry the style (slant, thickness), which
    the analogies grid shows.

    Example:
        >>> cvae = ConditionalVAE(ConditionalVAEConfig(latent_dim=8))
        >>> cvae.sample(10, labels=torch.arange(10)).shape  # one sample per class
        torch.Size([10, 1, 28, 28])
        >>> cvae.analogies(torch.rand(2, 1, 28, 28), torch.tensor([3, 7])).shape  # 2 inputs x 10 classes
        torch.Size([20, 1, 28, 28])
    """

    config_class = ConditionalVAEConfig
    config: ConditionalVAEConfig

    @inference
    def analogies(self, x: Tensor, labels: Tensor) -> Tensor:
        """Encode each image with its own label, then decode its code z with every class.

        Returns (B * K, C, *S): row i holds image i's style drawn as class 0, 1, ..., K-1.
        """
        k = self.config.num_classes
        z = self.encode(x, labels).repeat_interleave(k, dim=0)  # (B*K, D): each code K times
        classes = torch.arange(k, device=x.device).repeat(len(x))  # (B*K,): 0..K-1, 0..K-1, ...
        return self.generate(z, classes)

    @inference
    def epoch_images(self, fixed: FixedInputs) -> dict[str, Tensor]:
        """The autoencoder's recons, fakes with one row per class, and analogies.

        fakes: row c is class c; the same noise runs down each column, so a column
        shows one style across classes. analogies: column 0 is the input, columns
        1..K its code decoded as class 0..K-1.
        """
        images = super().epoch_images(fixed)  # recons, and fakes one row per class
        k = self.config.num_classes
        x, y = fixed.x[:8], fixed.y[:8]
        styles = self.analogies(x, y).view(len(x), k, *x.shape[1:])  # (B, K, C, *S)
        images["analogies"] = torch.cat([x.unsqueeze(1), styles], dim=1)  # (B, K+1, C, *S)
        return images

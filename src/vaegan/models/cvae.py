"""Conditional VAE (Sohn et al. 2015): the label conditions both q(z|x, y) and p(x|z, y)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from vaegan.models.base import FixedInputs
from vaegan.models.registry import register_model
from vaegan.models.vae import VAE, VAEConfig


class ConditionalVAEConfig(VAEConfig):
    """A conditional VAE; the label is joined as a one-hot vector to encoder features and code."""

    name: str = "cvae"


@register_model("cvae")
class ConditionalVAE(VAE):
    """A VAE whose encoder and decoder also see the class label.

    It overrides only the conditioning hooks and the grids: the loss is the
    VAE's ELBO with every distribution conditioned on y (Sohn et al. 2015, eq. 4).

    Example:
        >>> cvae = ConditionalVAE(ConditionalVAEConfig(latent_dim=8))
        >>> cvae.sample(10, labels=torch.arange(10)).shape
        torch.Size([10, 1, 28, 28])
    """

    config_class = ConditionalVAEConfig
    conditional = True

    @property
    def cond_dim(self) -> int:
        return self.config.num_classes

    def condition(self, labels: Tensor | None) -> Tensor:
        if labels is None:
            raise ValueError(f"{type(self).__name__} is conditional: pass labels (class indices)")
        return F.one_hot(labels.long(), self.config.num_classes).float()

    @torch.no_grad()
    def analogies(self, x: Tensor, labels: Tensor) -> Tensor:
        """Encode each image with its label, decode its z with every class.

        Returns (B * K, C, *S): row i holds image i's style drawn as class 0..K-1.
        """
        k = self.config.num_classes
        z = self.encode(x, labels).repeat_interleave(k, dim=0)  # (B*K, D)
        classes = torch.arange(k, device=x.device).repeat(len(x))  # (B*K,)
        return self.generate(z, classes)

    @torch.no_grad()
    def epoch_images(self, fixed: FixedInputs) -> dict[str, tuple[Tensor, int]]:
        k = self.config.num_classes
        columns = max(1, min(k, len(fixed.z)))
        # fakes: one row per class, the same noise down each column
        z = fixed.z[:columns].repeat(k, 1)
        classes = torch.arange(k, device=z.device).repeat_interleave(columns)
        x = fixed.x[: max(1, len(fixed.x) // 2)]
        recons = self.reconstruct(x, fixed.y[: len(x)])
        from vaegan.visualization.grids import above_below

        rec_cols = max(1, int(len(fixed.z) ** 0.5))
        n_analogy = min(8, len(fixed.x))
        return {
            "fakes": (self.generate(z, classes), columns),
            "recons": (above_below(x, recons, rec_cols), rec_cols),
            "analogies": (self.analogies(fixed.x[:n_analogy], fixed.y[:n_analogy]), k),
        }

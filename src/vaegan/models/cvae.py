"""Conditional VAE (Sohn et al. 2015): the label conditions both q(z|x, y) and p(x|z, y)."""

from __future__ import annotations

import torch
from pydantic import Field, field_validator
from torch import Tensor

from vaegan.models.base import FixedInputs, LabelConditioned, inference
from vaegan.models.registry import register_model
from vaegan.models.vae import VAE, VAEConfig
from vaegan.networks.layers import ClassOffsets
from vaegan.networks.warp import WarpedDecoder


class ConditionalVAEConfig(VAEConfig):
    """A conditional VAE; the label is joined as a one-hot vector to encoder features and code."""

    name: str = "cvae"
    invariance_weight: float = Field(
        0.0, ge=0.0, description="weight of the MMD between each class's codes and all codes (0: off)"
    )
    class_offsets: bool = Field(
        False, description="add a learned image per class to the decoder's output (voxel-wise class effect)"
    )
    warp_points: int = Field(
        0,
        ge=0,
        description="control points per axis of a smooth deformation, read from the code, that moves the "
        "decoder's output (class offsets included) onto each subject's anatomy (0: off; at least 2)",
    )

    @field_validator("warp_points")
    @classmethod
    def _two_points_or_none(cls, points: int) -> int:
        if points == 1:
            raise ValueError("one control point per axis only shifts the whole image; use 0 (off) or 2 or more")
        return points


def gaussian_kernel(z: Tensor) -> Tensor:
    """sum_s exp(-|z_i - z_j|^2 / (2 s^2 D)) over bandwidths s in 1/4..4: (B, D) -> (B, B).

    Several bandwidths, scaled by the code's dimension D, so the kernel sees both near and far codes.
    """
    distance = (z.unsqueeze(1) - z.unsqueeze(0)).pow(2).mean(-1)  # squared distances / D; smooth at 0, unlike cdist
    return sum(torch.exp(-distance / (2 * s**2)) for s in (0.25, 0.5, 1.0, 2.0, 4.0))


def label_mmd(z: Tensor, labels: Tensor, num_classes: int) -> Tensor:
    """Squared maximum mean discrepancy between each class's codes and the whole batch's, summed over classes.

    Zero when q(z | y = c) equals the aggregate q(z) for every class c in the batch, i.e. when the codes
    hold no information about the label (the Variational Fair Autoencoder's penalty, Louizos et al. 2016,
    sec. 3.2, with the whole batch standing in for the other classes). The biased (V-statistic)
    estimate, never negative; a class absent from the batch adds nothing. Written with matrices of
    weights, not a loop over the classes present, so it never waits for the device.
    """
    kernel = gaussian_kernel(z)  # (B, B)
    members = torch.nn.functional.one_hot(labels.long(), num_classes).to(z.dtype)  # (B, K)
    counts = members.sum(0)  # (K,)
    # w[:, c]: uniform weights over class c's codes minus uniform weights over all codes
    weights = members / counts.clamp(min=1) - (counts > 0).to(z.dtype) / len(z)  # (B, K)
    return torch.einsum("ik,ij,jk->", weights, kernel, weights)  # sum_c |mean embedding_c - mean embedding|^2


@register_model("cvae")
class ConditionalVAE(LabelConditioned, VAE):
    """A VAE whose encoder and decoder also see the class label.

    The conditioning itself is inherited: the hooks ``cond_dim`` and ``condition``
    (the one-hot label) come from the :class:`~vaegan.models.base.LabelConditioned`
    mixin, first in the bases, and the VAE's networks already join them to the
    encoder's features and to the code. The loss is then the VAE's negative ELBO
    with every distribution conditioned on y,
    -E_q(z|x,y)[log p(x|z,y)] + KL(q(z|x,y) || p(z)) (Sohn et al. 2015, eq. 4-5),
    with the prior p(z) = N(0, I) independent of y. Because the label carries
    the class, the code z is free to carry the style (slant, thickness), which
    the analogies grid shows. This class adds ``analogies`` and that grid
    (``epoch_images``), and overrides VAE methods only for the options
    below: ``__init__`` (``class_offsets``, ``warp_points``), and ``latent``, ``regularization``,
    ``batch_statistics`` and ``curve_units`` (``invariance_weight``).

    Nothing in that loss stops z from carrying the class as well, and then decoding a code with another
    label changes only part of what the class changes (a disease effect map misses what z kept).
    ``invariance_weight`` > 0 adds lambda * sum_c MMD^2 between each class's codes and all codes
    (:func:`label_mmd`), which pushes the class out of z and into the label (Louizos et al. 2016).
    ``class_offsets`` adds a learned image per class to the decoder's output
    (:class:`~vaegan.networks.layers.ClassOffsets`), so a class effect finer than the decoder's
    upsampling can draw (a thin cortical ribbon) is still learned, voxel by voxel. ``warp_points``
    moves the decoder's output, offsets included, by a smooth deformation read from z
    (:class:`~vaegan.networks.warp.WarpedDecoder`), so a class effect drawn on the average anatomy lands
    on each subject's own: decoding one code as two classes differs where that subject's anatomy is.

    Example:
        >>> cvae = ConditionalVAE(ConditionalVAEConfig(latent_dim=8))
        >>> cvae.sample(10, labels=torch.arange(10)).shape  # one sample per class
        torch.Size([10, 1, 28, 28])
        >>> cvae.analogies(torch.rand(2, 1, 28, 28), torch.tensor([3, 7])).shape  # 2 inputs x 10 classes
        torch.Size([20, 1, 28, 28])
    """

    config_class = ConditionalVAEConfig
    config: ConditionalVAEConfig

    def __init__(self, config: ConditionalVAEConfig):
        super().__init__(config)
        shape = tuple(config.image_shape)
        out_shape = (shape[0] * self.likelihood.params_per_channel, *shape[1:])  # the likelihood's parameters
        if config.class_offsets:
            self.decoder = ClassOffsets(self.decoder, config.num_classes, out_shape)
        if config.warp_points:  # after the offsets: they move with the subject
            self.decoder = WarpedDecoder(self.decoder, config.latent_dim, out_shape, config.warp_points)

    def offsets(self) -> Tensor | None:
        """The learned image per class of ``class_offsets``, (K, C, *S), under the warp if there is one; None
        without them."""
        found = [module.offsets for module in self.decoder.modules() if isinstance(module, ClassOffsets)]
        return found[0] if found else None

    @inference
    def map_code_and_warp(
        self, x: Tensor, labels: Tensor, *, steps: int = 100, lr: float = 0.05
    ) -> tuple[Tensor, Tensor | None]:
        """The code and the warp that best explain each image: (B, latent_dim) codes and (B, d * points^d)
        control points for :meth:`WarpedDecoder.fixed <vaegan.networks.warp.WarpedDecoder.fixed>`.

        As :meth:`~vaegan.models.VAE.map_code`, with the warp's control points (``warp_points``) as free
        variables of each image beside its code, starting at the ones its code predicts: a registration
        of the model's template onto the image (instance optimisation), where the code's field only
        guesses the deformation. Without a warp: :meth:`map_code`'s codes and None.
        """
        if not isinstance(self.decoder, WarpedDecoder):
            return self.map_code(x, labels, steps=steps, lr=lr), None
        x, labels = x.to(self.device), labels.to(self.device)
        z = self.code(x, labels).detach().clone().requires_grad_(True)
        points = self.decoder.field(z).detach().clone().requires_grad_(True)
        with self.decoder.fixed(points):
            self._ascend(x, labels, z, points, steps=steps, lr=lr)
        return z.detach(), points.detach()

    def batch_statistics(self) -> bool:
        """With the invariance term: its MMD compares the batch's codes with each other."""
        return self.config.invariance_weight > 0

    def latent(self, x: Tensor, labels: Tensor | None) -> tuple[Tensor, dict[str, Tensor]]:
        z, terms = super().latent(x, labels)
        if self.config.invariance_weight > 0 and labels is not None and labels.dim() == 1:
            terms["mmd"] = label_mmd(z, labels, self.config.num_classes)
        return z, terms

    def regularization(self, terms: dict[str, Tensor]) -> Tensor:
        # + lambda * sum_c MMD^2(q(z|y=c), q(z)): the label's information leaves z for the label input
        penalty = super().regularization(terms)
        return penalty + self.config.invariance_weight * terms["mmd"] if "mmd" in terms else penalty

    def curve_units(self) -> dict[str, str | None]:
        mixed = {"loss": None, "objective": None}  # nats + lambda * an MMD
        return mixed if self.config.invariance_weight > 0 else {}

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

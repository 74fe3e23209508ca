"""VAE: an autoencoder whose code is a distribution (Kingma & Welling 2014)."""

from __future__ import annotations

import math

import torch
from pydantic import Field, NonNegativeInt
from torch import Tensor

from vaegan.foundation.errors import ConfigError
from vaegan.models.autoencoder import AutoEncoder, AutoEncoderConfig
from vaegan.models.base import GenerativeModel, inference
from vaegan.models.distributions import DiagonalGaussian, standard_normal_log_prob
from vaegan.models.registry import register_model


class VAEConfig(AutoEncoderConfig):
    """A VAE; ``kl_weight`` != 1 gives a beta-VAE, ``kl_warmup_epochs`` ramps it up linearly."""

    name: str = "vae"
    kl_weight: float = Field(1.0, ge=0.0)
    kl_warmup_epochs: NonNegativeInt = 0


@register_model("vae")
class VAE(AutoEncoder):
    """q(z|x) = N(mu(x), diag sigma^2(x)), p(z) = N(0, I), loss = -ELBO.

    Adds to the AutoEncoder only what differs: the posterior, the
    reparameterised code, the KL term and its weight, and the
    importance-weighted log-likelihood.

    Example:
        >>> vae = VAE(VAEConfig(latent_dim=2))
        >>> vae.sample(4).shape
        torch.Size([4, 1, 28, 28])
    """

    config_class = VAEConfig
    probabilistic = True
    config: VAEConfig

    def __init__(self, config: VAEConfig):
        super().__init__(config)
        self._warmup = 1.0 if config.kl_warmup_epochs == 0 else 0.0

    @property
    def code_features(self) -> int:
        return 2 * self.config.latent_dim  # mean and log-variance

    def posterior(self, x: Tensor, labels: Tensor | None = None) -> DiagonalGaussian:
        """q(z|x) (and the label, for conditional models)."""
        return DiagonalGaussian.from_params(self.encoder(x, self.condition(labels)))

    def code(self, x: Tensor, labels: Tensor | None) -> Tensor:
        return self.posterior(x, labels).mean

    def latent(self, x: Tensor, labels: Tensor | None) -> tuple[Tensor, dict[str, Tensor]]:
        q = self.posterior(x, labels)
        return q.sample(), {"kl": q.kl().mean()}

    def regularization(self, terms: dict[str, Tensor]) -> Tensor:
        # -ELBO = E_q[-log p(x|z)] + beta * KL(q(z|x) || p(z))  (Kingma & Welling 2014, eq. 7)
        return self.config.kl_weight * terms["kl"]

    @property
    def warmup(self) -> float:
        return self._warmup

    def on_epoch_start(self, epoch: int) -> None:
        epochs = self.config.kl_warmup_epochs
        self._warmup = min(1.0, epoch / epochs) if epochs else 1.0

    @inference
    def map_code(self, x: Tensor, labels: Tensor | None = None, *, steps: int = 100, lr: float = 0.05) -> Tensor:
        """The code that best explains each image under the model: argmin_z -log p(x|z) - beta log p(z).

        Starts at the encoder's mean and takes ``steps`` Adam steps on the codes alone; the weights
        and batch-norm statistics stay as they are. The encoder only guesses the code, and trained on
        a few hundred images its guess for a new one can be far from the best code the decoder has
        for it (the amortization gap, Cremer et al. 2018); a few steps on each image close part of it
        (semi-amortized inference, Kim et al. 2018). Each image's code depends on that image alone.

        Args:
            x: (B, C, *S) images; ``labels`` (B,) for conditional models.
            steps: Adam steps; 0 returns the encoder's mean, as :meth:`encode`.
            lr: Adam's step size, in units of the prior's standard deviation.

        Returns:
            (B, latent_dim) codes.
        """
        x = x.to(self.device)
        labels = None if labels is None else labels.to(self.device)
        z = self.code(x, labels).detach().clone().requires_grad_(True)
        self._ascend(x, labels, z, steps=steps, lr=lr)
        return z.detach()

    def _ascend(self, x: Tensor, labels: Tensor | None, z: Tensor, *others: Tensor, steps: int, lr: float) -> None:
        """``steps`` Adam steps on the codes ``z`` (and ``others``, leaves decoding reads), in place, up
        log p(x | z, labels) + beta log p(z); no weight gets a gradient."""
        if steps < 0:
            raise ValueError(f"steps={steps}: give 0 (the encoder's mean) or more")
        free = [z, *others]
        optimizer = torch.optim.Adam(free, lr=lr)
        with torch.enable_grad():
            for _ in range(steps):
                log_joint = self.likelihood.log_prob(self.decode(z, labels), x)
                log_joint = log_joint + self.config.kl_weight * standard_normal_log_prob(z)
                for variable, grad in zip(free, torch.autograd.grad(-log_joint.sum(), free)):
                    variable.grad = grad
                optimizer.step()

    @inference
    def log_likelihood(
        self,
        x: Tensor,
        labels: Tensor | None = None,
        *,
        k: int = 5000,
        chunk_rows: int = 16384,
        chunk_elements: int = 16384 * 784,
    ) -> Tensor:
        """Importance-weighted estimate of log p(x) in nats, shape (B,) (Burda et al. 2015, eq. 8).

        log p(x) ~ logsumexp_i [log p(x|z_i) + log p(z_i) - log q(z_i|x)] - log k,  z_i ~ q(z|x).
        The k samples are decoded in chunks of at most ``chunk_rows`` decoder rows and ``chunk_elements``
        decoded values (rows x C x voxels: 16384 rows of a 28x28 image, 49 of a 64^3 volume), at least one
        row a chunk, combined with a running logsumexp, so memory stays flat for any k and image size. The
        images (and labels) are moved to the model's device; the estimate is on it.
        """
        x = x.to(self.device)
        labels = None if labels is None else labels.to(self.device)
        rows = max(1, min(chunk_rows, chunk_elements // x[0].numel()))  # decoder rows a chunk
        if len(x) > rows:  # one sample of each image is already over the budget (large volumes): fewer images
            return torch.cat(
                [
                    self._log_likelihood(x[i : i + rows], None if labels is None else labels[i : i + rows], k, rows)
                    for i in range(0, len(x), rows)
                ]
            )
        return self._log_likelihood(x, labels, k, rows)

    def _log_likelihood(self, x: Tensor, labels: Tensor | None, k: int, rows: int) -> Tensor:
        """:meth:`log_likelihood` of images whose k samples are decoded ``rows`` // len(x) at a time."""
        q = self.posterior(x, labels)
        per_chunk = max(1, rows // len(x))
        total = torch.full((len(x),), -math.inf, device=x.device)
        for start in range(0, k, per_chunk):
            m = min(per_chunk, k - start)
            z = q.sample(m)  # (m, B, D)
            flat = z.flatten(0, 1)  # (m*B, D)
            rep_labels = None if labels is None else labels.repeat(m, *[1] * (labels.dim() - 1))  # (B,) or (B, K)
            out = self.decode(flat, rep_labels)
            log_px = self.likelihood.log_prob(out, x.repeat(m, *([1] * (x.dim() - 1)))).view(m, len(x))
            log_w = log_px + standard_normal_log_prob(z) - q.log_prob(z)  # (m, B)
            total = torch.logaddexp(total, torch.logsumexp(log_w, 0))
        return total - math.log(k)


def check_refine(model: GenerativeModel, steps: int) -> None:
    """Refuse a refinement :func:`map_codes` cannot do: a negative step count, or steps on a model without
    a prior (an autoencoder, a GAN)."""
    if steps < 0:
        raise ConfigError(f"refine={steps}: give a number of steps, 0 (the encoder's codes) or more")
    if steps and not isinstance(model, VAE):
        raise ConfigError(f"a {type(model).__name__} has no prior to refine its codes under; refine a VAE's codes only")


def map_codes(
    model: GenerativeModel, x: Tensor, labels: Tensor | None = None, *, steps: int, chunk: int = 16
) -> Tensor:
    """:meth:`VAE.map_code` for many images, ``chunk`` at a time (each step backpropagates through the
    decoder): (N, latent_dim) on the CPU. A model without a prior (an autoencoder, a GAN) or a negative
    step count is refused, saying why."""
    check_refine(model, steps)
    parts = [
        model.map_code(x[i : i + chunk], None if labels is None else labels[i : i + chunk], steps=steps).cpu()
        for i in range(0, len(x), chunk)
    ]
    return torch.cat(parts)

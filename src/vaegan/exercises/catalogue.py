"""The exercises and their numerical checks against vaegan's own implementations.

Each exercise names a template file, the class or function the student writes in it, and
the checks it must pass. Model exercises also run the model contract (``contract.py``).
A numerical check builds the student's model and vaegan's from the same config, copies
vaegan's weights into the student's, seeds both the same way and compares the numbers:
same seed, same weights, same numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from vaegan.exercises.compare import compare_terms, same, seeded, twins
from vaegan.exercises.contract import NUM_CLASSES, CheckFailed, synthetic_batch
from vaegan.models import ACGAN, GAN, VAE, ConditionalVAE, GenerativeModel
from vaegan.models.cvaegan_losses import class_mean_feature_matching
from vaegan.models.distributions import DiagonalGaussian

VAE_TINY = {"latent_dim": 4, "network": {"kind": "mlp", "hidden": [32]}}
VAE_CONV = {"latent_dim": 4, "network": {"kind": "conv", "channels": [8, 16], "hidden": [], "norm": "batch"}}
GAN_TINY = {"latent_dim": 4, "network": {"channels": [8, 16], "hidden": []}, "discriminator": {"channels": [8, 16]}}

Check = Callable[[Any], None]


@dataclass(frozen=True)
class Exercise:
    key: str  # the template's file stem
    title: str
    target: str  # the class or function the student writes
    checks: dict[str, Check]
    shipped: type[GenerativeModel] | None = None  # a model exercise: its vaegan counterpart
    overrides: dict[str, Any] = field(default_factory=dict)  # the tiny config both are built from


# -- 1, 2: the Gaussian posterior ------------------------------------------
def _params(requires_grad: bool = False) -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(7)
    mean, logvar = torch.randn(3, 2, generator=g), torch.randn(3, 2, generator=g)
    return mean.requires_grad_(requires_grad), logvar.requires_grad_(requires_grad)


def _sample_shapes(cls) -> None:
    q = cls(*_params())
    for n, shape in ((None, (3, 2)), (5, (5, 3, 2))):
        z = q.sample(n)
        if not isinstance(z, Tensor) or tuple(z.shape) != shape:
            raise CheckFailed(f"sample(n={n}) should have shape {shape}, got {getattr(z, 'shape', z)}")


def _sample_numbers(cls) -> None:
    mean, logvar = _params()
    torch.manual_seed(11)
    got = cls(mean, logvar).sample(4, generator=torch.Generator().manual_seed(1))
    torch.manual_seed(12)  # another global state: draws from the generator do not move
    again = cls(mean, logvar).sample(4, generator=torch.Generator().manual_seed(1))
    if not torch.equal(got, again):
        raise CheckFailed(
            "two draws with the same generator differ: eps must come from it, "
            "torch.randn(shape, generator=generator), not torch.randn_like or the global seed"
        )
    same(got, DiagonalGaussian(mean, logvar).sample(4, generator=torch.Generator().manual_seed(1)), "sample(4)")


def _sample_gradients(cls) -> None:
    mean, logvar = _params(requires_grad=True)
    z = cls(mean, logvar).sample(generator=torch.Generator().manual_seed(1))
    if not z.requires_grad:
        raise CheckFailed("z carries no gradient: compute it from mean and logvar, not from a detached copy")
    z.sum().backward()
    if mean.grad is None or not torch.allclose(mean.grad, torch.ones_like(mean)):
        raise CheckFailed("dz/dmean should be 1 everywhere (z = mean + sigma * eps)")
    eps = (z.detach() - mean.detach()) / torch.exp(0.5 * logvar.detach())
    if logvar.grad is None or not torch.allclose(logvar.grad, 0.5 * torch.exp(0.5 * logvar.detach()) * eps, atol=1e-5):
        raise CheckFailed("dz/dlogvar should be sigma * eps / 2: is sigma = exp(logvar / 2)?")


def _kl_at_prior(cls) -> None:
    kl = cls(torch.zeros(4, 3), torch.zeros(4, 3)).kl_per_dim()
    same(kl, torch.zeros(4, 3), "KL of N(0, I) to itself")


def _kl_numbers(cls) -> None:
    mean, logvar = _params()
    same(cls(mean, logvar).kl_per_dim(), DiagonalGaussian(mean, logvar).kl_per_dim(), "kl_per_dim()")


def _kl_non_negative(cls) -> None:
    g = torch.Generator().manual_seed(3)
    kl = cls(3 * torch.randn(50, 4, generator=g), 3 * torch.randn(50, 4, generator=g)).kl_per_dim()
    if (kl < -1e-6).any():
        raise CheckFailed("a KL divergence is never negative; yours is for some parameters")


# -- 3, 4: the VAE's objective and the IWAE bound ---------------------------
def _elbo_numbers(cls) -> None:
    mine, theirs = twins(cls, VAE, VAE_TINY)
    batch = synthetic_batch(theirs)
    compare_terms(seeded(1, lambda: mine.losses(batch)), seeded(1, lambda: theirs.losses(batch)), "losses(batch)")


def _elbo_beta(cls) -> None:
    mine, theirs = twins(cls, VAE, VAE_TINY, kl_weight=0.25)
    batch = synthetic_batch(theirs)
    compare_terms(seeded(2, lambda: mine.losses(batch)), seeded(2, lambda: theirs.losses(batch)), "with kl_weight=0.25")


def _elbo_warmup(cls) -> None:
    mine, theirs = twins(cls, VAE, VAE_TINY, kl_warmup_epochs=4)
    for model in (mine, theirs):
        model.on_epoch_start(1)  # a quarter of the way up the ramp: loss = recon + kl / 4
    batch = synthetic_batch(theirs)
    compare_terms(
        seeded(2, lambda: mine.losses(batch)),
        seeded(2, lambda: theirs.losses(batch)),
        "in epoch 1 of a 4-epoch warm-up",
    )


def _elbo_gradients(cls) -> None:
    mine, _ = twins(cls, VAE, VAE_TINY)
    # the reconstruction term alone: it reaches the encoder only through z (the KL reaches it anyway)
    seeded(1, lambda: mine.losses(synthetic_batch(mine))["recon"]).backward()
    if any(p.grad is None or not p.grad.any() for p in mine.encoder.parameters()):
        raise CheckFailed(
            "the reconstruction term sends no gradient to every encoder weight: sample z with the reparameterisation"
        )


def _iwae_numbers(k: int) -> Check:
    def check(cls) -> None:
        mine, theirs = twins(cls, VAE, VAE_TINY)
        x = synthetic_batch(theirs).x
        got = seeded(3, lambda: mine.log_likelihood(x, k=k))
        expected = seeded(3, lambda: theirs.log_likelihood(x, k=k, chunk_rows=10**6))
        try:
            same(got, expected, f"log_likelihood(x, k={k})")
        except CheckFailed as failed:
            if k == 1:
                raise
            offset = (got.detach() - expected).float()
            if torch.allclose(offset.abs(), torch.full_like(offset, math.log(k)), atol=1e-3):
                raise CheckFailed(
                    f"{failed}: by log {k} for every image; the average of k weights is their logsumexp minus log k"
                ) from None
            ones = seeded(3, lambda: mine.log_likelihood(x, k=1))
            if not torch.allclose(ones, seeded(3, lambda: theirs.log_likelihood(x, k=1)), atol=1e-4, rtol=1e-3):
                raise
            raise CheckFailed(
                f"{failed}; k = 1 agrees, so look at how the k draws are combined, and at the order of the rows: "
                "q.sample(k) is (k, B, D), so flattened, row i * B + b is image b's i-th draw, and x must be "
                "repeated the same way, x.repeat(k, 1, ...), not repeat_interleave"
            ) from None

    return check


def _iwae_inference(cls) -> None:
    """On a model with batch norm, in training mode: an estimate, not a loss, so eval mode and no gradients."""
    mine, theirs = twins(cls, VAE, VAE_CONV)
    x = synthetic_batch(theirs).x
    mine.train()
    got = seeded(3, lambda: mine.log_likelihood(x, k=4))
    why = "keep @inference on log_likelihood: an estimate runs batch norm on its running statistics, without gradients"
    if got.requires_grad or not mine.training:
        raise CheckFailed(f"log_likelihood kept gradients or left the model in eval mode; {why}")
    mine.eval()  # and a caller in eval mode (an evaluation) stays there
    seeded(3, lambda: mine.log_likelihood(x, k=4))
    if mine.training:
        raise CheckFailed(f"log_likelihood left a model that was in eval mode in training mode; {why}")
    mine.train()
    try:
        same(got, seeded(3, lambda: theirs.log_likelihood(x, k=4)), "log_likelihood(x, k=4) on a conv VAE")
    except CheckFailed as failed:
        raise CheckFailed(f"{failed}; {why}") from None


# -- 5, 6: the GAN family ----------------------------------------------------
def _two_steps(cls, shipped, overrides) -> None:
    """Two steps with the same optimisers: a second step shows gradients left over from the first."""
    mine, theirs = twins(cls, shipped, overrides)
    batch = synthetic_batch(theirs)
    ours, yours = theirs.configure_optimizers(), mine.configure_optimizers()
    for step in (1, 2):
        got = seeded(4 + step, lambda: mine.train_step(batch, yours))
        compare_terms(got, seeded(4 + step, lambda: theirs.train_step(batch, ours)), f"train_step, step {step}")
        for (name, a), b in zip(mine.named_parameters(), theirs.parameters()):
            same(a, b, f"the weights {name} after step {step} (zero each optimiser's gradients before its step)")


def _gan_step(cls) -> None:
    _two_steps(cls, GAN, GAN_TINY)


def _gradients(module: torch.nn.Module) -> dict[str, torch.Tensor | None]:
    return {name: None if p.grad is None else p.grad.clone() for name, p in module.named_parameters()}


def _gan_discriminator_gradients(cls) -> None:
    """D's gradients as each optimiser steps (where they are zeroed does not matter): when D steps, they are
    D's loss's and G has none of its own (D's loss must not reach G); when G steps, G's loss added none."""
    mine, theirs = twins(cls, GAN, GAN_TINY)
    batch = synthetic_batch(theirs)
    seen: dict[str, dict[str, torch.Tensor | None]] = {}
    optimizers = mine.configure_optimizers()
    for player, optimizer in optimizers.items():
        step = optimizer.step

        def spied(*args, player=player, step=step, **kwargs):
            seen[player] = _gradients(mine.discriminator)
            if player == "discriminator":
                reached = [n for n, g in _gradients(mine.generator).items() if g is not None and bool(g.any())]
                if reached:
                    raise CheckFailed(
                        f"when D's optimiser stepped, G's weights held gradients ({reached[0]}, ...): D's loss "
                        "reached G; score the fakes as fake.detach() in D's step (retain_graph=True only hides it)"
                    )
            return step(*args, **kwargs)

        optimizer.step = spied
    seeded(4, lambda: mine.train_step(batch, optimizers))
    seeded(4, lambda: theirs.train_step(batch, theirs.configure_optimizers()))
    if "discriminator" not in seen:
        raise CheckFailed("D's optimiser never stepped: call optimizers['discriminator'].step()")
    for (name, b), a in zip(theirs.discriminator.named_parameters(), seen["discriminator"].values()):
        if a is None:
            raise CheckFailed(f"discriminator.{name} had no gradient when D stepped: did D's loss call backward()?")
        same(a, b.grad, f"D's gradient {name} when D's optimiser stepped")
    for name, before in seen["discriminator"].items():
        after = seen.get("generator", {}).get(name)
        if after is not None and bool(after.any()) and not torch.allclose(after, before):
            raise CheckFailed(f"G's loss added to D's gradient {name}: freeze D while G's loss backpropagates")


def _acgan_head(cls) -> None:
    mine, _ = twins(cls, ACGAN, GAN_TINY)
    out = mine.discriminate(synthetic_batch(mine).x)
    if tuple(out.source.shape) != (6,) or out.classes is None or tuple(out.classes.shape) != (6, NUM_CLASSES):
        raise CheckFailed(f"discriminate(x) should give source (6,) and classes (6, {NUM_CLASSES}) logits")


def _acgan_step(cls) -> None:
    _two_steps(cls, ACGAN, {**GAN_TINY, "class_weight": 0.5})  # the class terms weighted, as configured


# -- 7: the conditional VAE --------------------------------------------------
def _cvae_condition(cls) -> None:
    mine, _ = twins(cls, ConditionalVAE, VAE_TINY)
    same(mine.condition(torch.tensor([2, 0])), torch.tensor([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]), "condition([2, 0])")
    # A batch without the top class: F.one_hot(labels) without K would be as wide as the largest label + 1
    top_missing = mine.condition(torch.tensor([1, 0]))
    if not isinstance(top_missing, Tensor) or tuple(top_missing.shape) != (2, NUM_CLASSES):
        shape = tuple(top_missing.shape) if isinstance(top_missing, Tensor) else type(top_missing).__name__
        raise CheckFailed(
            f"condition([1, 0]) should have shape (2, {NUM_CLASSES}) (K = num_classes = {NUM_CLASSES}), got {shape}: "
            "a batch may lack the top class; give the class count, F.one_hot(labels, self.config.num_classes)"
        )
    same(top_missing, torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]), "condition([1, 0])")
    try:
        mine.condition(None)
    except ValueError:
        return
    raise CheckFailed("condition(None) should raise a ValueError: a conditional model needs labels")


def _cvae_numbers(cls) -> None:
    mine, theirs = twins(cls, ConditionalVAE, VAE_TINY)
    batch = synthetic_batch(theirs)
    compare_terms(seeded(5, lambda: mine.losses(batch)), seeded(5, lambda: theirs.losses(batch)), "losses(batch)")
    labels = torch.tensor([0, 1, 2])
    got = mine.sample(3, labels, torch.Generator().manual_seed(6))
    same(got, theirs.sample(3, labels, torch.Generator().manual_seed(6)), "sample(3, labels)")
    zeros = torch.zeros(3, dtype=torch.long)  # one class only: the code must still be K wide
    got = mine.sample(3, zeros, torch.Generator().manual_seed(7))
    same(got, theirs.sample(3, zeros, torch.Generator().manual_seed(7)), "sample(3, labels=[0, 0, 0])")


# -- 8: CVAE-GAN's class-mean feature matching -------------------------------
def _features(requires_grad: bool = False):
    g = torch.Generator().manual_seed(8)
    real, fake = torch.randn(8, 5, generator=g), torch.randn(6, 5, generator=g).requires_grad_(requires_grad)
    return real, fake, torch.tensor([0, 1, 2, 3, 0, 1, 2, 3]), torch.tensor([0, 0, 1, 1, 2, 4])


def _fm_identical(fn) -> None:
    real, _, labels, _ = _features()
    same(fn(real, real.clone(), labels, labels, 5), torch.tensor(0.0), "identical features")


def _fm_numbers(fn) -> None:
    args = _features()
    same(fn(*args, 5), class_mean_feature_matching(*args, 5), "L_GC with classes missing from each batch")


def _fm_gradients(fn) -> None:
    real, fake, a, b = _features(requires_grad=True)
    loss = fn(real, fake, a, b, 5)
    if not isinstance(loss, Tensor) or not loss.requires_grad:
        raise CheckFailed("the loss carries no gradient to the fakes' features: keep it differentiable (no detach)")
    loss.backward()
    if fake.grad is None:
        raise CheckFailed("no gradient reached the fakes' features: keep the loss differentiable in them (no detach)")
    expected_fake = fake.detach().clone().requires_grad_(True)
    class_mean_feature_matching(real, expected_fake, a, b, 5).backward()
    same(fake.grad, expected_fake.grad, "the gradient for the fakes")


EXERCISES = [
    Exercise(
        "ex01_reparameterisation",
        "VAE: the reparameterisation trick",
        "ReparameterisedGaussian",
        {
            "sample has shape (B, D), or (n, B, D)": _sample_shapes,
            "gradients reach mean and logvar": _sample_gradients,  # before the numbers: it names the usual slip
            "sample gives vaegan's numbers for the same seed": _sample_numbers,
        },
    ),
    Exercise(
        "ex02_kl_divergence",
        "VAE: closed-form KL to the prior",
        "ClosedFormKL",
        {
            "KL(N(0, I) || N(0, I)) = 0": _kl_at_prior,
            "kl_per_dim gives vaegan's numbers": _kl_numbers,
            "KL is never negative": _kl_non_negative,
        },
    ),
    Exercise(
        "ex03_elbo",
        "VAE: the negative ELBO",
        "ELBOVAE",
        {
            "losses give vaegan's recon, kl and loss": _elbo_numbers,
            "kl_weight (beta) scales the KL term": _elbo_beta,
            "the KL warm-up ramps beta up over its epochs": _elbo_warmup,
            "the reconstruction trains the encoder through z (reparameterised)": _elbo_gradients,
        },
        shipped=VAE,
        overrides=VAE_TINY,
    ),
    Exercise(
        "ex04_iwae",
        "VAE: the importance-weighted bound (IWAE)",
        "IWAEVAE",
        {
            "k = 1 gives vaegan's estimate": _iwae_numbers(1),
            "k = 16 gives vaegan's estimate": _iwae_numbers(16),
            "in eval mode and without gradients (batch norm)": _iwae_inference,
        },
        shipped=VAE,
        overrides=VAE_TINY,
    ),
    Exercise(
        "ex05_gan_train_step",
        "GAN: train_step with two optimisers",
        "MyGAN",
        {
            "two steps give vaegan's losses and weights": _gan_step,
            "D's gradients come from D's loss alone": _gan_discriminator_gradients,
        },
        shipped=GAN,
        overrides=GAN_TINY,
    ),
    Exercise(
        "ex06_acgan_hooks",
        "ACGAN: the auxiliary-classifier hooks",
        "MyACGAN",
        {
            "D's head: 1 source + K class logits": _acgan_head,
            "two steps with class_weight 0.5 give vaegan's losses and weights": _acgan_step,
        },
        shipped=ACGAN,
        overrides=GAN_TINY,
    ),
    Exercise(
        "ex07_cvae_conditioning",
        "cVAE: conditioning on the label",
        "MyConditionalVAE",
        {"condition() is one-hot and needs labels": _cvae_condition, "vaegan's losses and samples": _cvae_numbers},
        shipped=ConditionalVAE,
        overrides=VAE_TINY,
    ),
    Exercise(
        "ex08_cvaegan_feature_matching",
        "CVAE-GAN: class-mean feature matching",
        "class_mean_feature_matching",
        {
            "zero for identical features": _fm_identical,
            "vaegan's numbers, classes missing from a batch ignored": _fm_numbers,
            "vaegan's gradients": _fm_gradients,
        },
    ),
]

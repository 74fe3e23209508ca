"""What a conditional model learned about a disease: disease-effect maps, scored against true atrophy.

A disease-effect map encodes a subject with one label and decodes the same
code twice, with the target and the source label:
``effect = decode(z, target) - decode(z, source)``, ``z ~ q(z | x, source)``.
With the subject's anatomy held in ``z``, the difference is the model's idea of
what the disease does to that brain (negative where tissue is lost in T1w).

Group and individual maps, scored against the phantoms' true atrophy, are in
``disease_maps.py`` and ``subject_maps.py`` (:func:`~vaegan.visualization.disease_maps.summarize_effects`,
:func:`~vaegan.visualization.subject_maps.individual_maps`).

The counterfactual is *residual* by default, ``x + decode(z, CN) - decode(z, AD)``:
the reconstruction error ``x - decode(z, AD)`` is the same in both decodings
and cancels, so the map holds only what the label changes, not what the model
failed to reconstruct. Averaging over several posterior samples smooths what a
single code's decoding adds at random. On phantoms all of it is checked against
the true atrophy. Whether the latent code itself carries the diagnosis is
:mod:`vaegan.visualization.disease_codes`.

Example:
    >>> effect = disease_effect(cvae, cn_images, source=0, target=1, samples=8)  # doctest: +SKIP
    >>> effect.shape == cn_images.shape  # doctest: +SKIP
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import replace
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from vaegan.models.vae import check_refine
from vaegan.visualization.codes import decode, evaluating
from vaegan.visualization.intervals import row_pearson

if TYPE_CHECKING:
    from vaegan.models.base import GenerativeModel


def _codes(model: GenerativeModel, x: Tensor, label: int, samples: int, seed: int, chunk: int) -> Tensor:
    """(S, N, D) codes of ``x`` encoded with ``label``: the posterior mean (S = 1), or S posterior draws.

    The draws are made on the CPU, as the models' prior noise is, so a seed gives the same maps on any device.
    """
    generator = torch.Generator().manual_seed(seed)
    out = []
    with evaluating(model):
        for start in range(0, len(x), chunk):
            batch = x[start : start + chunk].to(model.device)
            y = torch.full((len(batch),), label, device=model.device)
            if samples > 1 and model.probabilistic:
                q = model.posterior(batch, y)
                out.append(replace(q, mean=q.mean.cpu(), logvar=q.logvar.cpu()).sample(samples, generator=generator))
            else:
                out.append(model.encode(batch, y).cpu().unsqueeze(0).expand(samples, -1, -1))
    return torch.cat(out, 1)


def fitted_name(model: GenerativeModel) -> str:
    """What ``refine`` fits to each image of ``model``: its code, and with a warped decoder its warp too."""
    return "MAP code and warp" if getattr(model.config, "warp_points", 0) else "MAP code"


def _refined(
    model: GenerativeModel,
    x: Tensor,
    label: int,
    decodings: Sequence[Tensor],
    steps: int,
    samples: int,
    chunk: int = 16,
) -> list[Tensor]:
    """``x`` encoded with ``label`` by each image's MAP code and, with a warped decoder, its own fitted warp
    (:meth:`~vaegan.models.ConditionalVAE.map_code_and_warp`), decoded with each label tensor of ``decodings``
    ((N,) or (N, K) each): one (N, C, *S) per decoding, on the CPU. ``chunk`` images are fitted at a time
    (each step backpropagates through the decoder)."""
    check_refine(model, steps)
    if samples != 1:
        raise ValueError(f"refine={steps} gives one code per image (its MAP code), not {samples} draws: samples=1")
    out: list[list[Tensor]] = [[] for _ in decodings]
    with evaluating(model):
        for start in range(0, len(x), chunk):
            batch = x[start : start + chunk].to(model.device)
            z, points = model.map_code_and_warp(batch, torch.full((len(batch),), label), steps=steps)
            with model.decoder.fixed(points) if points is not None else nullcontext():
                for images, labels in zip(out, decodings):
                    images.append(model.generate(z, labels[start : start + chunk].to(model.device)).float().cpu())
    return [torch.cat(images) for images in out]


def disease_effect(
    model: GenerativeModel,
    x: Tensor,
    *,
    source: int,
    target: int,
    samples: int = 1,
    seed: int = 0,
    chunk: int = 256,
    amount: Tensor | None = None,
    refine: int = 0,
) -> Tensor:
    """Per image: decode(z, target) - decode(z, source), z = encode(x, source); (N, C, *S) on the CPU.

    Args:
        samples: 1 decodes the posterior mean; more average the difference over
            that many posterior draws (probabilistic models; others use the mean).
        seed: the draws' seed, so a map is reproducible.
        refine: > 0 decodes each image's MAP code instead (:meth:`~vaegan.models.VAE.map_code`, that many
            Adam steps from the posterior mean; ``samples`` 1): the code that explains this image best, where
            the encoder only guesses it. With a warped decoder (``model.warp_points``) the warp is fitted to
            the image with it (:meth:`~vaegan.models.ConditionalVAE.map_code_and_warp`), so the disease
            pattern lands on the image's own anatomy, not on where the code guesses it.
        amount: (N,) how much of ``source`` each image shows (:func:`disease_amount`): the second
            decoding is then of the label mix amount * source + (1 - amount) * target, so the effect
            is that image's own amount of the class, not the class's average.
    """
    if not (model.conditional and model.has_encoder):
        raise ValueError(f"{type(model).__name__} is not a conditional model with an encoder (e.g. cvae, cvaegan)")
    if samples < 1:
        raise ValueError(f"samples={samples}: need at least 1 posterior draw")
    shown = torch.full((len(x),), source) if amount is None else _mix(model, amount, source, target)
    if refine:
        changed, kept = _refined(model, x, source, [torch.full((len(x),), target), shown], refine, samples)
        return changed - kept
    total = torch.zeros(x.shape, dtype=torch.float32)
    for z in _codes(model, x, source, samples, seed, chunk):  # (N, D) each
        total += decode(model, z, torch.full((len(z),), target)) - decode(model, z, shown)
    return total / samples


def _mix(model: GenerativeModel, amount: Tensor, source: int, target: int) -> Tensor:
    """(N, K) class weights amount * source + (1 - amount) * target, for models with soft labels."""
    if not model.soft_labels:
        raise ValueError(f"{type(model).__name__} takes no soft labels (class weights): no amount of a class to draw")
    weights = torch.zeros(len(amount), model.config.num_classes)
    weights[:, source], weights[:, target] = amount.float(), 1.0 - amount.float()
    return weights


def disease_amount(
    model: GenerativeModel,
    x: Tensor,
    *,
    source: int,
    target: int,
    groups: Tensor | None = None,
    grid: Tensor | None = None,
    refine: int = 0,
) -> Tensor:
    """How much of ``source`` each image shows, (N,): the label mix that reconstructs it best.

    Each image is encoded with ``source`` (posterior mean) and decoded with the labels
    a * source + (1 - a) * target for a on ``grid`` (default 0, 0.05, ..., 2: 1 is the class's
    average, above 1 more than it); the a with the least squared error is the image's amount.
    On the phantoms it follows each AD subject's true severity (r 0.79 for ``ad_cvae_3d``).
    ``groups`` (N,): images of one subject (2-D slices) share the a that fits them together.
    ``refine`` > 0: from each image's MAP code and fitted warp (:func:`disease_effect`).
    """
    grid = torch.linspace(0.0, 2.0, 41) if grid is None else grid
    _mix(model, grid[:1], source, target)  # refuses a model without soft labels before any work
    x = x.detach().cpu()  # compared with decodings, which come back on the CPU
    mixes = [_mix(model, a.expand(len(x)), source, target) for a in grid]
    if refine:
        drawn = _refined(model, x, source, mixes, refine, 1)
    else:
        (z,) = _codes(model, x, source, 1, 0, 256)  # (N, D) posterior means
        drawn = [decode(model, z, mix) for mix in mixes]
    errors = torch.stack([(image - x).pow(2).flatten(1).sum(1) for image in drawn], 1)  # (N, G)
    if groups is not None:
        unique, inverse = groups.unique(return_inverse=True)
        errors = torch.zeros(len(unique), len(grid), dtype=errors.dtype).index_add_(0, inverse, errors)[inverse]
    return grid[errors.argmin(1)]


def counterfactual(
    model: GenerativeModel,
    x: Tensor,
    *,
    source: int,
    target: int,
    residual: bool = True,
    samples: int = 1,
    seed: int = 0,
    amount: Tensor | None = None,
    refine: int = 0,
) -> Tensor:
    """``x`` as the model would draw it with label ``target``: (N, C, *S) on the CPU, clipped to [0, 1].

    Residual (default): ``x + decode(z, target) - decode(z, source)``, which keeps
    everything of ``x`` the label does not explain (its noise, bias field and the
    detail the decoder cannot reproduce). Otherwise ``decode(z, target)``, which
    carries the reconstruction error along with the change. ``amount``, ``refine``: see :func:`disease_effect`
    (``amount``: residual counterfactuals only).
    """
    x = x.detach().cpu()  # the maps come back on the CPU, so the image they are added to must be there
    if residual:
        change = disease_effect(
            model, x, source=source, target=target, samples=samples, seed=seed, amount=amount, refine=refine
        )
        return (x.float() + change).clamp(0.0, 1.0)
    if amount is not None:
        raise ValueError("an amount of the disease scales residual counterfactuals only; decode(z, target) has none")
    if not (model.conditional and model.has_encoder):
        raise ValueError(f"{type(model).__name__} is not a conditional model with an encoder (e.g. cvae, cvaegan)")
    if refine:
        return _refined(model, x, source, [torch.full((len(x),), target)], refine, samples)[0]
    total = torch.zeros(x.shape, dtype=torch.float32)
    for z in _codes(model, x, source, samples, seed, 256):
        total += decode(model, z, torch.full((len(z),), target))
    return total / samples


def loss_only(loss: Tensor) -> Tensor:
    """A tissue-loss map with its negative values set to 0.

    Neurodegeneration removes tissue; it never adds it. Where a map says the
    disease *adds* intensity, that is noise of the map (the decoder's, or the
    subjects' variability for the model-free map), so a one-sided map drops it.
    """
    return loss.clamp_min(0.0)


def subject_means(rows: Tensor, subjects: Sequence[str]) -> Tensor:
    """(N, ...) one row per scan -> (S, ...) one per subject, the mean of its scans, in first-seen order.

    A subject scanned at several sessions then counts once in a group's mean, as one subject, and a
    jackknife over the rows leaves out a subject rather than one of its scans.
    """
    order = {subject: i for i, subject in enumerate(dict.fromkeys(subjects))}
    if len(order) == len(subjects):
        return rows
    index = torch.tensor([order[s] for s in subjects], device=rows.device)
    sums = rows.new_zeros(len(order), *rows.shape[1:]).index_add_(0, index, rows)
    counts = torch.bincount(index, minlength=len(order)).to(rows.dtype)
    return sums / counts.view(-1, *[1] * (rows.dim() - 1))


def pearson(a: Tensor, b: Tensor, mask: Tensor | None = None) -> float:
    """Pearson correlation of two maps of the same shape, over ``mask`` (all voxels if None)."""
    a, b = a.float().flatten(), b.float().flatten()
    if mask is not None:
        keep = mask.flatten().bool()
        a, b = a[keep], b[keep]
    return float(row_pearson(a, b))

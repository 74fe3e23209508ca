"""Each disease subject's own disease map, scored against its own true atrophy.

- Individual maps (:func:`individual_maps`): each disease subject's
  counterfactual "this subject without the disease" (encode with AD, decode as
  CN) minus the subject itself, against that subject's own true atrophy, beside
  the model-free map (mean control image minus the subject).
  Scans without a true atrophy get the same maps, unscored (``truth`` None, r NaN).
- The ceiling (:func:`true_counterfactual_maps`): each subject's healthy twin
  minus the subject, scored alike: what a perfect model would reach.
- The floor (:func:`group_difference_maps`): the training subjects' group
  difference handed to every subject, scored alike: what a model's individual
  maps must beat to say anything a group study does not.

The group map is :mod:`vaegan.visualization.disease_maps`.

Example:
    >>> maps = individual_maps(cvae, test_volumes, config.data.mri, samples=8)  # doctest: +SKIP
    >>> print(maps.describe())  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from vaegan.visualization.disease_effects import (
    counterfactual,
    disease_amount,
    fitted_name,
    loss_only,
    pearson,
    subject_means,
)
from vaegan.visualization.disease_maps import group_difference, images_and_maps, per_position, subjects_where

if TYPE_CHECKING:
    import numpy as np

    from vaegan.data.config import MRIConfig
    from vaegan.data.mri import MRIVolumes
    from vaegan.models.base import GenerativeModel


# the amounts of the disease --scaled searches (1: the class's average; above 1, more than it)
AMOUNTS = torch.linspace(0.0, 2.0, 41)


def amount_bound(amount: float) -> str:
    """Which end of :data:`AMOUNTS` ``amount`` lies at ("top", "bottom"), else "": there the fit was cut off."""
    low, high = float(AMOUNTS[0]), float(AMOUNTS[-1])
    return "top" if amount >= high - 1e-6 else "bottom" if amount <= low + 1e-6 else ""


@dataclass
class IndividualMaps:
    """Each disease subject's map of what the disease took, against its own true atrophy.

    Attributes:
        loss: (N, P, 1, *S) counterfactual control image minus the subject's image
            (the intensity the model says the disease removed; positive = loss).
        baseline: (N, P, 1, *S) the model-free map: mean control image minus the subject's image.
        images: (N, P, 1, *S) the subjects' images.
        truth: (N, P, 1, *S) the subject's true tissue loss; None for scans without one (every r NaN).
        subjects: the subject id of each of the N maps (one per scan: a subject with sessions has several).
        r: (N,) Pearson r of ``loss`` with ``truth`` inside the brain, per subject.
        r_baseline: (N,) the same for ``baseline``.
        r_group: r of the mean of ``loss`` over the subjects with the mean of ``truth``.
        brain: (P, 1, *S) the mask the correlations are taken in.
        amounts: (N,) each subject's amount of the disease (``scaled`` maps), else None.
        grid: the volumes' voxel -> MNI152 mm affine (:attr:`MRIVolumes.grid`), or None (nominal mm).
        refine: the MAP-code (and warp) steps each map was decoded from (0: the encoder's posterior).
        fitted: what those steps fitted to each scan (:func:`~vaegan.visualization.disease_effects.fitted_name`).

    Example:
        >>> maps = individual_maps(cvae, test_volumes, config.data.mri)  # doctest: +SKIP
        >>> maps.quartiles()  # doctest: +SKIP
        (0.41, 0.55, 0.63)
    """

    loss: Tensor
    baseline: Tensor
    images: Tensor
    truth: Tensor | None
    subjects: list[str]
    r: Tensor
    r_baseline: Tensor
    r_group: float
    brain: Tensor
    amounts: Tensor | None = None
    grid: np.ndarray | None = None
    refine: int = 0
    fitted: str = "MAP code"

    def quartiles(
        self, baseline: bool = False, one_sided: bool = False, specific: bool = False
    ) -> tuple[float, float, float]:
        """(25th percentile, median, 75th percentile) of the per-subject r (a subject's scans: their mean r).

        Args:
            baseline: of the model-free maps instead of the model's.
            one_sided: of :func:`loss_only` maps.
            specific: of what is individual: each map minus the subjects' mean map, against each true
                atrophy minus their mean atrophy. A map that draws the group pattern into every subject
                scores well per subject and about 0 here. NaN with fewer than two subjects: one
                subject is its own mean, and nothing is left to score.
        """
        if one_sided and specific:
            raise ValueError("choose one_sided or specific, not both")
        if self.truth is None:  # scans: nothing to score against
            return (float("nan"),) * 3
        r = self.r_baseline if baseline else self.r
        maps = self.baseline if baseline else self.loss
        if one_sided:
            r = torch.tensor([pearson(loss_only(m), t, self.brain) for m, t in zip(maps, self.truth)])
        if specific and len(set(self.subjects)) < 2:
            return (float("nan"),) * 3
        if specific:
            mean_map = subject_means(maps, self.subjects).mean(0, keepdim=True)
            mean_truth = subject_means(self.truth, self.subjects).mean(0, keepdim=True)
            r = torch.tensor([pearson(m, t, self.brain) for m, t in zip(maps - mean_map, self.truth - mean_truth)])
        r = subject_means(r.double(), self.subjects)  # one figure per subject, however many sessions
        q = torch.quantile(r, torch.tensor([0.25, 0.5, 0.75], dtype=torch.float64))
        return tuple(float(v) for v in q)

    def amounts_cut_off(self, disease: str) -> list[str]:
        """A line for each end of :data:`AMOUNTS` that fitted amounts lie at (how many, and what that means);
        empty when none does, or the maps are not ``scaled``."""
        if self.amounts is None:
            return []
        ends = [amount_bound(a) for a in self.amounts.tolist()]
        low, high = (f"{float(AMOUNTS[i]):g}" for i in (0, -1))
        meaning = {
            "top": f"the model's {disease} label moves its decoding less than these scans differ, so their amounts "
            "(and their maps, scaled by them) are cut off there, not measured",
            "bottom": f"the model finds no {disease} in these scans, so their scaled maps remove nothing",
        }
        lines = []
        for end, value in (("top", high), ("bottom", low)):
            count = ends.count(end)
            if count:
                lines.append(
                    f"{count} of {len(ends)} {disease} scans' fitted amounts are {value}, the {end} of the amounts "
                    f"searched ({low} to {high}, 1 = the class's average): {meaning[end]}"
                )
        return lines

    def describe(self) -> str:
        """One line: the median and quartiles of the per-subject r, and the model-free map's median r."""
        people = len(set(self.subjects))
        counted = f"{people} disease subject(s)"
        if people != len(self.subjects):
            counted = f"{len(self.subjects)} disease scans of {people} subjects"
        if self.refine:
            counted += f", each map from its {self.fitted} ({self.refine} steps)"
        if self.truth is None:
            return f"{counted}; no true atrophy to score their maps against (scans)"
        low, median, high = self.quartiles()
        return (
            f"{counted}: median r = {median:.2f} [IQR {low:.2f} .. {high:.2f}]; "
            f"model-free median r = {self.quartiles(baseline=True)[1]:.2f}"
        )


def individual_maps(
    model: GenerativeModel,
    data: MRIVolumes,
    options: MRIConfig,
    *,
    control: int = 0,
    disease: int = 1,
    residual: bool = True,
    samples: int = 1,
    scaled: bool = False,
    seed: int = 0,
    refine: int = 0,
) -> IndividualMaps:
    """For each disease subject: "this subject without the disease" minus the subject, vs its true atrophy.

    Every disease subject is encoded with the disease label and decoded as a
    control (:func:`counterfactual`). The brain mask (mean image of all
    subjects > 0.1) and the model-free baseline (mean control image minus the
    subject) use the same subjects as the model.

    Args:
        model: a conditional model with an encoder, trained on images shaped like ``options`` gives.
        data: volumes of both classes, e.g. the test subjects; with ``maps`` (true tissue loss) each map is
            scored, without them (scans) only drawn (``truth`` None, every r NaN).
        options: how volumes become the model's images (2-D slices or 3-D).
        control: the class index of the controls (CN).
        disease: the class index of the disease (AD).
        residual: residual counterfactuals (the reconstruction error cancels); else decode(z, CN) - x.
        samples: posterior draws each map is averaged over; ``seed``: theirs.
        scaled: remove each subject's own amount of the disease (:func:`disease_amount`, fitted over
            all of its images, one of :data:`AMOUNTS`) instead of the class's average amount: a mildly
            affected subject's map is then weaker than a severe one's (models with soft labels; residual maps).
        refine: decode each image's MAP code, that many steps from the encoder's mean (``samples`` 1), the
            code that explains the subject best, and with a warped decoder the warp fitted to the image with it
            (:func:`~vaegan.visualization.disease_effects.disease_effect`): the disease pattern is then
            placed on the subject's own anatomy by a registration, not by the code's guess. On the phantoms
            this lifts the shipped cVAEs' maps above the floor (benchmarks/ad_effects.md).
    """
    if refine and samples != 1:
        raise ValueError(f"refine={refine} gives one code per image (its MAP code), not {samples} draws: samples=1")
    if scaled and not residual:
        raise ValueError("scaled=True scales residual counterfactuals only: pass residual=True")
    amounts: list[Tensor] = []

    def healthy(patients: Tensor) -> Tensor:  # (Na, P, 1, *S) -> their counterfactual control images
        flat = patients.flatten(0, 1)
        amount = None
        if scaled:
            subject = torch.arange(len(patients)).repeat_interleave(patients.shape[1])
            amount = disease_amount(
                model, flat, source=disease, target=control, groups=subject, grid=AMOUNTS, refine=refine
            )
            amounts.append(amount.view(len(patients), -1)[:, 0])
        drawn = counterfactual(
            model,
            flat,
            source=disease,
            target=control,
            residual=residual,
            samples=samples,
            seed=seed,
            amount=amount,
            refine=refine,
        )
        return drawn.view_as(patients)

    maps = _scored(data, options, healthy, control, disease)
    maps.amounts = amounts[0] if amounts else None
    maps.refine, maps.fitted = refine, fitted_name(model)
    return maps


def true_counterfactual_maps(
    data: MRIVolumes, twins: MRIVolumes, options: MRIConfig, *, control: int = 0, disease: int = 1
) -> IndividualMaps:
    """What :func:`individual_maps` would give with a perfect model: the ceiling of its scores, on phantoms.

    Each disease subject's map is its healthy twin (the same phantom generated
    without its disease, ``write_phantoms(atrophy_scale=0)``, preprocessed
    by the same pipeline, though registered on its own) minus the subject. Its r
    is a little below 1 because a map of intensity is scored against the tissue
    the disease removed, as a fraction of each voxel: grey and white matter lose
    different intensities for the same fraction, each scan's intensity
    normalisation shifts a little when tissue is lost, resampling blurs both, and
    the twin and its patient are registered each on its own.

    Args:
        data: the subjects, with ``maps``, as for :func:`individual_maps`.
        twins: the same subjects, in the same order, from the twin phantom set.
    """
    if twins.subjects != data.subjects:
        raise ValueError("twins must hold the same subjects as data, in the same order")
    twin_images = per_position(twins.volumes, options)
    disease_rows = (data.labels == disease).nonzero().flatten()
    return _scored(data, options, lambda patients: twin_images[disease_rows], control, disease)


def group_difference_maps(
    data: MRIVolumes, reference: MRIVolumes, options: MRIConfig, *, control: int = 0, disease: int = 1
) -> IndividualMaps:
    """Every disease subject's map is the ``reference`` subjects' group difference (mean control image minus
    mean disease image), scored like :func:`individual_maps` against each subject's own atrophy.

    One map for everyone, drawn without a model: the group study's answer to "what did the disease take
    from this patient". A model's individual maps tell something about the subject only where they score
    above it; on phantoms it scores close to a model whose maps are the group pattern (its median r is
    the group pattern's share in each subject's atrophy).

    Args:
        data: the subjects to score, as for :func:`individual_maps` (e.g. the test subjects).
        reference: other subjects of both classes, e.g. the ones a model was trained on.
    """
    shared = -group_difference(reference, options, control, disease)  # (P, 1, *S): the intensity the disease removes
    return _scored(data, options, lambda patients: patients + shared, control, disease)


def _scored(data: MRIVolumes, options: MRIConfig, healthy, control: int, disease: int) -> IndividualMaps:
    """Each disease subject's ``healthy(patients) - patient`` scored against its true atrophy (and the baseline)."""
    images, maps, is_control, is_disease = images_and_maps(data, options, control, disease, need_maps=False)
    patients = images[is_disease]  # (Na, P, 1, *S)
    loss = healthy(patients) - patients
    of_patients = subjects_where(data, is_disease)
    baseline = subject_means(images[is_control], subjects_where(data, is_control)).mean(0, keepdim=True) - patients
    truth = None if maps is None else maps[is_disease]
    brain = subject_means(images, data.subjects).mean(0) > 0.1

    def scored(losses: Tensor) -> Tensor:  # (Na,) r of each subject's map with its own truth
        if truth is None:
            return torch.full((len(losses),), float("nan"))
        return torch.tensor([pearson(m, t, brain) for m, t in zip(losses, truth)])

    r, r_baseline = scored(loss), scored(baseline)
    r_group = float("nan")  # the mean of the maps (one per subject) against the subjects' mean atrophy
    if truth is not None:
        r_group = pearson(subject_means(loss, of_patients).mean(0), subject_means(truth, of_patients).mean(0), brain)
    return IndividualMaps(loss, baseline, patients, truth, of_patients, r, r_baseline, r_group, brain, grid=data.grid)

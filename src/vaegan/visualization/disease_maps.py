"""The group disease-effect map scored against true atrophy (:func:`summarize_effects`).

The mean effect over the control subjects, against the mean true atrophy of the
disease subjects and the raw group difference of the same subjects. Scans without
a true atrophy (a researcher's own) get the same maps, unscored (``truth`` None,
r NaN). Each subject's own map is :mod:`vaegan.visualization.subject_maps`; the maps themselves
(:func:`~vaegan.visualization.disease_effects.disease_effect`, ``counterfactual``)
are in ``disease_effects.py``.

Example:
    >>> summary = summarize_effects(cvae, test_volumes, config.data.mri, samples=8)  # doctest: +SKIP
    >>> print(summary.describe())  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from torch import Tensor

from vaegan.visualization.disease_effects import disease_effect, loss_only, pearson, subject_means
from vaegan.visualization.intervals import group_map_intervals

if TYPE_CHECKING:
    import numpy as np

    from vaegan.data.config import MRIConfig
    from vaegan.data.mri import MRIVolumes
    from vaegan.models.base import GenerativeModel


@dataclass
class EffectSummary:
    """Mean maps over subjects, in the model's image space: (P, 1, *S), P = slice positions (2-D) or 1 (3-D).

    Attributes:
        effect: mean disease-effect map of the control subjects (decode AD - decode CN).
        truth: mean true tissue loss of the disease subjects; None for scans without one (r is then NaN).
        group_difference: mean disease image - mean control image (what the raw data shows).
        anatomy: mean control image, the background for figures.

    Every mean is over subjects: a subject with several scans (sessions) counts once, the mean of its scans.
        r_model: Pearson r of -effect with truth, inside the brain.
        r_group: Pearson r of -group_difference with truth, inside the brain.
        intervals: 95% jackknife intervals over the subjects of ``r_model``, ``r_group`` and
            ``margin`` (r_model - r_group, paired), and with a reference of ``r_reference`` and
            ``margin_reference`` (r_model - r_reference); empty when not asked for.
        reference: the reference subjects' (e.g. the training subjects') mean disease image minus
            their mean control image, the voxel-wise group difference (a GLM of the group alone);
            None without reference subjects.
        r_reference: Pearson r of -reference with truth, inside the brain (NaN without one).
        grid: the volumes' voxel -> MNI152 mm affine (:attr:`MRIVolumes.grid`), or None (nominal mm).

    Example:
        >>> summary = summarize_effects(cvae, test_volumes, config.data.mri)  # doctest: +SKIP
        >>> summary.effect.shape, round(summary.r_model, 2)  # doctest: +SKIP
        (torch.Size([17, 1, 64, 64]), 0.61)
    """

    effect: Tensor
    truth: Tensor | None
    group_difference: Tensor
    anatomy: Tensor
    r_model: float
    r_group: float
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    reference: Tensor | None = None
    r_reference: float = float("nan")
    grid: np.ndarray | None = None

    def describe(self) -> str:
        """One line: how well the model's map and the raw group difference match the true atrophy."""
        if self.truth is None:
            return "no true atrophy to score the maps against (scans, not phantoms): the maps are drawn, unscored"
        line = f"r(model map, true atrophy) = {self.r_model:.2f}; r(raw group difference) = {self.r_group:.2f}"
        low, high = self.intervals.get("margin", (float("nan"),) * 2)
        if low == low and high == high:  # measured, and not NaN (a group of one subject)
            line += f"; model - raw = {self.r_model - self.r_group:+.2f} (95% interval {low:+.2f} .. {high:+.2f})"
        if self.reference is not None:
            line += f"; r(the training subjects' group difference) = {self.r_reference:.2f}"
        return line

    def one_sided(self) -> tuple[float, float]:
        """(r_model, r_group) with the loss maps' negative values set to 0 (see :func:`loss_only`)."""
        if self.truth is None:
            raise ValueError("no true atrophy to score the one-sided maps against (scans, not phantoms)")
        brain = self.anatomy > 0.1
        return pearson(loss_only(-self.effect), self.truth, brain), pearson(
            loss_only(-self.group_difference), self.truth, brain
        )


def per_position(volumes: Tensor, options: MRIConfig) -> Tensor:
    """(N, 1, D, H, W) -> the images a model of ``options.spatial_dims`` sees, (N, P, 1, *S)."""
    if options.spatial_dims == 3:
        return volumes.unsqueeze(1)
    from vaegan.data.volumes import to_slices

    slices, _ = to_slices(volumes, options.slice_axis, options.slice_range, options.slice_step)
    return slices.view(len(volumes), -1, *slices.shape[1:])


def images_and_maps(
    data: MRIVolumes, options: MRIConfig, control: int, disease: int, *, need_maps: bool = True
) -> tuple[Tensor, Tensor | None, Tensor, Tensor]:
    """The images and true maps (N, P, 1, *S) the model sees, and the control and disease masks (N,).

    ``need_maps=False``: volumes without true maps give None for them, instead of the error.
    """
    if data.maps is None and need_maps:
        raise ValueError("the volumes carry no true maps; read them with maps_suffix (phantoms)")
    images = per_position(data.volumes, options)
    maps = None if data.maps is None else per_position(data.maps, options)
    is_control, is_disease = data.labels == control, data.labels == disease
    if not (is_control.any() and is_disease.any()):
        raise ValueError("need subjects of both classes to compare")
    return images, maps, is_control, is_disease


def default_classes(names: list[str]) -> tuple[int, int]:
    """(control, disease) when not asked for: the classes named CN and AD (any case) where the run has them,
    else the first and the second."""
    folded = [name.casefold() for name in names]
    control = folded.index("cn") if "cn" in folded else None
    disease = folded.index("ad") if "ad" in folded else None
    if control is None:
        control = next(i for i in range(len(names)) if i != disease)
    if disease is None:
        disease = next(i for i in range(len(names)) if i != control)
    return control, disease


def summarize_effects(
    model: GenerativeModel,
    data: MRIVolumes,
    options: MRIConfig,
    *,
    control: int = 0,
    disease: int = 1,
    samples: int = 1,
    seed: int = 0,
    intervals: bool = True,
    reference: MRIVolumes | None = None,
) -> EffectSummary:
    """Mean disease-effect map of the control subjects vs the mean true atrophy of the disease subjects.

    Args:
        model: a conditional model with an encoder, trained on images shaped like ``options`` gives.
        data: volumes, e.g. the test subjects of a phantom set; with ``maps`` (true tissue loss) the maps
            are scored, without them (scans) only drawn: ``truth`` None, the r NaN, no intervals.
        options: how volumes become the model's images (2-D slices or 3-D).
        control: the class index of the controls (CN).
        disease: the class index of the disease (AD).
        samples: posterior draws each map is averaged over (see :func:`disease_effect`); ``seed``: theirs.
        intervals: the 95% jackknife intervals over subjects (:mod:`~vaegan.visualization.intervals`).
        reference: other subjects of both classes, e.g. the ones the model was trained on. Their
            voxel-wise group difference is what a model learned from them must beat to add anything
            to its data: ``r_reference``. (The raw difference of the test subjects, ``r_group``, is
            noisier: it averages fewer subjects.)
    """
    images, maps, is_control, is_disease = images_and_maps(data, options, control, disease, need_maps=False)
    controls = images[is_control]  # (Nc, P, 1, *S)
    effects = disease_effect(model, controls.flatten(0, 1), source=control, target=disease, samples=samples, seed=seed)
    of_controls, of_patients = subjects_where(data, is_control), subjects_where(data, is_disease)
    effects, controls = subject_means(effects.view_as(controls), of_controls), subject_means(controls, of_controls)
    patients = subject_means(images[is_disease], of_patients)  # one row per subject from here on
    truths = None if maps is None else subject_means(maps[is_disease], of_patients)
    effect, anatomy = effects.mean(0), controls.mean(0)
    truth = None if truths is None else truths.mean(0)
    group = patients.mean(0) - anatomy  # the same subjects, model-free
    brain = anatomy > 0.1

    def scored(loss: Tensor) -> float:
        return float("nan") if truth is None else pearson(loss, truth, brain)

    summary = EffectSummary(effect, truth, group, anatomy, scored(-effect), scored(-group), grid=data.grid)
    if reference is not None:
        summary.reference = group_difference(reference, options, control, disease)
        summary.r_reference = scored(-summary.reference)
    if intervals and truths is not None:
        subjects = [t[:, brain] for t in (effects, controls, patients, truths)]  # (N, V) each
        fixed = None if summary.reference is None else summary.reference[brain]
        summary.intervals = group_map_intervals(*subjects, reference=fixed)
    return summary


def subjects_where(data: MRIVolumes, mask: Tensor) -> list[str]:
    """The subject of each volume where ``mask`` (N,) is true."""
    return [subject for subject, keep in zip(data.subjects, mask.tolist()) if keep]


def group_difference(data: MRIVolumes, options: MRIConfig, control: int = 0, disease: int = 1) -> Tensor:
    """(P, 1, *S) the mean disease image minus the mean control image of ``data``: the voxel-wise group effect.

    Each group's mean is over subjects: a subject's scans (sessions) are averaged first.
    """
    images = per_position(data.volumes, options)
    is_control, is_disease = data.labels == control, data.labels == disease
    if not (is_control.any() and is_disease.any()):
        raise ValueError(f"the reference subjects need both classes ({control} and {disease}) for a group difference")
    patients = subject_means(images[is_disease], subjects_where(data, is_disease))
    return patients.mean(0) - subject_means(images[is_control], subjects_where(data, is_control)).mean(0)

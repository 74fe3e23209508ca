"""What a conditional model learned about a disease: disease-effect maps and latent-code separability.

A disease-effect map encodes a control subject with its own label and decodes
the same code twice, with the control label and with the disease label:
``effect = decode(z, AD) - decode(z, CN)``, ``z = encode(x, CN)``. With the
subject's anatomy held in ``z``, the difference is the model's idea of what
the disease does to that brain (negative where tissue is lost in T1w). On
phantoms it can be checked against the true atrophy maps.

Example:
    >>> effect = disease_effect(cvae, cn_images, source=0, target=1)  # doctest: +SKIP
    >>> effect.shape == cn_images.shape  # doctest: +SKIP
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from vaegan.visualization.codes import decode, evaluating

if TYPE_CHECKING:
    from vaegan.data import ImageDataset
    from vaegan.data.config import MRIConfig
    from vaegan.data.mri import MRIVolumes
    from vaegan.models.base import GenerativeModel


def disease_effect(model: GenerativeModel, x: Tensor, *, source: int, target: int, chunk: int = 256) -> Tensor:
    """Per image: decode(z, target) - decode(z, source) with z = encode(x, source); (N, C, *S) on the CPU."""
    if not (model.conditional and model.has_encoder):
        raise ValueError(f"{type(model).__name__} is not a conditional model with an encoder (e.g. cvae, cvaegan)")
    codes = []
    with evaluating(model):
        for start in range(0, len(x), chunk):
            batch = x[start : start + chunk].to(model.device)
            codes.append(model.encode(batch, torch.full((len(batch),), source, device=model.device)).cpu())
    z = torch.cat(codes)
    as_target = decode(model, z, torch.full((len(z),), target))
    as_source = decode(model, z, torch.full((len(z),), source))
    return as_target - as_source


def pearson(a: Tensor, b: Tensor, mask: Tensor | None = None) -> float:
    """Pearson correlation of two maps of the same shape, over ``mask`` (all voxels if None)."""
    a, b = a.float().flatten(), b.float().flatten()
    if mask is not None:
        keep = mask.flatten().bool()
        a, b = a[keep], b[keep]
    a, b = a - a.mean(), b - b.mean()
    denominator = (a.norm() * b.norm()).clamp_min(1e-12)
    return float((a * b).sum() / denominator)


@dataclass
class EffectSummary:
    """Mean maps over subjects, in the model's image space: (P, 1, *S), P = slice positions (2-D) or 1 (3-D).

    Attributes:
        effect: mean disease-effect map of the control subjects (decode AD - decode CN).
        truth: mean true tissue loss of the disease subjects.
        group_difference: mean disease image - mean control image (what the raw data shows).
        anatomy: mean control image, the background for figures.
        r_model: Pearson r of -effect with truth, inside the brain.
        r_group: Pearson r of -group_difference with truth, inside the brain.

    Example:
        >>> summary = summarize_effects(cvae, test_volumes, config.data.mri)  # doctest: +SKIP
        >>> summary.effect.shape, round(summary.r_model, 2)  # doctest: +SKIP
        (torch.Size([17, 1, 64, 64]), 0.61)
    """

    effect: Tensor
    truth: Tensor
    group_difference: Tensor
    anatomy: Tensor
    r_model: float
    r_group: float


def _per_position(volumes: Tensor, options: MRIConfig) -> Tensor:
    """(N, 1, D, H, W) -> the images a model of ``options.spatial_dims`` sees, (N, P, 1, *S)."""
    if options.spatial_dims == 3:
        return volumes.unsqueeze(1)
    from vaegan.data.mri_transforms import to_slices

    slices, _ = to_slices(volumes, options.slice_axis, options.slice_range, options.slice_step)
    return slices.view(len(volumes), -1, *slices.shape[1:])


def summarize_effects(
    model: GenerativeModel, data: MRIVolumes, options: MRIConfig, *, control: int = 0, disease: int = 1
) -> EffectSummary:
    """Mean disease-effect map of the control subjects vs the mean true atrophy of the disease subjects.

    Args:
        model: a conditional model with an encoder, trained on images shaped like ``options`` gives.
        data: volumes with ``maps`` (true tissue loss), e.g. the test subjects of a phantom set.
        options: how volumes become the model's images (2-D slices or 3-D).
        control, disease: the class indices of CN and AD.
    """
    if data.maps is None:
        raise ValueError("the volumes carry no true maps; read them with maps_suffix (phantoms)")
    images, maps = _per_position(data.volumes, options), _per_position(data.maps, options)  # (N, P, 1, *S)
    is_control, is_disease = data.labels == control, data.labels == disease
    if not (is_control.any() and is_disease.any()):
        raise ValueError("need subjects of both classes to compare")
    controls = images[is_control]  # (Nc, P, 1, *S)
    effects = disease_effect(model, controls.flatten(0, 1), source=control, target=disease).view_as(controls)
    effect, anatomy = effects.mean(0), controls.mean(0)
    truth = maps[is_disease].mean(0)
    group = images[is_disease].mean(0) - anatomy
    brain = anatomy > 0.1
    return EffectSummary(effect, truth, group, anatomy, pearson(-effect, truth, brain), pearson(-group, truth, brain))


def _encode_fixed(model: GenerativeModel, images: Tensor, label: int, chunk: int = 256) -> Tensor:
    """Posterior means (N, D) on the CPU, every image encoded with the same ``label`` (conditional models)."""
    out = []
    with evaluating(model):
        for start in range(0, len(images), chunk):
            x = images[start : start + chunk].to(model.device)
            y = torch.full((len(x),), label, device=model.device) if model.conditional else None
            out.append(model.encode(x, y).float().cpu())
    return torch.cat(out)


def latent_auc(
    model: GenerativeModel, train: ImageDataset, test: ImageDataset, *, control: int = 0, disease: int = 1
) -> dict:
    """Disease-vs-control AUC of a logistic regression on latent means, on disjoint subjects.

    Only images of the two classes are used. A conditional model encodes every
    image with the control label, so the label it is given cannot leak into
    the code. Slices are scored one by one; a subject's score is the mean over
    its images.

    Returns:
        ``{"image_auc": ..., "subject_auc": ..., "subjects": n_test_subjects}``.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if train.groups is not None and test.groups is not None:
        shared = set(train.group_names[g] for g in train.groups.unique().tolist()) & set(
            test.group_names[g] for g in test.groups.unique().tolist()
        )
        if shared:
            raise ValueError(f"subjects {sorted(shared)[:3]} are in both splits; split by subject")
    train, test = (d.subset(torch.isin(d.labels, torch.tensor([control, disease]))) for d in (train, test))
    classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=0.1))
    classifier.fit(_encode_fixed(model, train.images, control).numpy(), (train.labels == disease).numpy())
    scores = torch.from_numpy(classifier.predict_proba(_encode_fixed(model, test.images, control).numpy())[:, 1])
    is_disease = (test.labels == disease).long()
    result = {"image_auc": float(roc_auc_score(is_disease.numpy(), scores.numpy()))}
    groups = test.groups if test.groups is not None else torch.arange(len(test))
    unique, inverse = torch.unique(groups, return_inverse=True)
    subject_score = torch.zeros(len(unique), dtype=torch.float64).index_add_(0, inverse, scores.double())
    subject_score /= torch.bincount(inverse).double()
    subject_label = torch.zeros(len(unique), dtype=torch.long).index_copy_(0, inverse, is_disease)
    result["subject_auc"] = float(roc_auc_score(subject_label.numpy(), subject_score.numpy()))
    result["subjects"] = len(unique)
    return result

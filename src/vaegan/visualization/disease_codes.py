"""Does a model's latent code carry the diagnosis? Disease-vs-control AUC of a classifier on the codes.

A logistic regression on the latent means, fitted on the training subjects and
scored on disjoint test subjects, per image and per subject. A conditional
model gets the diagnosis from its label, so its code need not hold it; an
unconditional one must, if the disease shapes the images it reconstructs.
The disease-effect maps are :mod:`vaegan.visualization.disease_effects`.

Example:
    >>> latent_auc(vae, splits.train, splits.test)  # doctest: +SKIP
    {'image_auc': 0.71, 'subject_auc': 0.8, 'subjects': 30}
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor

from vaegan.models.vae import map_codes
from vaegan.visualization.codes import evaluating
from vaegan.visualization.intervals import auc, subject_interval

if TYPE_CHECKING:
    from vaegan.data import ImageDataset
    from vaegan.models.base import GenerativeModel


def _encode_fixed(model: GenerativeModel, images: Tensor, label: int, chunk: int = 256, refine: int = 0) -> Tensor:
    """Posterior means (N, D) on the CPU, every image encoded with the same ``label`` (conditional models);
    with ``refine`` > 0 the MAP codes after that many steps (:func:`~vaegan.models.vae.map_codes`)."""
    if refine:
        labels = torch.full((len(images),), label) if model.conditional else None
        return map_codes(model, images, labels, steps=refine).float()
    out = []
    with evaluating(model):
        for start in range(0, len(images), chunk):
            x = images[start : start + chunk].to(model.device, torch.float32)
            y = torch.full((len(x),), label, device=model.device) if model.conditional else None
            out.append(model.encode(x, y).float().cpu())
    return torch.cat(out)


def latent_auc(
    model: GenerativeModel,
    train: ImageDataset,
    test: ImageDataset,
    *,
    control: int = 0,
    disease: int = 1,
    refine: int = 0,
) -> dict:
    """Disease-vs-control AUC of a logistic regression on latent means, on disjoint subjects.

    Only images of the two classes are used. A conditional model encodes every
    image with the control label, so the label it is given cannot leak into
    the code. Slices are scored one by one; a subject's score is the mean over
    its images. ``subject_auc_interval`` is the 95% jackknife interval of the subject AUC over the
    test subjects (one subject left out at a time; the classifier stays as fitted). ``refine`` > 0
    scores the VAE's MAP codes after that many steps (:meth:`~vaegan.models.VAE.map_code`), for the
    probe's training and test images alike, instead of the encoder's means.

    Returns:
        ``{"image_auc": ..., "subject_auc": ..., "subject_auc_interval": (low, high), "subjects": n_test_subjects}``.
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
    codes = {
        name: _encode_fixed(model, d.images, control, refine=refine).numpy()
        for name, d in (("train", train), ("test", test))
    }
    classifier.fit(codes["train"], (train.labels == disease).numpy())
    scores = torch.from_numpy(classifier.predict_proba(codes["test"])[:, 1])
    is_disease = (test.labels == disease).long()
    result = {"image_auc": float(roc_auc_score(is_disease.numpy(), scores.numpy()))}
    groups = test.groups if test.groups is not None else torch.arange(len(test))
    unique, inverse = torch.unique(groups, return_inverse=True)
    subject_score = torch.zeros(len(unique), dtype=torch.float64).index_add_(0, inverse, scores.double())
    subject_score /= torch.bincount(inverse).double()
    subject_label = torch.zeros(len(unique), dtype=torch.long).index_copy_(0, inverse, is_disease)
    result["subject_auc"] = float(roc_auc_score(subject_label.numpy(), subject_score.numpy()))
    negatives, positives = subject_score[subject_label == 0], subject_score[subject_label == 1]
    low, high = subject_interval(lambda cn, ad: auc(negatives[cn], positives[ad]), (len(negatives), len(positives)))
    result["subject_auc_interval"] = (max(low, 0.0), min(high, 1.0))
    result["subjects"] = len(unique)
    return result

"""The latent AUC: a classifier on the codes, scored on subjects the fit never saw."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from vaegan.data import ImageDataset
from vaegan.models import GenerativeModel
from vaegan.models.config import ModelConfig
from vaegan.visualization.disease_codes import latent_auc


def groups_dataset(n_subjects: int, offset: int, seed: int) -> ImageDataset:
    """3 images per subject; AD subjects' images are brighter."""
    g = torch.Generator().manual_seed(seed)
    labels = (torch.arange(n_subjects) % 2).repeat_interleave(3)
    images = torch.rand(len(labels), 1, 8, 8, generator=g) * 0.5 + 0.4 * labels.view(-1, 1, 1, 1)
    groups = torch.arange(n_subjects).repeat_interleave(3)
    names = [f"sub-{offset + i}" for i in range(n_subjects)]
    return ImageDataset(images, labels, ["CN", "AD"], "toy", groups, names)


class MeanEncoder(GenerativeModel):
    """Codes = mean and spread of the image: enough to tell the bright class."""

    has_encoder = True

    def __init__(self):
        super().__init__(ModelConfig(name="mean", image_shape=(1, 8, 8), num_classes=2, latent_dim=2))
        self.anchor = nn.Parameter(torch.zeros(()))

    def encode(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        return torch.stack([x.mean((1, 2, 3)), x.std((1, 2, 3))], 1)

    def synthesize(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        return z.new_zeros(len(z), 1, 8, 8)


def test_latent_auc_on_separable_codes_and_disjoint_subjects():
    train, test = groups_dataset(10, 0, 0), groups_dataset(6, 100, 1)
    result = latent_auc(MeanEncoder(), train, test)
    assert result["subject_auc"] == 1.0 and result["image_auc"] > 0.9 and result["subjects"] == 6
    with pytest.raises(ValueError, match="both splits"):
        latent_auc(MeanEncoder(), train, groups_dataset(6, 0, 1))


def test_the_subject_auc_carries_a_jackknife_interval_over_test_subjects():
    train, test = groups_dataset(10, 0, 0), groups_dataset(6, 100, 1)
    assert latent_auc(MeanEncoder(), train, test)["subject_auc_interval"] == (1.0, 1.0)  # separable at any draw

    class Noisy(MeanEncoder):  # a code that tells the classes apart only weakly
        def encode(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
            g = torch.Generator().manual_seed(len(x))
            return super().encode(x) + torch.randn(len(x), 2, generator=g) * 0.3

    result = latent_auc(Noisy(), groups_dataset(40, 0, 0), groups_dataset(30, 100, 1))
    low, high = result["subject_auc_interval"]
    assert low < result["subject_auc"] < high and high - low > 0.05


def test_refined_codes_are_scored_for_both_splits_and_a_model_without_a_prior_is_refused(monkeypatch):
    from tests.models.tiny_configs import tiny_model

    vae = tiny_model("vae", (1, 8, 8), num_classes=2)
    asked = []
    original = type(vae).map_code

    def spy(self, x, labels=None, *, steps=100, lr=0.05):
        asked.append((len(x), steps))
        return original(self, x, labels, steps=steps, lr=lr)

    monkeypatch.setattr(type(vae), "map_code", spy)
    train, test = groups_dataset(10, 0, 0), groups_dataset(6, 100, 1)
    result = latent_auc(vae, train, test, refine=3)
    assert 0.0 <= result["subject_auc"] <= 1.0
    assert sum(n for n, _ in asked) == len(train) + len(test) and {s for _, s in asked} == {3}
    with pytest.raises(ValueError, match="no prior to refine"):
        latent_auc(MeanEncoder(), train, test, refine=3)

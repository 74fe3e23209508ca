"""FID, KID, precision/recall and diversity on feature sets whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import linalg

from vaegan.evaluation.feature_metrics import (
    extract_features,
    frechet_distance,
    kernel_distance,
    precision_recall,
    within_class_diversity,
)


def gaussian(n: int, dim: int = 8, shift: float = 0.0, scale: float = 1.0, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed)) * scale + shift


def reference_fid(a: torch.Tensor, b: torch.Tensor) -> float:
    """The textbook formula with scipy's matrix square root, written independently."""
    a, b = a.double().numpy(), b.double().numpy()
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = linalg.sqrtm(cov_a @ cov_b).real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root))


def test_fid_of_a_set_with_itself_is_zero_and_grows_with_a_shift():
    real = gaussian(2000)
    assert frechet_distance(real, real) == pytest.approx(0.0, abs=1e-6)
    values = [frechet_distance(real, gaussian(2000, shift=s, seed=1)) for s in (0.0, 0.5, 1.0, 2.0)]
    assert values == sorted(values) and values[0] < 0.1
    # a mean shift of s in each of 8 dims adds 8 s^2
    assert values[3] == pytest.approx(8 * 4.0, rel=0.05)


def test_fid_matches_the_textbook_formula():
    a, b = gaussian(500, 6), gaussian(500, 6, shift=0.3, scale=1.5, seed=3)
    assert frechet_distance(a, b) == pytest.approx(reference_fid(a, b), rel=1e-4)


def cubic_mmd2(x: torch.Tensor, y: torch.Tensor) -> float:
    """The unbiased squared MMD with k(a, b) = (a.b / d + 1)^3, written out on the whole sets."""
    x, y = x.double(), y.double()
    d = x.shape[1]
    kxx, kyy, kxy = ((x @ x.T) / d + 1) ** 3, ((y @ y.T) / d + 1) ** 3, ((x @ y.T) / d + 1) ** 3
    m, n = len(x), len(y)
    within = (kxx.sum() - kxx.trace()) / (m * (m - 1)) + (kyy.sum() - kyy.trace()) / (n * (n - 1))
    return float(within - 2 * kxy.mean())


def test_kid_is_near_zero_for_the_same_distribution_and_grows_with_a_shift():
    real = gaussian(1500)
    same_mean, same_std = kernel_distance(real, gaussian(1500, seed=1), subset_size=500, subsets=20)
    far_mean, _ = kernel_distance(real, gaussian(1500, shift=1.0, seed=1), subset_size=500, subsets=20)
    assert abs(same_mean) < 0.05 < far_mean
    assert 0.0 < same_std < 0.05  # the subsets differ, so their estimates spread, a little
    # the mean over subsets estimates the squared MMD of the whole sets (KID: Binkowski et al. 2018, eq. 2)
    assert far_mean == pytest.approx(cubic_mmd2(real, gaussian(1500, shift=1.0, seed=1)), rel=0.1)
    # reproducible: the subsets come from a fixed seed, and the global RNG is left alone
    state = torch.get_rng_state()
    again = kernel_distance(real, gaussian(1500, seed=1), subset_size=500, subsets=20)
    assert again == (same_mean, same_std)
    assert torch.equal(state, torch.get_rng_state())


def test_kid_shrinks_its_subsets_to_small_sets():
    mean, _ = kernel_distance(gaussian(50), gaussian(40, shift=2.0, seed=1))
    assert mean > 0.5


def test_kid_spread_is_real_for_sets_smaller_than_a_subset():
    # 680 slices or 40 volumes (an MRI test set) are fewer than the 1000 a subset holds: subsets of the
    # whole set are all the same set, and their spread, ~1e-13, claimed a precision the figure lacks
    mean, std = kernel_distance(gaussian(300), gaussian(300, shift=0.5, seed=1))
    assert mean > 0.0 and std > 0.05 * mean


def test_precision_recall_of_identical_and_disjoint_sets():
    real = gaussian(600)
    assert precision_recall(real, real) == (1.0, 1.0)
    precision, recall = precision_recall(real, gaussian(600, shift=50.0, seed=1))
    assert precision == 0.0 and recall == 0.0


def test_precision_recall_separate_fidelity_from_coverage():
    real = gaussian(1000, dim=2)
    # mode collapse: every fake sits in one corner of the real data -> faithful but not covering
    collapsed = real[real[:, 0] > 1.0][:200] + 0.01 * gaussian(len(real[real[:, 0] > 1.0][:200]), dim=2, seed=2)
    precision, recall = precision_recall(real, collapsed)
    assert precision > 0.9 and recall < 0.4
    # too broad: covers the real data but many fakes fall outside it
    broad = gaussian(1000, dim=2, scale=4.0, seed=3)
    precision, recall = precision_recall(real, broad)
    assert precision < 0.5 and recall > 0.8


def test_precision_recall_chunking_does_not_change_the_answer():
    real, fake = gaussian(300, seed=4), gaussian(250, shift=0.5, seed=5)
    assert precision_recall(real, fake, chunk=7) == precision_recall(real, fake, chunk=4096)


def test_within_class_diversity_detects_collapse_inside_a_class():
    labels = torch.arange(300) % 3
    varied = gaussian(300)
    collapsed = varied.clone()
    collapsed[labels == 1] = varied[labels == 1][0]  # class 1: one image repeated
    assert within_class_diversity(collapsed, labels) < 0.75 * within_class_diversity(varied, labels)
    # two points at distance 5 in one class: the mean pairwise distance is 5
    two = torch.tensor([[0.0, 0.0], [3.0, 4.0]])
    assert within_class_diversity(two, torch.tensor([0, 0])) == pytest.approx(5.0)
    with pytest.raises(ValueError, match="two or more"):
        within_class_diversity(two, torch.tensor([0, 1]))


def test_extract_features_batches_give_the_same_result():
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 4)).eval()
    images = torch.rand(10, 1, 4, 4)
    assert torch.allclose(extract_features(net, images, batch_size=3), net(images))


def test_diversity_draws_its_images_across_the_class_not_its_first_rows():
    """A test set ordered by subject (MRI slices): the first 1000 images of a class are a few subjects, and the
    real images' diversity floor measured only them."""
    from vaegan.evaluation.feature_metrics import within_class_diversity

    alike = torch.zeros(1000, 4)  # the first rows: one subject, drawn again and again
    others = torch.randn(1000, 4, generator=torch.Generator().manual_seed(0))
    features, labels = torch.cat([alike, others]), torch.zeros(2000, dtype=torch.long)
    whole = within_class_diversity(features, labels, max_per_class=2000)
    drawn = within_class_diversity(features, labels, max_per_class=1000)
    assert drawn == pytest.approx(whole, rel=0.1)
    assert drawn == within_class_diversity(features, labels, max_per_class=1000)  # seeded: the same draw

"""benchmarks/ad_sample_size.py: the group difference's r against n, and what unlimited subjects would give."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.ad_sample_size import mirror, sample_size_curve, subjects_needed, symmetrised


def noisy_groups(n: int, voxels: int, sigma: float, bias: float = 0.0, seed: int = 0):
    """n subjects, half AD: images = label * effect + noise; truth = effect (+ a pattern no data show)."""
    rng = np.random.default_rng(seed)
    effect = rng.normal(size=voxels)
    labels = np.arange(n) % 2
    images = labels[:, None] * effect + sigma * rng.normal(size=(n, voxels))
    truth = effect + bias * rng.normal(size=voxels)
    return images, labels, -truth  # a loss map: the truth is the tissue lost, -effect


def test_the_fit_recovers_pure_noise_theory():
    # balanced groups of n/2: the difference's noise variance is 4 sigma^2 / n, the effect's variance 1,
    # so 1/r^2 = 1 + 4 sigma^2 / n exactly in expectation: a = 1, b = 4 sigma^2
    images, labels, truth = noisy_groups(400, 4000, sigma=2.0)
    fit = sample_size_curve(images, labels, truth, [20, 40, 80, 160, 400], repeats=20)
    assert fit["a"] == pytest.approx(1.0, abs=0.05)
    assert fit["b"] == pytest.approx(16.0, rel=0.1)
    assert fit["r_limit"] > 0.97
    assert fit["r"][20] < fit["r"][80] < fit["r"][400]
    assert subjects_needed(fit, 0.9) == pytest.approx(16.0 / (1 / 0.81 - 1), rel=0.15)  # 68 subjects


def test_a_pattern_the_data_do_not_show_caps_the_limit():
    # truth = effect + an equally strong unrelated pattern: r can never exceed 1/sqrt(2)
    images, labels, truth = noisy_groups(400, 4000, sigma=1.0, bias=1.0)
    fit = sample_size_curve(images, labels, truth, [20, 40, 80, 400], repeats=10)
    assert fit["r_limit"] == pytest.approx(2**-0.5, abs=0.03)
    assert subjects_needed(fit, 0.8) == float("inf")


def test_the_mirror_axis_is_found_and_an_asymmetric_image_refused():
    axis = np.arange(16) - 7.5  # symmetric about the middle of the last axis
    z, y, x = np.meshgrid(np.arange(10), np.arange(12), axis, indexing="ij")
    brain = np.exp(-(x**2) / 20 - (y - 4) ** 2 / 9 - (z - 3) ** 2 / 4)[None]  # (P=1, 10, 12, 16)
    assert mirror(brain) == (3, 0)
    assert mirror(np.roll(brain, 1, 3)) == (3, 1)  # the midline half a voxel off: flip, then roll by one
    with pytest.raises(ValueError, match="no axis mirrors"):
        mirror(np.random.default_rng(0).random((1, 10, 12, 16)))
    lopsided = brain * (1 + (x > 0))[None]
    both = symmetrised(np.stack([brain, lopsided]), 3, 0)
    np.testing.assert_allclose(both[0], brain)
    np.testing.assert_allclose(both[1], np.flip(both[1], 3))

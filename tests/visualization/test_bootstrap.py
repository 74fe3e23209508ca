"""Bootstrap intervals over subjects: draws within each class, seeded, and intervals that cover."""

from __future__ import annotations

import pytest
import torch

from vaegan.visualization.bootstrap import (
    percentile_interval,
    resample_weights,
    row_pearson,
    stratified_resamples,
)


def test_each_draw_keeps_every_class_at_its_size_and_the_seed_repeats_it():
    labels = torch.tensor([0, 1, 0, 1, 1, 0, 0])
    draws = stratified_resamples(labels, 200, seed=3)
    assert draws.shape == (200, 7)
    assert torch.equal(labels[draws], labels.expand(200, -1))  # a drawn subject is of the class it replaces
    assert torch.equal(draws, stratified_resamples(labels, 200, seed=3))
    assert not torch.equal(draws, stratified_resamples(labels, 200, seed=4))
    assert len(draws.unique(dim=0)) > 100  # draws differ: with replacement, not a fixed permutation


def test_resample_weights_average_the_drawn_members():
    values = torch.tensor([1.0, 2.0, 4.0], dtype=torch.float64)
    draws = torch.tensor([[0, 0, 2], [1, 2, 2]])
    weights = resample_weights(draws, 3)
    assert torch.allclose(weights @ values, torch.tensor([2.0, 10 / 3], dtype=torch.float64))


def test_row_pearson_matches_the_definition():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(4, 50, generator=g), torch.randn(4, 50, generator=g)
    expected = torch.stack([torch.corrcoef(torch.stack([x, y]))[0, 1] for x, y in zip(a, b)])
    assert torch.allclose(row_pearson(a, b), expected, atol=1e-6)
    assert torch.allclose(row_pearson(a, 3 * a + 1), torch.ones(4), atol=1e-6)


def test_the_interval_of_a_mean_covers_the_truth_about_95_times_in_100():
    """Means of 40 draws from N(0, 1): the bootstrap interval should hold 0 in about 95% of experiments."""
    g = torch.Generator().manual_seed(1)
    covered = 0
    for _ in range(200):
        sample = torch.randn(40, generator=g, dtype=torch.float64)
        seed = int(torch.randint(10**6, (), generator=g))
        draws = stratified_resamples(torch.zeros(40, dtype=torch.long), 400, seed=seed)
        low, high = percentile_interval(resample_weights(draws, 40) @ sample)
        covered += low <= 0.0 <= high
    assert 0.88 <= covered / 200 <= 0.99


def test_nan_draws_are_dropped_and_all_nan_is_refused():
    assert percentile_interval(torch.tensor([float("nan"), 1.0, 1.0])) == (1.0, 1.0)
    with pytest.raises(ValueError, match="no finite"):
        percentile_interval(torch.tensor([float("nan")]))

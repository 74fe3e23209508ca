"""Jackknife intervals over subjects: they cover, they are as wide as fresh samples move, they pair."""

from __future__ import annotations

import math

import pytest
import torch

from vaegan.visualization.intervals import auc, mean_weights, row_pearson, subject_interval, subject_intervals


def test_mean_weights_average_the_chosen_members_and_broadcast():
    values = torch.tensor([1.0, 2.0, 4.0])
    draws = torch.tensor([[0, 0, 2], [1, 2, 2]])
    assert torch.allclose(mean_weights(draws, 3) @ values, torch.tensor([2.0, 10 / 3]))
    assert mean_weights(torch.tensor([0, 1]), 3).shape == (3,)


def test_row_pearson_and_auc_match_their_definitions():
    from sklearn.metrics import roc_auc_score

    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(4, 50, generator=g), torch.randn(4, 50, generator=g)
    expected = torch.stack([torch.corrcoef(torch.stack([x, y]))[0, 1] for x, y in zip(a, b)])
    assert torch.allclose(row_pearson(a, b), expected, atol=1e-6)
    assert torch.allclose(row_pearson(a, a[0]), row_pearson(a, a[0].expand(4, -1)))  # broadcasts
    negatives, positives = torch.tensor([0.1, 0.5, 0.5]), torch.tensor([0.5, 0.9])
    labels, scores = [0, 0, 0, 1, 1], [0.1, 0.5, 0.5, 0.5, 0.9]
    assert float(auc(negatives, positives)) == roc_auc_score(labels, scores)


def test_the_interval_of_a_difference_of_means_covers_the_truth_about_95_times_in_100():
    g = torch.Generator().manual_seed(1)
    covered = 0
    for _ in range(200):
        a, b = torch.randn(20, generator=g), torch.randn(25, generator=g) + 1.0
        low, high = subject_interval(lambda i, j, a=a, b=b: a[i].mean(-1) - b[j].mean(-1), (20, 25))
        covered += low <= -1.0 <= high
    assert 180 <= covered <= 198


def test_the_r_of_a_noisy_mean_map_gets_an_interval_as_wide_as_fresh_subjects_move_it():
    """The figure of a group map: r of the mean of 20 noisy subjects with the pattern. Its interval must
    hold the measured r and be about as wide as the spread of r over fresh sets of 20 subjects."""
    g = torch.Generator().manual_seed(2)
    pattern = torch.randn(400, generator=g)

    def study():
        return pattern + 3.0 * torch.randn(20, 400, generator=g)

    spread = torch.tensor([float(row_pearson(study().mean(0), pattern)) for _ in range(300)]).std()
    widths = []
    for _ in range(20):
        subjects = study()
        low, high = subject_interval(lambda i, s=subjects: row_pearson(mean_weights(i, 20) @ s, pattern), (20,))
        measured = float(row_pearson(subjects.mean(0), pattern))
        assert low < measured < high
        widths.append((high - low) / (2 * 1.96))
    assert 0.7 < sum(widths) / len(widths) / float(spread) < 1.4


def test_group_map_intervals_stay_inside_minus_one_to_one():
    from vaegan.visualization.intervals import group_map_intervals

    g = torch.Generator().manual_seed(3)
    pattern = torch.rand(300, generator=g)
    controls = torch.rand(10, 300, generator=g)
    patients = controls - 0.5 * pattern + 0.01 * torch.randn(10, 300, generator=g)
    effects = -pattern.expand(10, -1).clone()  # a perfect model: r 1
    intervals = group_map_intervals(effects, controls, patients, pattern.expand(10, -1).clone())
    assert intervals["r_model"] == pytest.approx((1.0, 1.0))  # every subject left out still gives a perfect map
    low, high = intervals["r_group"]
    assert 0.9 < low < high < 1.0  # near 1, and inside it: taken on Fisher's z
    low, high = intervals["margin"]
    assert low < high < 0.1  # the raw difference is nearly perfect too: a small margin


def test_several_figures_at_once_and_nan_with_a_single_subject():
    a = torch.arange(10.0)
    mean, top = subject_intervals(lambda i: torch.stack([a[i].mean(-1), a[i].max(-1).values]), (10,))
    assert mean[0] < 4.5 < mean[1] and top[0] < 9.0 < top[1]
    low, high = subject_interval(lambda i, j: a[i].mean(-1) - a[j].mean(-1), (1, 5))  # one subject: none to leave out
    assert math.isnan(low) and math.isnan(high)

"""How sure is a figure measured on a few dozen test subjects? Bootstrap intervals over subjects.

A map's r or a code's AUC on 40 test subjects moves by several hundredths when other subjects are
drawn. The percentile bootstrap (Efron and Tibshirani 1993, ch. 13) draws the subjects again with
replacement, within each class so every draw keeps both classes at their sizes, recomputes the
figure, and reports the middle 95% of the draws.

Example:
    >>> labels = torch.tensor([0, 0, 0, 1, 1])
    >>> stratified_resamples(labels, 3).shape  # 3 draws of the 5 subjects
    torch.Size([3, 5])
    >>> percentile_interval(torch.arange(101.0))
    (2.5, 97.5)
"""

from __future__ import annotations

import torch
from torch import Tensor

RESAMPLES = 1000  # draws per interval: the 2.5th and 97.5th percentiles settle to about +-0.01 of an r


def stratified_resamples(labels: Tensor, n: int = RESAMPLES, seed: int = 0) -> Tensor:
    """(n, N) indices into ``labels``: each row draws every class's members with replacement, as many as it has.

    Seeded, so the same subjects give the same interval on every run.
    """
    generator = torch.Generator().manual_seed(seed)
    draws = torch.empty(n, len(labels), dtype=torch.long)
    for label in labels.unique():
        members = (labels == label).nonzero().flatten()
        picks = torch.randint(len(members), (n, len(members)), generator=generator)
        draws[:, members] = members[picks]
    return draws


def resample_weights(draws: Tensor, size: int) -> Tensor:
    """(n, size) weights that average the drawn members: row b @ values = mean of values[draws[b]]."""
    counts = torch.zeros(len(draws), size, dtype=torch.float64)
    counts.scatter_add_(1, draws, torch.ones_like(draws, dtype=torch.float64))
    return counts / draws.shape[1]


def row_pearson(a: Tensor, b: Tensor) -> Tensor:
    """Pearson r of each row of ``a`` with the same row of ``b``: (n, V), (n, V) -> (n,)."""
    a, b = a - a.mean(1, keepdim=True), b - b.mean(1, keepdim=True)
    return (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1)).clamp_min(1e-12)


def percentile_interval(values: Tensor, level: float = 0.95) -> tuple[float, float]:
    """The central ``level`` interval of the bootstrap draws ``values`` (NaN draws dropped)."""
    values = values.double()
    values = values[~values.isnan()]
    if len(values) == 0:
        raise ValueError("no finite bootstrap draws to take an interval of")
    tail = (1 - level) / 2
    low, high = torch.quantile(values, torch.tensor([tail, 1 - tail], dtype=torch.float64))
    return float(low), float(high)


def group_map_intervals(
    effects: Tensor, controls: Tensor, patients: Tensor, losses: Tensor, resamples: int = RESAMPLES, chunk: int = 50
) -> dict[str, tuple[float, float]]:
    """Bootstrap intervals of r_model, r_group and their difference: both groups' subjects drawn again.

    Each draw takes the control subjects (their effects and images) and the disease subjects (their
    images and true losses) with replacement, within each group, and recomputes both group maps from
    the same draw, so the margin's interval is paired. Arguments are (N, V), the brain's voxels.
    """
    n_control, n_disease = len(effects), len(patients)
    labels = torch.cat([torch.zeros(n_control), torch.ones(n_disease)]).long()
    draws = stratified_resamples(labels, resamples)
    r_model, r_group = [], []
    for block in draws.split(chunk):
        on_control = resample_weights(block[:, :n_control], n_control).float()  # (b, Nc)
        on_disease = resample_weights(block[:, n_control:] - n_control, n_disease).float()  # (b, Na)
        truth = on_disease @ losses
        r_model.append(row_pearson(-(on_control @ effects), truth))
        r_group.append(row_pearson(on_control @ controls - on_disease @ patients, truth))
    model, group = torch.cat(r_model), torch.cat(r_group)
    return {
        "r_model": percentile_interval(model),
        "r_group": percentile_interval(group),
        "margin": percentile_interval(model - group),
    }

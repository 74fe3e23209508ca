"""How sure is a figure measured on a few dozen test subjects? Jackknife intervals over subjects.

A map's r or a code's AUC on 40 test subjects moves by several hundredths when other subjects are
taken. Each interval here is the figure +- 1.96 jackknife standard errors (Efron and Tibshirani
1993, ch. 11): leave out one subject at a time, group by group, recompute the figure, and add up
the groups' variances (for independent groups, each with (n - 1) / n * sum of squared deviations).
It estimates how far the figure would move with another set of subjects of the same size. A
correlation's interval is taken on Fisher's z = atanh(r) and mapped back, so it stays inside
[-1, 1]; an AUC's is cut to [0, 1].

Why not the bootstrap: a bootstrap draw repeats subjects, so a mean map drawn from it averages
fewer distinct brains and holds about twice the noise of the measured one; the r of a noisy map
is lower, and the draws' r sit below the measured figure, far more for the noisy raw group
difference than for the model's map (on ``ad_cvae_2d`` the percentile interval of the raw
difference's r 0.75 ran from 0.49 to 0.75). BCa cannot correct a shift that large (its bias term
is infinite once every draw falls below). Leaving one subject out keeps the noise of n - 1
subjects, close to the measured n.

Example:
    >>> scores = torch.tensor([0.1, 0.4, 0.35, 0.8])
    >>> low, high = subject_interval(lambda cn, ad: auc(scores[:2][cn], scores[2:][ad]), (2, 2))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

Interval = tuple[float, float]
Z95 = 1.959964  # the standard normal's 97.5th percentile


def subject_intervals(statistic: Callable[..., Tensor], sizes: Sequence[int]) -> list[Interval]:
    """95% jackknife intervals of each figure ``statistic`` returns, leaving out one subject at a time.

    Args:
        statistic: takes one index tensor per group, each (..., m) with broadcastable leading
            dimensions, and returns the figures (K, ...) computed from those subjects.
        sizes: the number of subjects in each group.

    Returns (NaN, NaN) for every figure when a group holds fewer than 2 subjects: nothing can be left out.
    """
    everyone = [torch.arange(n) for n in sizes]
    measured = statistic(*everyone).double()  # (K,)
    if min(sizes) < 2:
        return [(float("nan"), float("nan"))] * len(measured)
    variance = torch.zeros_like(measured)
    for g, n in enumerate(sizes):
        keep = ~torch.eye(n, dtype=torch.bool)
        left_out = torch.arange(n).expand(n, n)[keep].view(n, n - 1)  # row i: every subject but i
        replicates = statistic(*everyone[:g], left_out, *everyone[g + 1 :]).double()  # (K, n)
        variance += (n - 1) / n * (replicates - replicates.mean(-1, keepdim=True)).pow(2).sum(-1)
    half = Z95 * variance.sqrt()
    return [(float(m - h), float(m + h)) for m, h in zip(measured, half)]


def subject_interval(statistic: Callable[..., Tensor], sizes: Sequence[int]) -> Interval:
    """:func:`subject_intervals` of a statistic that returns one figure (shape (...))."""
    return subject_intervals(lambda *idx: statistic(*idx).unsqueeze(0), sizes)[0]


def mean_weights(indices: Tensor, size: int) -> Tensor:
    """(..., m) drawn indices -> (..., size) weights: ``weights @ values`` is the drawn subjects' mean."""
    return torch.nn.functional.one_hot(indices, size).float().mean(-2)


def row_pearson(a: Tensor, b: Tensor) -> Tensor:
    """Pearson r along the last dimension, broadcasting the others: (..., V), (..., V) -> (...)."""
    a, b = a - a.mean(-1, keepdim=True), b - b.mean(-1, keepdim=True)
    return (a * b).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1)).clamp_min(1e-12)


def auc(negatives: Tensor, positives: Tensor) -> Tensor:
    """ROC AUC of scores along the last dimension: P(positive > negative), ties count half."""
    difference = positives.unsqueeze(-1) - negatives.unsqueeze(-2)  # (..., n_pos, n_neg)
    return ((difference > 0).double() + 0.5 * (difference == 0).double()).mean((-2, -1))


def group_map_intervals(
    effects: Tensor, controls: Tensor, patients: Tensor, losses: Tensor, reference: Tensor | None = None
) -> dict[str, Interval]:
    """Intervals of r_model, r_group and their difference, subjects of either group left out in turn.

    Leaving out a control subject drops its effect and its image; a disease subject, its image and
    its true loss. Both group maps are recomputed from the same subjects, so the margin's interval
    is paired. Arguments are (N, V), the brain's voxels. ``reference`` (V,): a fixed map made from
    other subjects (the training subjects' group difference); only the truth it is scored against
    moves, and ``r_reference`` and ``margin_reference`` (r_model - r_reference) join the intervals.
    """

    def figures(control: Tensor, disease: Tensor) -> Tensor:
        on_control, on_disease = mean_weights(control, len(effects)), mean_weights(disease, len(patients))
        truth = on_disease @ losses
        model = row_pearson(-(on_control @ effects), truth)
        group = row_pearson(on_control @ controls - on_disease @ patients, truth)
        shown = [model, group] if reference is None else [model, group, row_pearson(-reference, truth)]
        model, group, *fixed = torch.broadcast_tensors(*shown)
        rows = [fisher(model), fisher(group), model - group]
        return torch.stack(rows + [t for f in fixed for t in (fisher(f), model - f)])

    model, group, margin, *fixed = subject_intervals(figures, (len(effects), len(patients)))
    out = {"r_model": from_fisher(model), "r_group": from_fisher(group), "margin": margin}
    if fixed:
        out.update(r_reference=from_fisher(fixed[0]), margin_reference=fixed[1])
    return out


def fisher(r: Tensor) -> Tensor:
    """Fisher's z = atanh(r): a correlation's interval is taken on z, where it is near normal, then mapped back."""
    return torch.atanh(r.double().clamp(-1 + 1e-9, 1 - 1e-9))


def from_fisher(interval: Interval) -> Interval:
    low, high = torch.tanh(torch.tensor(interval, dtype=torch.float64)).tolist()
    return low, high

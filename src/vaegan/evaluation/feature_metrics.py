"""Distances between two sets of images, measured in a classifier's feature space.

Every function here takes feature tensors (N, F), computed once per image set
with :func:`extract_features`, so the same features serve all the metrics.

- Fréchet distance (Heusel et al. 2017, eq. 6) and kernel distance (KID,
  Bińkowski et al. 2018): torchmetrics' FID and KID, fed the features through
  an identity "extractor".
- Precision and recall (Kynkäänniemi et al. 2019, eq. 1-3): k-NN manifold estimate.
- Within-class diversity: mean pairwise feature distance inside each class.

Example:
    >>> real, fake = torch.randn(500, 8), torch.randn(500, 8) + 1.0
    >>> frechet_distance(real, real) < 1e-3 < frechet_distance(real, fake)
    True
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch
from torch import Tensor, nn
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.kid import KernelInceptionDistance

__all__ = [
    "extract_features",
    "frechet_distance",
    "kernel_distance",
    "precision_recall",
    "within_class_diversity",
]


class _Precomputed(nn.Module):
    """An identity "feature extractor": torchmetrics then measures features we computed ourselves."""

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = num_features  # read by FrechetInceptionDistance instead of a dummy forward

    def forward(self, features: Tensor) -> Tensor:
        return features


@torch.no_grad()
def extract_features(features: Callable[[Tensor], Tensor], images: Tensor, *, batch_size: int = 1000) -> Tensor:
    """``features`` (e.g. ``classifier.features``) applied in batches; (N, C, *S) -> (N, F) on the CPU.

    The images move batch by batch to the device of the module that owns ``features``.
    """
    owner = getattr(features, "__self__", None)
    device = next(owner.parameters()).device if isinstance(owner, nn.Module) else images.device
    chunks = [
        features(images[i : i + batch_size].to(device, torch.float32)).float().cpu()
        for i in range(0, len(images), batch_size)
    ]
    return torch.cat(chunks)


def frechet_distance(real: Tensor, fake: Tensor) -> float:
    """||mu_r - mu_f||^2 + Tr(S_r + S_f - 2 (S_r S_f)^(1/2)) between Gaussian fits of (N, F) features."""
    metric = FrechetInceptionDistance(feature=_Precomputed(real.shape[1]), normalize=False)
    metric.update(real.double(), real=True)
    metric.update(fake.double(), real=False)
    return max(0.0, float(metric.compute()))  # round-off can dip a hair below zero


def kernel_distance(
    real: Tensor, fake: Tensor, *, subset_size: int = 1000, subsets: int = 100, seed: int = 0
) -> tuple[float, float]:
    """Squared MMD with the cubic polynomial kernel, mean and std over random subsets (KID).

    ``subset_size`` is cut to half the smaller set (at least 2), so that the subsets differ and
    their std is a spread (subsets as large as the set are all the set, std 0); the subsets are
    drawn with a fixed ``seed`` so the value is reproducible. The estimate is unbiased, so
    for two samples of one distribution it scatters around zero, below it too.
    """
    size = max(2, min(subset_size, len(real) // 2, len(fake) // 2))
    with warnings.catch_warnings():  # "will save all extracted features": we pass them in anyway
        warnings.filterwarnings("ignore", message=".*will save all extracted features.*")
        metric = KernelInceptionDistance(feature=_Precomputed(real.shape[1]), subsets=subsets, subset_size=size)
    metric.update(real.double(), real=True)
    metric.update(fake.double(), real=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # torchmetrics draws the subsets from the global generator
        mean, std = metric.compute()
    return float(mean), float(std)


def _kth_neighbour_radius(features: Tensor, k: int, chunk: int) -> Tensor:
    """Distance from each point to its k-th nearest other point in the same set, (N,)."""
    radii = []
    for start in range(0, len(features), chunk):
        d = torch.cdist(features[start : start + chunk], features)  # (chunk, N)
        radii.append(d.kthvalue(k + 1, dim=1).values)  # +1: the point itself is at distance 0
    return torch.cat(radii)


def _inside_manifold(manifold: Tensor, radii: Tensor, queries: Tensor, chunk: int) -> Tensor:
    """Which queries fall inside at least one ball (manifold_i, radii_i); (Q,) bool."""
    inside = []
    for start in range(0, len(queries), chunk):
        d = torch.cdist(queries[start : start + chunk], manifold)  # (chunk, M)
        inside.append((d <= radii.unsqueeze(0)).any(dim=1))
    return torch.cat(inside)


def manifold_radii(features: Tensor, *, k: int = 3, chunk: int = 1024) -> Tensor:
    """Each feature's distance to its k-th nearest other one (N,): the balls of :func:`precision_recall`'s
    manifold, to compute once for a real set scored against several others."""
    return _kth_neighbour_radius(features.float(), k, chunk)


def precision_recall(
    real: Tensor, fake: Tensor, *, k: int = 3, chunk: int = 1024, real_radii: Tensor | None = None
) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019).

    The real manifold is the union of balls around each real feature reaching
    its k-th nearest real neighbour (eq. 1); precision is the fraction of fakes
    inside it (eq. 2). Recall swaps the roles (eq. 3).

    Args:
        real: (N, F) features of real images.
        fake: (M, F) features of generated images.
        k: neighbourhood size; the paper uses 3.
        chunk: rows per ``torch.cdist`` call (memory is ``chunk * N`` floats).
        real_radii: :func:`manifold_radii` of ``real`` with this ``k``, where already computed.

    Returns:
        ``(precision, recall)``, each in [0, 1].
    """
    if min(len(real), len(fake)) <= k:
        raise ValueError(f"precision_recall needs more than k={k} images per set, got {len(real)} and {len(fake)}")
    real, fake = real.float(), fake.float()
    radii = _kth_neighbour_radius(real, k, chunk) if real_radii is None else real_radii
    precision = _inside_manifold(real, radii, fake, chunk).float().mean()
    recall = _inside_manifold(fake, _kth_neighbour_radius(fake, k, chunk), real, chunk).float().mean()
    return float(precision), float(recall)


def within_class_diversity(features: Tensor, labels: Tensor, *, max_per_class: int = 1000, seed: int = 0) -> float:
    """Mean Euclidean distance between two different images of the same class, averaged over classes.

    Low values beside the real images' figure reveal mode collapse inside a
    class (a GAN drawing the same "7" again and again). Classes with fewer than
    two images are skipped; at most ``max_per_class`` images per class are used,
    a draw seeded by ``seed`` across the class (a test set ordered by subject
    would give its first few subjects).
    """
    means = []
    for label in labels.unique():
        group = features[labels == label]
        if len(group) > max_per_class:
            draw = torch.Generator().manual_seed(seed * 1_000_003 + int(label))
            group = group[torch.randperm(len(group), generator=draw)[:max_per_class]]
        group = group.float()  # (n, F)
        n = len(group)
        if n < 2:
            continue
        # the diagonal is zero, so the sum over all pairs / (n (n - 1)) is the mean over distinct pairs
        means.append(torch.cdist(group, group).sum() / (n * (n - 1)))
    if not means:
        raise ValueError("within_class_diversity: no class holds two or more images")
    return float(torch.stack(means).mean())

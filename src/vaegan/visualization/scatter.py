"""Latent codes projected to 2-D (PCA, t-SNE, UMAP) and drawn coloured by class."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from torch import Tensor

METHODS = ("latent", "pca", "tsne", "umap")
LONG_NAMES = {"latent": "the code's own axes", "pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}


def embed(
    codes: Tensor | np.ndarray, method: str, *, seed: int = 0, threads: int | None = 1
) -> tuple[np.ndarray, tuple[str, str]]:
    """Project codes (N, D) to (N, 2) with ``method`` and name the two axes.

    ``latent`` keeps the first two dimensions as they are (for 2-D codes);
    ``pca`` is scikit-learn's PCA (axes give the variance explained); ``tsne``
    (van der Maaten & Hinton 2008) and ``umap`` (McInnes et al. 2018) keep
    neighbourhoods, so their axes carry no units. Both need N >= 4.

    ``threads`` caps the OpenMP/BLAS threads (None: the libraries' default). One
    is the default because Barnes-Hut t-SNE's threads spin-wait: on a busy
    2-core machine 500 points took 38 s with two threads and 3 s with one.

    Example:
        >>> points, (x_name, y_name) = embed(torch.randn(100, 8), "pca")
        >>> points.shape
        (100, 2)
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads):
        return _embed(codes, method, seed)


def _embed(codes: Tensor | np.ndarray, method: str, seed: int) -> tuple[np.ndarray, tuple[str, str]]:
    x = np.asarray(codes, dtype=np.float32)
    n, d = x.shape
    if method not in METHODS:
        raise ValueError(f"unknown projection {method!r}; choose one of {', '.join(METHODS)}")
    if d < 2:
        raise ValueError(f"a 2-D projection needs codes of at least 2 dimensions, got {d}")
    if method == "latent":
        return x[:, :2], ("z0", "z1")
    if method == "pca":
        from sklearn.decomposition import PCA

        pca = PCA(n_components=2, random_state=seed)
        points = pca.fit_transform(x)
        explained = pca.explained_variance_ratio_ * 100
        return points, (f"PC1 ({explained[0]:.0f}% of variance)", f"PC2 ({explained[1]:.0f}% of variance)")
    if n < 4:
        raise ValueError(f"{LONG_NAMES[method]} needs at least 4 points, got {n}")
    if method == "tsne":
        from sklearn.manifold import TSNE

        perplexity = min(30.0, (n - 1) / 3)  # must stay below n; 30 is the usual default
        points = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(x)
        return points, ("t-SNE 1", "t-SNE 2")
    with warnings.catch_warnings():  # umap warns that a fixed seed disables its parallelism
        warnings.simplefilter("ignore")
        import umap

        reducer = umap.UMAP(n_components=2, n_neighbors=min(15, n - 1), random_state=seed)
        points = reducer.fit_transform(x)
    return points, ("UMAP 1", "UMAP 2")


def plot_embedding(
    points: np.ndarray,
    labels: Tensor | np.ndarray,
    axis_names: tuple[str, str],
    *,
    class_names: Sequence[str] | None = None,
    title: str = "Test-set encodings",
    equal_axes: bool = False,
) -> Figure:
    """A scatter of (N, 2) points, one colour per class, with a legend of class names.

    ``equal_axes`` for a linear projection (PCA, the code's own axes), whose two axes share a unit: a
    direction of little variance then looks as thin as it is, rather than stretched to the other's width.

    A class's colour is its own (:func:`class_colour`), whichever classes ``labels`` holds: the same in
    every figure of one run, a validation subsample's and the test set's alike.
    """
    labels = np.asarray(labels)
    classes = np.unique(labels)
    count = max(len(class_names or ()), int(classes.max()) + 1 if len(classes) else 0)
    fig = Figure(figsize=(7.0, 5.6))
    ax = fig.subplots()
    size = 12 if len(points) <= 2000 else 6
    for c in classes:
        mask = labels == c
        name = class_names[int(c)] if class_names is not None and int(c) < len(class_names) else str(int(c))
        colour = class_colour(int(c), count)
        ax.scatter(points[mask, 0], points[mask, 1], s=size, alpha=0.7, color=colour, label=name, lw=0)
    ax.set_xlabel(axis_names[0])
    ax.set_ylabel(axis_names[1])
    ax.set_title(title)
    ax.legend(title="class", loc="center left", bbox_to_anchor=(1.01, 0.5), markerscale=2, frameon=False)
    ax.grid(alpha=0.2)
    if equal_axes:
        ax.set_aspect("equal", adjustable="datalim")
    fig.tight_layout()
    return fig


def class_colour(label: int, count: int) -> tuple[float, float, float, float]:
    """The colour of class ``label`` of ``count``: tab10 (up to 10 classes), tab20 (up to 20), else evenly
    spaced along turbo, so that no two classes share one."""
    if count <= 20:
        return matplotlib.colormaps["tab10" if count <= 10 else "tab20"](label)
    return matplotlib.colormaps["turbo"](label / (count - 1))

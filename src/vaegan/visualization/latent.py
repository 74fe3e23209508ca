"""Every latent-space figure of a model, written to ``RUN/latent/*.png``.

:func:`latent_figures` decides what to draw from the model's capabilities
(``has_encoder``, ``conditional``, ``config.latent_dim``, a ``posterior``),
never from its name, so a model added to the registry gets its figures free:

- ``traversal.png``: k dimensions, each swept -3..+3 sd: the most informative (mean KL, or code
  variance for an autoencoder) where the model encodes, else the first k.
- ``manifold.png``: the decoded grid of a 2-D latent space.
- ``scatter_<method>.png``: test encodings coloured by class (PCA, t-SNE, UMAP;
  also the raw axes for 2-D codes). Only for models with an encoder.
- ``interpolation.png``: linear and spherical paths between two test images
  (between two prior draws without an encoder).
- ``class_interpolation.png``: conditional models, style fixed, class varied.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from matplotlib.figure import Figure
from torch import Tensor

from vaegan.foundation.files import write_text_atomic
from vaegan.visualization.codes import (
    LatentCodes,
    decode,
    encode_dataset,
    prior_codes,
    rank_dimensions,
    sweep_scale,
)
from vaegan.visualization.figures import save_figure
from vaegan.visualization.interpolation import class_mixtures, lerp, plot_interpolation, slerp
from vaegan.visualization.scatter import LONG_NAMES, embed, plot_embedding
from vaegan.visualization.traversal import (
    gaussian_axis,
    manifold_codes,
    plot_manifold,
    plot_traversal,
    traversal_images,
)

if TYPE_CHECKING:
    from vaegan.data import ImageDataset
    from vaegan.models.base import GenerativeModel

log = logging.getLogger(__name__)

PROVENANCE = "latent.json"  # in the figures' folder: figure name -> the checkpoint, epoch and split it shows


def figure_sources(folder: str | Path) -> dict[str, dict]:
    """Each figure's record in ``folder/latent.json`` (figure name -> checkpoint, epoch, split); {} if none."""
    try:
        record = json.loads((Path(folder) / PROVENANCE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    if not isinstance(record, dict):
        return {}
    return {name: entry for name, entry in record.items() if isinstance(entry, dict)}


def record_figures(folder: str | Path, entries: Mapping[str, Mapping[str, object]]) -> None:
    """Add ``entries`` (figure name -> what it shows) to ``folder/latent.json``, keeping the others."""
    record = figure_sources(folder) | {name: dict(entry) for name, entry in entries.items()}
    write_text_atomic(Path(folder) / PROVENANCE, json.dumps(record, indent=1, sort_keys=True) + "\n")


def foreign_files(folder: str | Path, figures: Sequence[str]) -> list[str]:
    """The files of ``folder`` named as ``figures`` (``NAME.png``) or latent.json that vaegan did not write
    there: its latent.json records every figure it draws, and is itself a JSON object of records."""
    folder = Path(folder)
    recorded = figure_sources(folder)
    theirs = [f"{name}.png" for name in figures if (folder / f"{name}.png").exists() and name not in recorded]
    if (folder / PROVENANCE).exists() and not recorded:  # not ours, or damaged: either way not replaced
        theirs.append(PROVENANCE)
    return theirs


class _Context:
    """What every figure of one call shares: the model, its codes (or None), names, a base code."""

    def __init__(self, model: GenerativeModel, dataset: ImageDataset, codes: LatentCodes | None, seed: int, split: str):
        self.model, self.codes, self.seed, self.split = model, codes, seed, split
        self.class_names = list(dataset.class_names)
        if codes is not None:
            self.base, self.label, self.origin = codes.codes[0], int(codes.labels[0]), f"a {split} image"
        else:
            self.base, self.label, self.origin = prior_codes(model, 1, seed)[0], 0, "a prior sample"

    def name_of(self, label: int) -> str:
        return self.class_names[label] if label < len(self.class_names) else str(label)

    def labels(self, n: int, label: int) -> Tensor | None:
        return torch.full((n,), label, dtype=torch.long) if self.model.conditional else None

    def title(self, what: str, label: int | None = None) -> str:
        suffix = f", class {self.name_of(label)}" if self.model.conditional and label is not None else ""
        return f"{self.model.name}: {what}{suffix}"


def traversal_figure(ctx: _Context, k: int, steps: int, span: float = 3.0) -> Figure:
    dims, row_labels = rank_dimensions(ctx.model, ctx.codes, k)
    scale, unit = sweep_scale(ctx.model, ctx.codes, ctx.split)
    offsets = torch.linspace(-span, span, steps)
    label = ctx.label if ctx.model.conditional else None
    images = traversal_images(ctx.model, ctx.base, dims, offsets, scale, label)
    title = ctx.title(f"latent traversal around {ctx.origin}", label)
    return plot_traversal(images, offsets, row_labels, unit=unit, title=title)


def manifold_figure(ctx: _Context, n: int = 15) -> Figure:
    codes = ctx.codes
    if codes is None or codes.kl is not None:  # a N(0, I) prior: evenly spaced quantiles of it
        axes = (gaussian_axis(n), gaussian_axis(n))
        what = "2-D latent manifold (N(0, I) quantiles 2.5%-97.5%)"
    else:  # a deterministic code: the range the encoded images' codes actually occupy
        q = torch.linspace(0.025, 0.975, n)
        axes = (torch.quantile(codes.codes[:, 0], q), torch.quantile(codes.codes[:, 1], q))
        what = f"2-D latent manifold ({ctx.split}-code quantiles 2.5%-97.5%)"
    grid = manifold_codes(axes)
    images = decode(ctx.model, grid, ctx.labels(len(grid), ctx.label))
    return plot_manifold(images, axes, title=ctx.title(what, ctx.label))


# t-SNE and UMAP place each point among its neighbours (perplexity, n_neighbors ~15-30): with fewer points
# than that they take seconds to draw arbitrary positions (a handful of test volumes: axes of +-4000)
NEIGHBOUR_EMBEDDINGS, NEIGHBOUR_MIN = ("tsne", "umap"), 20


def scatter_figure(ctx: _Context, method: str) -> Figure:
    points, axis_names = embed(ctx.codes.codes, method, seed=ctx.seed)
    what = f"{len(points)} {ctx.split} encodings by class, {LONG_NAMES[method]}"
    linear = method in ("pca", "latent")  # axes in the code's units; t-SNE's and UMAP's have none
    return plot_embedding(
        points, ctx.codes.labels, axis_names, class_names=ctx.class_names, title=ctx.title(what), equal_axes=linear
    )


def _pair(codes: LatentCodes, same_class: bool) -> tuple[int, int]:
    """Indices of two encoded images: of one class (conditional models) or of two different classes."""
    labels = codes.labels
    for j in range(1, len(labels)):
        if bool(labels[j] == labels[0]) == same_class:
            return 0, j
    return 0, min(1, len(labels) - 1)


def interpolation_figure(ctx: _Context, steps: int) -> Figure:
    t = torch.linspace(0.0, 1.0, steps)
    model, codes = ctx.model, ctx.codes
    if codes is not None:
        i, j = _pair(codes, same_class=model.conditional)
        a, b = codes.codes[i], codes.codes[j]
        endpoints, names = (codes.images[i], codes.images[j]), ("image A", "image B")
        what, label = f"interpolation between two {ctx.split} images", int(codes.labels[i])
    else:
        a, b = prior_codes(model, 2, ctx.seed + 1)
        endpoints, names, what, label = None, ("z_A", "z_B"), "interpolation between two prior draws", 0
    labels = ctx.labels(steps, label)
    rows = [decode(model, lerp(a, b, t), labels), decode(model, slerp(a, b, t), labels)]
    return plot_interpolation(
        rows,
        ["linear", "spherical"],
        t,
        endpoints=endpoints,
        endpoint_labels=names,
        title=ctx.title(what, label if model.conditional else None),
    )


def class_interpolation_figure(ctx: _Context, steps: int, rows: int = 4) -> Figure:
    """Style (z) fixed per row; the class changes along it: mixed one-hots if the model allows, else each class."""
    model, k = ctx.model, ctx.model.config.num_classes
    if ctx.codes is not None:
        z, sources = ctx.codes.codes[:rows], [int(c) for c in ctx.codes.labels[:rows]]
    else:
        z, sources = prior_codes(model, rows, ctx.seed + 2), list(range(rows))
    sources = [s % k for s in sources]
    if model.soft_labels:
        t = torch.linspace(0.0, 1.0, steps)
        targets = [(s + 1 + r % max(1, k - 1)) % k for r, s in enumerate(sources)]  # never the source class
        images = [
            decode(model, zi.expand(steps, -1), class_mixtures(s, d, k, t)) for zi, s, d in zip(z, sources, targets)
        ]
        row_labels = [f"{ctx.name_of(s)} \u2192 {ctx.name_of(d)}" for s, d in zip(sources, targets)]
        xlabel, columns, names = "weight t of the target class in the one-hot label", t, None
    else:
        images = [decode(model, zi.expand(k, -1), torch.arange(k)) for zi in z]
        row_labels = [f"style {r + 1}" for r in range(len(z))]
        xlabel, columns = "class", torch.arange(k, dtype=torch.float32)
        names = [ctx.name_of(c) for c in range(k)]
    title = ctx.title(f"class interpolation, style fixed per row ({ctx.origin.replace('a ', '')}s)")
    return plot_interpolation(images, row_labels, columns, title=title, xlabel=xlabel, column_labels=names)


def latent_figures(
    model: GenerativeModel,
    dataset: ImageDataset,
    out_dir: str | Path,
    *,
    methods: Sequence[str] = ("pca", "tsne", "umap"),
    n_points: int = 2000,
    k: int = 8,
    steps: int = 9,
    seed: int = 0,
    split: str = "test",
    drawn_from: Mapping[str, object] | None = None,
) -> dict[str, Path]:
    """Write every latent figure that ``model`` supports into ``out_dir``; returns name -> path.

    Args:
        model: any registered model, trained or not.
        dataset: images to encode (usually the test split); also gives the class names.
        out_dir: the folder, conventionally ``RUN/latent``.
        methods: 2-D projections for the scatter plots (``pca``, ``tsne``, ``umap``).
        n_points: how many images to encode (a seeded subsample keeps t-SNE/UMAP fast).
        k: how many latent dimensions the traversal shows (the most informative).
        steps: images per traversal and interpolation row.
        seed: seed of the subsample, the prior draws and the projections.
        split: which images ``dataset`` holds (``test``, ``val``, ``train``), as the titles name them.
        drawn_from: the weights ``model`` holds, e.g. ``{"checkpoint": "best", "epoch": 6}``; recorded with
            ``split`` for each figure written in ``out_dir/latent.json`` (other figures' records are kept),
            so a report can say which model each figure shows. Every figure is recorded there, so that
            a later call knows which files of ``out_dir`` are its own (see :func:`foreign_files`).

    Example:
        >>> paths = latent_figures(run.model, run.load_data().test, "outputs/mnist_vae/latent")  # doctest: +SKIP
        >>> sorted(paths)  # doctest: +SKIP
        ['interpolation', 'scatter_pca', 'scatter_tsne', 'scatter_umap', 'traversal']
    """
    out_dir = Path(out_dir)
    d = model.config.latent_dim
    codes = encode_dataset(model, dataset, n_points, seed=seed) if model.has_encoder else None
    ctx = _Context(model, dataset, codes, seed, split)
    figures = {"traversal": lambda: traversal_figure(ctx, k, steps)}
    if d == 2:
        figures["manifold"] = lambda: manifold_figure(ctx)
    if codes is not None and d >= 2:
        for method in ["latent"] * (d == 2) + list(methods):
            if method in NEIGHBOUR_EMBEDDINGS and len(codes.codes) < NEIGHBOUR_MIN:
                log.warning(
                    "scatter_%s: %d encodings are too few for a neighbour embedding (%d or more); not drawn "
                    "(--methods pca draws a linear projection)", method, len(codes.codes), NEIGHBOUR_MIN,
                )  # fmt: skip
                continue
            figures[f"scatter_{method}"] = lambda method=method: scatter_figure(ctx, method)
    elif codes is not None:
        log.info("%s: 1-D codes; no 2-D projections drawn", model.name)
    figures["interpolation"] = lambda: interpolation_figure(ctx, steps)
    if model.conditional:
        figures["class_interpolation"] = lambda: class_interpolation_figure(ctx, steps)
    # recorded first: a call killed half-way leaves no figure that the next call would take for a user's
    # split None: no figure of a model without an encoder shows an image of the split, only prior draws
    source = {**(drawn_from or {}), "split": split if codes is not None else None}
    record_figures(out_dir, {name: source for name in figures})
    return {name: save_figure(make(), out_dir / f"{name}.png") for name, make in figures.items()}

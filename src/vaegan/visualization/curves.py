"""Training curves: one panel per loss term, train and validation against epoch."""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from pathlib import Path

from matplotlib.figure import Figure  # the object API: no pyplot state, no backend switching
from matplotlib.ticker import MaxNLocator

from vaegan.foundation.errors import VaeganError
from vaegan.foundation.files import atomic_write

# Units of the terms the built-in models log. Likelihood and KL terms are sums over a
# whole image (pixels, or latent dimensions) averaged over the batch: nats per image.
# GAN losses are binary cross-entropies averaged over the batch; d_real/d_fake are D's
# mean probability that an image is real.
UNITS: dict[str, str] = {
    "loss": "nats / image",
    "objective": "nats / image",  # the loss at the configured weights, without a warm-up
    "recon": "nats / image",
    "kl": "nats / image",
    "nll": "nats / image",
    "d_loss": "nats / image",
    "g_loss": "nats / image",
    "d_real": "probability",
    "d_fake": "probability",
    "class_real": "nats / image",  # ACGAN's class cross-entropies
    "class_fake": "nats / image",
    "map_r": "Pearson r with the true atrophy",  # train.score_maps_every, on phantoms
}


def read_history(path: str | Path) -> list[dict[str, float]]:
    """``metrics.csv`` back into the Trainer's history rows; empty cells (terms absent that epoch) are dropped."""
    rows = []
    with Path(path).open(newline="", encoding="utf-8", errors="replace") as handle:
        for line, row in enumerate(csv.DictReader(handle), 2):
            rows.append({key: _number(value, path, line, key) for key, value in row.items() if key and value})
    return rows


def _number(value: str | list, path: str | Path, line: int, key: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise VaeganError(f"{path}: line {line}, column {key}: {value!r} is not a number; was it edited?") from None


def best_row(history: list[dict[str, float]], monitor: str | None) -> dict[str, float]:
    """The history row of the epoch ``checkpoints/best.pt`` holds, by the rule the Checkpoints callback keeps it.

    An epoch is kept when its ``val/<monitor>`` is lower than every earlier one (the first of a tie; a NaN
    never), or when it has no such value (a run without validation, or a model with no ``monitor``, such as
    the GANs: best.pt is then the last epoch).
    """
    key = f"val/{monitor}" if monitor else None
    kept, best = history[-1], math.inf
    for row in history:
        value = row.get(key) if key else None
        if value is None:
            kept = row
        elif value < best:
            kept, best = row, value
    return kept


def loss_terms(history: list[dict[str, float]]) -> list[str]:
    """Loss names seen in the history, without their train/ and val/ prefixes, in first-seen order."""
    names: dict[str, None] = {}
    for row in history:
        for key in row:
            if "/" in key:
                names.setdefault(key.split("/", 1)[1], None)
    return list(names)


def unit_of(term: str, units: Mapping[str, str] | None = None) -> str | None:
    """The unit of a term: from ``units``, then the built-in table, then by name (``acc_*`` is a fraction)."""
    table = {**UNITS, **(units or {})}
    if term in table:
        return table[term]
    if any(part in ("acc", "accuracy") for part in term.split("_")):
        return "fraction correct"
    return None


def curves_figure(
    history: list[dict[str, float]], title: str = "Training curves", *, units: Mapping[str, str] | None = None
) -> Figure:
    """A panel per loss term (train solid, validation dashed), epochs as integer ticks, units on the y axes.

    A term whose values equal an earlier term's in every row (the VAE's objective is its loss when there
    is no warm-up) shares that term's panel, titled ``loss = objective``, rather than drawing it twice.
    """
    panels = _same_series(history, loss_terms(history))
    terms = list(panels)
    columns = min(3, max(1, len(terms)))
    rows = -(-max(1, len(terms)) // columns)
    fig = Figure(figsize=(4.2 * columns, 3.2 * rows))
    axes = fig.subplots(rows, columns, squeeze=False)
    epochs = [row["epoch"] for row in history]
    for ax, term in zip(axes.flat, terms):
        for split, style in (("train", "-o"), ("val", "--s")):
            values = [row.get(f"{split}/{term}") for row in history]
            points = [(e, v) for e, v in zip(epochs, values) if v is not None and v == v]  # v == v drops NaN
            if points:
                ax.plot(*zip(*points), style, markersize=3, label=split)
        unit = unit_of(term, units)
        ax.set_title(" = ".join([term, *panels[term]]))
        ax.set_xlabel("epoch")
        ax.set_ylabel(f"{term} ({unit})" if unit else term)
        _epoch_ticks(ax, epochs)
        ax.grid(alpha=0.3)
        ax.legend()
    for ax in list(axes.flat)[len(terms) :]:
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def _same_series(history: list[dict[str, float]], terms: list[str]) -> dict[str, list[str]]:
    """Each term that draws a panel -> the later terms whose train and val values equal its own in every row."""
    panels: dict[str, list[str]] = {}
    drawn: dict[tuple, str] = {}
    for term in terms:
        series = tuple((row.get(f"train/{term}"), row.get(f"val/{term}")) for row in history)
        if series in drawn:
            panels[drawn[series]].append(term)
        else:
            drawn[series], panels[term] = term, []
    return panels


def _epoch_ticks(ax, epochs: list[float]) -> None:
    """Whole epochs on the x axis: each one up to 12 (MaxNLocator draws fractions around a single epoch)."""
    if len(epochs) <= 12:
        ax.set_xticks(epochs)
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def panel_curves(
    history: list[dict[str, float]],
    panels: Mapping[str, Mapping[str, str]],
    split: str = "train",
    *,
    units: Mapping[str, str] | None = None,
) -> Figure:
    """Chosen terms of one split, grouped: ``{panel title: {term: legend label}}``, a line per term.

    For models whose terms mean more side by side than one to a panel, e.g. a GAN's
    ``{"the discriminator's mean verdicts": {"d_real": "D(x)", "d_fake": "D(G(z))"}}``. Each panel's
    title names the split; its y axis the terms' unit (:func:`unit_of`, ``units`` overriding), or, where
    they differ, each label's.
    """
    fig = Figure(figsize=(4.6 * len(panels), 3.5))
    epochs = [row["epoch"] for row in history]
    for ax, (title, terms) in zip(fig.subplots(1, len(panels), squeeze=False)[0], panels.items()):
        for term, label in terms.items():
            key = f"{split}/{term}"
            if not any(key in row for row in history):
                raise KeyError(f"panel {title!r}: no {key!r} in the history; it holds {sorted(history[-1])}")
            ax.plot(epochs, [row.get(key, float("nan")) for row in history], "-o", markersize=3, label=label)
        ax.set(title=f"{title} ({split})", xlabel="epoch", ylabel=_panel_unit(terms, units))
        _epoch_ticks(ax, epochs)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return fig


def _panel_unit(terms: Mapping[str, str], units: Mapping[str, str] | None) -> str:
    """A panel's y label: its terms' one unit, else the legend labels of each unit with it
    (``D(x), D(x_p): probability; C right on x_p: fraction correct``; a term of no known unit: its label)."""
    by_unit: dict[str | None, list[str]] = {}
    for term, label in terms.items():
        by_unit.setdefault(unit_of(term, units), []).append(label)
    if len(by_unit) == 1 and None not in by_unit:
        return next(iter(by_unit))
    return "; ".join(", ".join(labels) + (f": {unit}" if unit else "") for unit, labels in by_unit.items())


def plot_curves(
    history: list[dict[str, float]],
    path: str | Path,
    title: str = "Training curves",
    *,
    units: Mapping[str, str] | None = None,
) -> Path:
    """Save :func:`curves_figure` as a PNG.

    Args:
        history: one row per epoch, ``{"epoch": 1, "train/loss": ..., "val/loss": ...}``.
        path: the PNG to write.
        title: the figure's title.
        units: extra or overriding units per term name, shown on the y axes.

    Example:
        >>> plot_curves([{"epoch": 1, "train/loss": 2.0, "val/loss": 2.1}], "curves.png")  # doctest: +SKIP
    """
    fig = curves_figure(history, title, units=units)
    path = Path(path)
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))  # rewritten every epoch: never half
    return path

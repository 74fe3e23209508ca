"""Training curves: one panel per loss term, train and validation against epoch."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def loss_terms(history: list[dict[str, float]]) -> list[str]:
    """Loss names seen in the history, without their train/ and val/ prefixes, in first-seen order."""
    names: dict[str, None] = {}
    for row in history:
        for key in row:
            if "/" in key:
                names.setdefault(key.split("/", 1)[1], None)
    return list(names)


def plot_curves(history: list[dict[str, float]], path: str | Path, title: str = "Training curves") -> Path:
    """Save a figure with a panel per term (train solid, validation dashed)."""
    terms = loss_terms(history)
    columns = min(3, max(1, len(terms)))
    rows = -(-max(1, len(terms)) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.2 * rows), squeeze=False)
    epochs = [row["epoch"] for row in history]
    for ax, term in zip(axes.flat, terms):
        for split, style in (("train", "-o"), ("val", "--s")):
            values = [row.get(f"{split}/{term}") for row in history]
            points = [(e, v) for e, v in zip(epochs, values) if v is not None]
            if points:
                ax.plot(*zip(*points), style, markersize=3, label=split)
        ax.set_title(term)
        ax.set_xlabel("epoch")
        ax.set_ylabel(term)
        ax.grid(alpha=0.3)
        ax.legend()
    for ax in list(axes.flat)[len(terms) :]:
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

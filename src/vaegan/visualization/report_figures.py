"""The report's images, read from a run folder: per-epoch grids, latent figures and disease maps.

Each section builder takes the run folder and returns what the template shows (images as ``data:`` URIs,
captions, and a note where a figure is of an epoch its checkpoint no longer holds); a missing file gives
an empty section, never an error.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from vaegan.visualization.grids import grid_files
from vaegan.visualization.report_tables import fmt, shell

LATENT_ORDER = ("traversal", "manifold", "scatter_latent", "scatter_pca", "scatter_tsne", "scatter_umap")
LATENT_CAPTIONS = {
    "traversal": "Each row sweeps one latent dimension around a base code: the most informative first (mean KL "
    "for VAEs, code variance for autoencoders); in index order for models without an encoder (GANs).",
    "manifold": "Decoded images on a grid of quantiles over the 2-D latent space (evenly spaced in probability).",
    "scatter_latent": "Encodings on the code's own two axes, coloured by class (the title names the split).",
    "scatter_pca": "Encodings projected by PCA, coloured by class (the title names the split).",
    "scatter_tsne": "Encodings embedded by t-SNE, coloured by class (the title names the split).",
    "scatter_umap": "Encodings embedded by UMAP, coloured by class (the title names the split).",
    "interpolation": "Linear and spherical paths between two codes, decoded.",
    "class_interpolation": "The code (style) fixed per row while the class label changes.",
}

GRID_CAPTIONS = {
    "recons": "Fixed validation images, each row of them above the row of their reconstructions.",
    "fakes": "Decoded from fixed noise, the same every epoch; conditional models: row c is class c, and each "
    "column keeps one noise (one style) across the classes.",
    "analogies": "Column 1: a validation image; the next columns: its code decoded as class 0, 1, ... in "
    "class order (the style kept, the class changed).",
}

EFFECT_CAPTIONS = {
    "group_effect": "The model's group map (each control decoded as control minus as disease, averaged), the "
    "true atrophy on phantoms, and the model-free group difference of the same subjects; loss is positive.",
    "individual": "The first disease subjects' own maps (the figure's title says how many of all; on phantoms "
    "every one is scored in the table): each its counterfactual without the disease minus the scan (on phantoms "
    "beside its own true atrophy).",
}
CONDITIONAL_MODELS = ("cvae", "cvaegan")  # the shipped models that draw disease maps (vaegan effects)


def data_uri(path: Path) -> str:
    """A PNG file as a ``data:`` URI, so the page needs no other files."""
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def spaced(epochs: list[int], most: int) -> list[int]:
    """At most ``most`` epochs spread evenly, always keeping the first and the last."""
    if len(epochs) <= most:
        return epochs
    if most < 2:
        return epochs[-1:]
    picks = {round(i * (len(epochs) - 1) / (most - 1)) for i in range(most)}
    return [epochs[i] for i in sorted(picks)]


def grids_section(run: Path, max_epochs: int) -> list[dict[str, Any]]:
    """One entry per grid kind: its epochs (evenly thinned to ``max_epochs``) and their images."""
    kinds = grid_files(run)
    preferred = ["recons", "fakes", "analogies"]
    order = sorted(kinds, key=lambda k: (preferred.index(k) if k in preferred else len(preferred), k))
    out = []
    for kind in order:
        epochs = spaced(sorted(kinds[kind]), max_epochs)
        frames = [{"epoch": e, "src": data_uri(kinds[kind][e])} for e in epochs]
        caption = GRID_CAPTIONS.get(kind, kind.replace("_", " "))
        out.append({"kind": kind, "frames": frames, "total": len(kinds[kind]), "caption": caption})
    return out


def latent_section(run: Path, metrics: dict[str, Any] | None = None) -> list[dict[str, str]]:
    """The figures in ``RUN/latent/`` in a reading order, with captions, each with the checkpoint it was drawn
    from (``latent/latent.json``) and a note where that checkpoint holds another epoch now.

    ``metrics``: :func:`.report_tables.metrics_section` of the run (its best and last epochs now)."""
    from vaegan.visualization.latent import figure_sources

    paths = {p.stem: p for p in (run / "latent").glob("*.png")}
    order = [n for n in LATENT_ORDER if n in paths] + sorted(n for n in paths if n not in LATENT_ORDER)
    order.sort(key=lambda n: n in ("interpolation", "class_interpolation"))  # paths through the space last
    sources = figure_sources(run / "latent")
    figures = []
    for name in order:
        drawn, stale = _drawn(sources.get(name), metrics or {}, run)
        caption = LATENT_CAPTIONS.get(name, name.replace("_", " "))
        figures.append({"name": name, "caption": caption, "src": data_uri(paths[name]), "drawn": drawn, "stale": stale})
    return figures


SPLIT_NAMES = {"val": "validation", "test": "test", "train": "training"}


def _drawn(source: dict | None, metrics: dict[str, Any], run: Path) -> tuple[str, str]:
    """(what a latent figure shows: "best.pt of epoch 6, test images", a note if best.pt moved on since)."""
    checkpoint, epoch = (source or {}).get("checkpoint"), (source or {}).get("epoch")
    if checkpoint not in ("best", "last") or not isinstance(epoch, int):
        return "", ""
    split = source.get("split", "test")  # None: a model without an encoder, whose figures show prior draws
    images = "prior draws" if split is None else f"{SPLIT_NAMES.get(str(split), str(split))} images"
    drawn = f"{checkpoint}.pt of epoch {epoch}, {images}"
    now = metrics.get(f"{checkpoint}_held")
    if now is None or now == epoch:
        return drawn, ""
    return (
        drawn,
        f"drawn from {checkpoint}.pt of epoch {epoch}; it now holds epoch {now}: "
        f"run vaegan visualize {shell(run)} again",
    )


def stale_effects(run: Path, summary: dict[str, Any], metrics: dict[str, Any]) -> str | None:
    """A note where ``effects.json`` was made with another epoch than its checkpoint holds now (trained on since),
    or its r were scored against a phantom set's older truth maps.

    ``metrics``: :func:`.report_tables.metrics_section` of the run (its best and last epochs now)."""
    from vaegan.data.phantoms import OLD_TRUTH, TRUTH_MAP

    notes = []
    epoch, checkpoint = summary.get("epoch"), summary.get("checkpoint")
    if isinstance(epoch, int) and isinstance(checkpoint, str):
        now = metrics["best_held"] if Path(checkpoint).name == "best.pt" else metrics["last_held"]
        if now is not None and now != epoch:
            notes.append(
                f"these maps were made with epoch {epoch}; {Path(checkpoint).name} now holds epoch {now}: run "
                f"vaegan effects {shell(run)} again"
            )
    group = summary.get("group") if isinstance(summary.get("group"), dict) else {}
    truth = summary.get("truth", 1)
    if group.get("r_model") is not None and isinstance(truth, int) and truth < TRUTH_MAP:
        notes.append(
            f"their r were scored against {OLD_TRUTH}, not comparable with today's: write the phantom set "
            f"again with vaegan phantoms and run vaegan effects {shell(run)} again"
        )
    return "; ".join(notes) or None


def holds_volumes(data: dict[str, Any]) -> bool:
    """Whether a run's data section (as read from config.yaml) reads brain volumes: phantoms, or an mri folder
    of scans (not one of 2-D images in class folders; a folder gone since counts as scans)."""
    if data.get("dataset") == "phantoms":
        return True
    if data.get("dataset") != "mri":
        return False
    from vaegan.data.mri_sources import detect_layout
    from vaegan.foundation.errors import DataError

    folder = data.get("data_dir")
    layout = data["mri"].get("layout", "auto") if isinstance(data.get("mri"), dict) else "auto"
    if not isinstance(folder, str) or not isinstance(layout, str):  # unset, or a hand-edited config
        return True
    try:
        return detect_layout(Path(folder), layout) != "imagefolder"
    except (DataError, OSError, ValueError):
        return True


def effects_section(run: Path, metrics: dict[str, Any]) -> dict[str, Any]:
    """``RUN/effects/``: its two figures with captions, and the figures of its ``effects.json`` (if readable);
    a note where it is unreadable or of an earlier epoch.

    ``metrics``: :func:`.report_tables.metrics_section` of the run (its best and last epochs now)."""
    folder = run / "effects"
    figures = [
        {"name": f"effects {name}", "caption": caption, "src": data_uri(folder / f"{name}.png")}
        for name, caption in EFFECT_CAPTIONS.items()
        if (folder / f"{name}.png").is_file()
    ]
    facts: list[tuple[str, str]] = []
    error, summary, path = None, None, folder / "effects.json"
    if path.is_file():
        try:
            summary = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError, UnicodeDecodeError) as problem:
            error = f"{path.name} cannot be read: {problem}; run vaegan effects {shell(run)} again"
    if isinstance(summary, dict):
        error = stale_effects(run, summary, metrics)
        if isinstance(summary.get("control"), str) and isinstance(summary.get("disease"), str):
            facts.append(("classes", f"{summary['control']} as control, {summary['disease']} as disease"))
        for key in ("scans", "subjects"):
            counts = summary.get(f"{key}_by_class")
            if isinstance(counts, dict):
                facts.append((key, ", ".join(f"{fmt(n)} {fmt(name)}" for name, n in counts.items())))
        facts += [(key, fmt(summary.get(key))) for key in ("split", "samples") if key in summary]
        if summary.get("scaled") is True:
            facts.append(("scaled", "each subject's own fitted amount of the disease removed (--scaled)"))
        if isinstance(summary.get("refine"), int) and summary["refine"] > 0:
            fitted = summary.get("fitted") if isinstance(summary.get("fitted"), str) else "MAP code"
            facts.append(("refined", f"each subject's map from its {fitted} ({summary['refine']} steps, --refine)"))
        group = summary.get("group") if isinstance(summary.get("group"), dict) else {}
        labels = {"r_model": "group map r (vs true atrophy)", "r_group_difference": "group difference r"}
        facts += [(label, fmt(group.get(key))) for key, label in labels.items() if group.get(key) is not None]
        quartiles = summary.get("individual_quartiles")
        if isinstance(quartiles, list) and len(quartiles) == 3:
            facts.append(
                ("individual maps r, median [IQR]", f"{fmt(quartiles[1])} [{fmt(quartiles[0])}, {fmt(quartiles[2])}]")
            )
        floor = summary.get("individual_floor") if isinstance(summary.get("individual_floor"), dict) else {}
        low_median_high = floor.get("quartiles")
        if isinstance(low_median_high, list) and len(low_median_high) == 3:
            low, median, high = (fmt(v) for v in low_median_high)
            facts.append(
                (
                    "floor: a group study's map for every subject",
                    f"{median} [{low}, {high}], the group difference of the {fmt(floor.get('subjects'))} subjects "
                    "the run learned from; the individual maps tell more only above it",
                )
            )
    return {"present": bool(figures or facts or error), "figures": figures, "facts": facts, "error": error}

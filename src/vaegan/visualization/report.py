"""``RUN/report.html``: one self-contained page (images embedded as base64) describing a run.

Sections, each present even when its files are missing (it then says what to run):
overview, configuration, metrics (last epoch and best epoch), training curves,
per-epoch grids (a slider over epochs for each kind: recons, fakes, ...), latent
figures (``RUN/latent/*.png``), and evaluation (``RUN/evaluation.json``); a conditional
run on brain volumes also its disease maps (``RUN/effects/``, written by ``vaegan effects``).
Every piece of text is HTML-escaped by the template engine (Jinja2, autoescape on).
"""

from __future__ import annotations

import base64
import csv
import json
import math
import shlex
from datetime import datetime
from pathlib import Path
from typing import Any

import torch
import yaml
from jinja2 import Environment, PackageLoader, select_autoescape

from vaegan.foundation.checkpoints import held_epoch
from vaegan.foundation.errors import VaeganError
from vaegan.foundation.files import RUN_MARKER, atomic_write, package_version
from vaegan.visualization.curves import best_row, read_history, unit_of
from vaegan.visualization.grids import grid_files

SECTIONS = ("overview", "config", "metrics", "curves", "grids", "latent", "evaluation")
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

BETTER = {"lower": "lower", "higher": "higher", "closer": "closer to real"}  # a metric's better direction


def data_uri(path: Path) -> str:
    """A PNG file as a ``data:`` URI, so the page needs no other files."""
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def fmt(value: Any) -> str:
    """Measurements to 4 significant digits; whole numbers (seeds, counts) whole; anything else as text;
    missing as an em dash."""
    if value is None:
        return "\u2014"
    if isinstance(value, bool | int):
        return str(value)
    if isinstance(value, int | float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    return str(value)


def shell(path: Path) -> str:
    """A path as one shell argument, for the commands the page prints (run names may hold spaces)."""
    return shlex.quote(str(path))


def spaced(epochs: list[int], most: int) -> list[int]:
    """At most ``most`` epochs spread evenly, always keeping the first and the last."""
    if len(epochs) <= most:
        return epochs
    if most < 2:
        return epochs[-1:]
    picks = {round(i * (len(epochs) - 1) / (most - 1)) for i in range(most)}
    return [epochs[i] for i in sorted(picks)]


def is_run_folder(folder: Path) -> bool:
    """Whether ``folder`` holds a run (its marker, or any file a run writes first)."""
    return any((folder / name).exists() for name in (RUN_MARKER, "config.yaml", "metrics.csv", "checkpoints"))


GENERATOR = '<meta name="generator" content="vaegan'  # in every page this module writes


def _replaceable(page: Path, run: Path) -> bool:
    """Whether ``page`` may be written over: absent, a page vaegan wrote, or in a folder that is surely a
    run (its marker or a checkpoint; pages from before the generator tag)."""
    if not page.exists():
        return True
    checkpoints = (run / "checkpoints" / name for name in ("last.pt", "best.pt"))
    if (run / RUN_MARKER).is_file() or any(path.is_file() for path in checkpoints):
        return True
    try:
        with page.open(encoding="utf-8", errors="replace") as text:
            return GENERATOR in text.read(4096)
    except OSError:
        return False


def read_config(run: Path) -> tuple[str | None, dict[str, Any]]:
    """``config.yaml`` as text and as data (empty if absent or unreadable; the text then says why)."""
    path = run / "config.yaml"
    if not path.is_file():
        return None, {}
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        return f"{path.name} cannot be read: {error}", {}
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        data = None
    return text, data if isinstance(data, dict) else {}


def model_facts(model: dict[str, Any]) -> tuple[str | None, dict[str, str | None]]:
    """The metric the model's best.pt is chosen by (``model.monitor``) and its curves' units, from its config.

    The model is built on the ``meta`` device (no memory) to ask it; a config that builds nothing gives
    the defaults, so a report is always written.
    """
    from vaegan.models.registry import get_model_class

    try:
        cls = get_model_class(model["name"])
    except Exception:  # no name, an unknown one, or not a name at all: a report is still written
        return "loss", {}
    try:
        with torch.device("meta"):
            units = cls(cls.config_class.model_validate(model)).curve_units()
    except Exception:  # an old or hand-edited config: the default units
        units = {}
    return cls.monitor, units


def metrics_section(run: Path, monitor: str | None, units: dict[str, str | None]) -> dict[str, Any]:
    """Rows (metric, last, best, unit) and which epochs those are, from ``metrics.csv``."""
    path = run / "metrics.csv"
    empty = {"rows": [], "last_epoch": None, "best_epoch": None, "monitor": monitor, "error": None, "note": None}
    empty |= {"last_held": None, "best_held": None}
    try:
        history = read_history(path) if path.is_file() else []
    except (OSError, ValueError, csv.Error, VaeganError) as error:  # VaeganError: a cell that is not a number
        return empty | {"error": f"{path.name} cannot be read: {error}"}
    if not history:
        return empty
    last = history[-1]
    key = f"val/{monitor}" if monitor else None
    scored = any(key and isinstance(row.get(key), float) and math.isfinite(row[key]) for row in history)
    # what the checkpoints hold, read from them: metrics.csv is written first, so a save cut short leaves it ahead
    held = {name: held_epoch(run / "checkpoints" / f"{name}.pt") for name in ("last", "best")}
    # best.pt's own epoch where it is in the history: an accepted change of the objective started it afresh,
    # which the rule over the whole history (best_row) cannot know
    best = next((row for row in history if row.get("epoch") == held["best"]), None) or best_row(history, monitor)
    names = list(dict.fromkeys(k for row in history for k in row if k != "epoch"))
    rows = [
        {
            "name": n,
            "last": fmt(last.get(n)),
            "best": fmt(best.get(n)),
            "is_key": n == key,
            "unit": "s" if n == "seconds" else unit_of(n.split("/", 1)[-1], units) or "",
        }
        for n in names
    ]
    last_epoch, best_epoch = int(last.get("epoch", len(history))), int(best.get("epoch", len(history)))
    behind = held["last"] is not None and held["last"] != last_epoch
    return {
        "rows": rows,
        "last_epoch": last_epoch,
        "best_epoch": best_epoch,
        "last_held": held["last"] if held["last"] is not None else last_epoch,
        "best_held": held["best"] if held["best"] is not None else best_epoch,
        "note": (
            f"checkpoints/last.pt holds epoch {held['last']}, metrics.csv runs to epoch {last_epoch}: the run "
            f"stopped while saving that epoch's checkpoints; --resume goes on from epoch {held['last']}"
            if behind
            else None
        ),
        "monitor": key if scored else None,
        "error": None,
    }


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

    ``metrics``: :func:`metrics_section` of the run (its best and last epochs now)."""
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
    split = SPLIT_NAMES.get(str(source.get("split")), str(source.get("split")))
    drawn = f"{checkpoint}.pt of epoch {epoch}, {split} images"
    now = metrics.get(f"{checkpoint}_held")
    if now is None or now == epoch:
        return drawn, ""
    return (
        drawn,
        f"drawn from {checkpoint}.pt of epoch {epoch}; it now holds epoch {now}: "
        f"run vaegan visualize {shell(run)} again",
    )


def stale_effects(run: Path, summary: dict[str, Any], metrics: dict[str, Any]) -> str | None:
    """A note where ``effects.json`` was made with another epoch than its checkpoint holds now (trained on since).

    ``metrics``: :func:`metrics_section` of the run (its best and last epochs now)."""
    epoch, checkpoint = summary.get("epoch"), summary.get("checkpoint")
    if not isinstance(epoch, int) or not isinstance(checkpoint, str):
        return None
    now = metrics["best_held"] if Path(checkpoint).name == "best.pt" else metrics["last_held"]
    if now is None or now == epoch:
        return None
    return (
        f"these maps were made with epoch {epoch}; {Path(checkpoint).name} now holds epoch {now}: run "
        f"vaegan effects {shell(run)} again"
    )


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
    a note where it is unreadable or of an earlier epoch (``metrics``: :func:`metrics_section` of the run)."""
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
        group = summary.get("group") if isinstance(summary.get("group"), dict) else {}
        labels = {"r_model": "group map r (vs true atrophy)", "r_group_difference": "group difference r"}
        facts += [(label, fmt(group.get(key))) for key, label in labels.items() if group.get(key) is not None]
        quartiles = summary.get("individual_quartiles")
        if isinstance(quartiles, list) and len(quartiles) == 3:
            facts.append(
                ("individual maps r, median [IQR]", f"{fmt(quartiles[1])} [{fmt(quartiles[0])}, {fmt(quartiles[2])}]")
            )
    return {"present": bool(figures or facts or error), "figures": figures, "facts": facts, "error": error}


def stale_evaluation(data: dict[str, Any], metrics: dict[str, Any]) -> str | None:
    """What changed since ``evaluation.json`` (``data``) was made, where its checkpoint now holds another epoch.

    ``metrics``: :func:`metrics_section` of the run (its best and last epochs now). An evaluation from before
    the checkpoint's epoch was recorded is judged by the epochs trained then.
    """
    checkpoint, epoch = data.get("checkpoint"), data.get("checkpoint_epoch")
    if checkpoint in ("best", "last") and isinstance(epoch, int):
        now = metrics["best_held"] if checkpoint == "best" else metrics["last_held"]
        return (
            None
            if now is None or now == epoch
            else f"evaluated {checkpoint}.pt of epoch {epoch}; it now holds epoch {now}"
        )
    train = data.get("train")
    evaluated, trained = (train.get("epochs") if isinstance(train, dict) else None), metrics["last_epoch"]
    if isinstance(evaluated, int) and trained is not None and evaluated != trained:
        return f"evaluated after epoch {evaluated} of the {trained} now trained"
    return None


def evaluated_line(data: dict[str, Any]) -> str:
    """What an evaluation scored, in one line: "best.pt of epoch 7 · NLL on 1000 test images, k 5000 ·
    10000 samples · seed 0 · 442 s"; the parts a file lacks (an older or hand-edited one) are left out."""
    options = data.get("options") if isinstance(data.get("options"), dict) else {}
    checkpoint, epoch = data.get("checkpoint"), data.get("checkpoint_epoch")
    parts = []
    if isinstance(checkpoint, str):
        parts.append(f"{checkpoint}.pt" + (f" of epoch {epoch}" if isinstance(epoch, int) else ""))
    metrics = data.get("metrics") if isinstance(data.get("metrics"), dict) else {}
    if any(str(name).startswith("nll") for name in metrics):  # no likelihood, no NLL settings to show
        images, n_test = options.get("nll_images"), data.get("n_test")
        if not isinstance(images, int) or images == 0 or (isinstance(n_test, int) and images >= n_test):
            images = f"all {fmt(n_test)}"  # the evaluation scores min(--nll-images, test images); 0: all
        parts.append(f"NLL on {images} test images, k {fmt(options.get('k'))}")
    if isinstance(data.get("n_samples"), int):
        fitted = " from fitted codes" if options.get("latent") == "fitted" else ""
        parts.append(f"{data['n_samples']} samples{fitted}")
    if isinstance(options.get("seed"), int):
        parts.append(f"seed {options['seed']}")
    seconds = data.get("seconds") if isinstance(data.get("seconds"), dict) else {}
    spent = [value for value in seconds.values() if isinstance(value, int | float)]
    if spent:
        parts.append(f"{fmt(sum(spent))} s")
    return " \u00b7 ".join(parts)


def evaluation_section(run: Path, metrics_now: dict[str, Any] | None = None) -> dict[str, Any]:
    """``evaluation.json`` rendered robustly: whatever fields are there, an error note if it is unreadable.

    ``metrics_now``: :func:`metrics_section` of the run; an evaluation of a checkpoint that has been replaced
    since says it is out of date.
    """
    path = run / "evaluation.json"
    if not path.is_file():
        return {"present": False}
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as error:
        return {"present": True, "error": f"{path.name} is not valid JSON: {error}", "rows": [], "fields": []}
    if not isinstance(data, dict):
        return {"present": True, "error": f"{path.name}: expected an object, got {type(data).__name__}", "rows": []}
    metrics = data.get("metrics")
    rows = []
    for name, entry in metrics.items() if isinstance(metrics, dict) else []:
        entry = entry if isinstance(entry, dict) else {"value": entry}
        rows.append(
            {
                "name": str(name),
                "value": fmt(entry.get("value")) + (f" ± {fmt(entry['std'])}" if entry.get("std") is not None else ""),
                "floor": fmt(entry.get("floor")),
                "unit": fmt(entry.get("unit")) if entry.get("unit") else "",
                "better": BETTER.get(entry["better"], "") if isinstance(entry.get("better"), str) else "",
            }
        )
    fields = []  # how it was measured: plain values, and one level of nested ones (train.epochs, options.k)
    for k, v in data.items():
        if k in ("metrics", "notes") or isinstance(v, list):
            continue
        items = v.items() if isinstance(v, dict) else [(None, v)]
        fields += [(f"{k}.{sub}" if sub else str(k), fmt(x)) for sub, x in items if not isinstance(x, dict | list)]
    error = None if isinstance(metrics, dict) or metrics is None else "'metrics' is not an object; shown as is"
    notes = data.get("notes")  # what a figure does not say by itself (which likelihood, a floor at chance)
    notes = [str(note) for note in notes] if isinstance(notes, list) else []
    stale = stale_evaluation(data, metrics_now) if metrics_now else None
    if stale:
        notes.insert(0, f"{stale}: these figures are of an earlier model; run vaegan evaluate {shell(run)} again")
    return {
        "present": True,
        "rows": rows,
        "fields": fields,
        "evaluated": evaluated_line(data),
        "error": error,
        "raw": None if rows else fmt(metrics),
        "notes": notes,
    }


def build_context(run: str | Path, *, max_epochs: int = 20) -> dict[str, Any]:
    """Everything the template shows, read from the run folder."""
    run = Path(run)
    config_text, config = read_config(run)
    model = config.get("model") if isinstance(config.get("model"), dict) else {}
    data = config.get("data") if isinstance(config.get("data"), dict) else {}
    metrics = metrics_section(run, *model_facts(model))
    curves = run / "curves.png"
    name = fmt(config.get("name") or run.name)
    changes = run / "config_changes.yaml"
    try:  # changes accepted on resume (--accept-changes): config.yaml holds only the latest values
        changes_text = changes.read_text(encoding="utf-8") if changes.is_file() else None
    except (OSError, UnicodeDecodeError) as error:
        changes_text = f"{changes.name} cannot be read: {error}"
    maps = holds_volumes(data) and (model.get("name") in CONDITIONAL_MODELS or (run / "effects").is_dir())
    sections = SECTIONS if not maps else (*SECTIONS[: SECTIONS.index("latent") + 1], "effects", *SECTIONS[-1:])
    return {
        "title": f"vaegan report: {name}" + (f" ({run.resolve().name})" if run.resolve().name != name else ""),
        "config_changes": changes_text,
        "run": str(run),
        "run_arg": shell(run),  # the commands the page prints can be pasted whatever the folder's name
        "tensorboard_arg": shell(run / "tensorboard"),
        "model": fmt(model.get("name", "unknown")),
        "dataset": data.get("dataset", "unknown"),
        "latent_dim": model.get("latent_dim"),
        "generated": datetime.now().strftime("%Y-%m-%d %H:%M"),
        "version": package_version(),
        "config_text": config_text,
        "metrics": metrics,
        "curves": data_uri(curves) if curves.is_file() else None,
        "grids": grids_section(run, max_epochs),
        "latent": latent_section(run, metrics),
        "evaluation": evaluation_section(run, metrics),
        "effects": effects_section(run, metrics),
        "tensorboard": (run / "tensorboard").is_dir(),
        "sections": sections,
    }


def render_report(context: dict[str, Any]) -> str:
    env = Environment(
        loader=PackageLoader("vaegan.visualization", "templates"), autoescape=select_autoescape(default=True)
    )
    env.filters["fmt"] = fmt
    return env.get_template("report.html.j2").render(**context)


def write_report(run: str | Path, out: str | Path | None = None, *, max_epochs: int = 20) -> Path:
    """Write the run's report (default ``RUN/report.html``) and return its path.

    Args:
        run: the run folder.
        out: where to write the page.
        max_epochs: per-epoch grids embedded per kind at most (spread evenly, first and last kept).

    Example:
        >>> write_report("outputs/mnist_vae")  # doctest: +SKIP
        PosixPath('outputs/mnist_vae/report.html')
    """
    run = Path(run)
    if not run.is_dir():
        raise VaeganError(f"{run}: no such run folder")
    if not is_run_folder(run):  # a typo (outputs/) or another folder: its own report.html is not ours to replace
        raise VaeganError(
            f"{run}: not a vaegan run folder (no {RUN_MARKER}, config.yaml, metrics.csv or checkpoints/); "
            "give a run folder such as outputs/mnist_vae"
        )
    out_given = out is not None
    out = Path(out) if out else run / "report.html"
    if not out_given and not _replaceable(out, run):
        raise VaeganError(
            f"{out}: a page vaegan did not write ({run} holds no run marker or checkpoint either); it is kept. "
            "Give --out for the report, or move that file"
        )
    page = render_report(build_context(run, max_epochs=max_epochs))
    atomic_write(out, lambda tmp: tmp.write_text(page, encoding="utf-8"))  # never half a page, even on a crash
    return out

"""``RUN/report.html``: one self-contained page (images embedded as base64) describing a run.

Sections, each present even when its files are missing (it then says what to run):
overview, configuration, metrics (last epoch and best epoch), training curves,
per-epoch grids (a slider over epochs for each kind: recons, fakes, ...), latent
figures (``RUN/latent/*.png``), and evaluation (``RUN/evaluation.json``); a conditional
run on brain volumes also its disease maps (``RUN/effects/``, written by ``vaegan effects``).
Every piece of text is HTML-escaped by the template engine (Jinja2, autoescape on).

This module gathers the page (:func:`build_context`), renders it and writes it where it may;
the sections are built in ``report_tables.py`` (metrics, evaluation) and ``report_figures.py``
(grids, latent figures, disease maps).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import torch
import yaml
from jinja2 import Environment, PackageLoader, select_autoescape

from vaegan.foundation.errors import VaeganError
from vaegan.foundation.files import RUN_MARKER, atomic_write, package_version
from vaegan.visualization.report_figures import (
    CONDITIONAL_MODELS,
    data_uri,
    effects_section,
    grids_section,
    holds_volumes,
    latent_section,
)
from vaegan.visualization.report_tables import evaluation_section, fmt, metrics_section, shell

SECTIONS = ("overview", "config", "metrics", "curves", "grids", "latent", "evaluation")


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

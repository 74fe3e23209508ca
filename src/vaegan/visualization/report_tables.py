"""The report's tables, read from a run folder: metrics (``metrics.csv``) and evaluation (``evaluation.json``).

Also how the page writes a value (:func:`fmt`) and a path in a command it prints (:func:`shell`), which
every section uses. A file that is missing or unreadable gives an empty table or one that says why.
"""

from __future__ import annotations

import csv
import json
import math
import shlex
from pathlib import Path
from typing import Any

from vaegan.foundation.checkpoints import held_epoch
from vaegan.foundation.errors import VaeganError
from vaegan.visualization.curves import best_row, read_history, unit_of

BETTER = {"lower": "lower", "higher": "higher", "closer": "closer to real"}  # a metric's better direction


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

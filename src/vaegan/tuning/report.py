"""What a study leaves in its folder: trials.csv, best_config.yaml and Optuna's matplotlib plots.

``trials.csv`` and ``best_config.yaml`` are rewritten after every trial (cheap,
atomic), so an interrupted study always has them; the plots are drawn when a
tuner stops.
"""

from __future__ import annotations

import logging
import shlex
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib
import matplotlib.pyplot as plt
import optuna
import optuna.visualization.matplotlib as ovm
import yaml
from optuna.exceptions import ExperimentalWarning
from optuna.trial import TrialState

from vaegan.config import RunConfig, as_overrides, build_config
from vaegan.foundation.files import atomic_write

if TYPE_CHECKING:
    from vaegan.tuning.study import Tuner

log = logging.getLogger(__name__)

# file stem -> (Optuna plot of (study, metric name), complete trials it needs to say anything)
PLOTS = {
    "optimization_history": (lambda study, metric: ovm.plot_optimization_history(study, target_name=metric), 1),
    "intermediate_values": (lambda study, metric: _epochs_axis(ovm.plot_intermediate_values(study), metric), 1),
    "parallel_coordinate": (lambda study, metric: ovm.plot_parallel_coordinate(study, target_name=metric), 2),
    "param_importances": (lambda study, metric: ovm.plot_param_importances(study, target_name=metric), 2),
}


def _epochs_axis(axes, metric: str):
    axes.set_xlabel("epoch")  # the trials report once per epoch
    axes.set_ylabel(metric)
    return axes


def best_config(tuner: Tuner) -> RunConfig | None:
    """The config the best trial trained under (its ``config.yaml``; the base config with its values where that
    file is not here), its own name, and no ``out`` or ``tune``; None before any trial completes. Its
    ``train.epochs`` is the config's, not the ``--epochs`` cap the trials ran under."""
    try:
        best = tuner.study.best_trial
    except ValueError:  # no complete trial yet
        return None
    data = {**_trained(best, tuner.config), "name": f"{tuner.config.name}_best", "out": None, "tune": None}
    return build_config(data, as_overrides(best.params), source=f"best trial {best.number}")


def _trained(trial: optuna.trial.FrozenTrial, base: RunConfig) -> dict:
    """The trial's own resolved config (a rerun may have changed the base config since), uncapped."""
    run_dir = trial.user_attrs.get("run_dir")  # absolute; in older studies relative to the tuner's working directory
    if run_dir:
        try:
            data = yaml.safe_load((Path(run_dir) / "config.yaml").read_text())
        except (OSError, yaml.YAMLError):  # a worker on another machine, or a folder moved: the base config
            data = None
        if isinstance(data, dict) and isinstance(data.get("train"), dict):
            return {**data, "train": {**data["train"], "epochs": base.train.epochs}}
    return base.to_dict()


def write_best_config(tuner: Tuner) -> Path | None:
    config = best_config(tuner)
    if config is None:
        return None
    best, path = tuner.study.best_trial, tuner.out / "best_config.yaml"
    at = f" at epoch {best.user_attrs['epoch']}, its best.pt" if "epoch" in best.user_attrs else ""
    header = (
        f"# Best of study {tuner.study.study_name!r}: trial {best.number}, "
        f"{tuner.tune.metric}={best.value:.6g}{at} ({best.user_attrs.get('run_dir', '')}).\n"
        f"# Train it: vaegan train --config {shlex.quote(str(path))}\n"
    )
    text = header + yaml.safe_dump(config.to_dict(), sort_keys=False)
    atomic_write(path, lambda tmp: tmp.write_text(text))
    return path


def write_trials_csv(tuner: Tuner) -> Path:
    """One row per trial: number, state, value, seconds, each parameter, run_dir, worker, fail_reason.

    Surplus trials (begun by a worker after others had claimed the whole budget) never ran: no row.
    """
    frame = tuner.study.trials_dataframe(attrs=("number", "state", "value", "duration", "params", "user_attrs"))
    if "user_attrs_surplus" in frame:
        frame = frame[frame["user_attrs_surplus"] != True].drop(columns="user_attrs_surplus")  # noqa: E712 (NaN rows)
    if "duration" in frame:
        frame["duration"] = frame["duration"].dt.total_seconds().round(2)
        frame = frame.rename(columns={"duration": "seconds"})
    path = tuner.out / "trials.csv"
    atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False))
    return path


def write_tables(tuner: Tuner) -> None:
    write_trials_csv(tuner)
    write_best_config(tuner)


def plot_study(study: optuna.Study, folder: Path, metric: str = "Objective Value") -> list[Path]:
    """Optuna's matplotlib plots as PNGs; a plot is skipped while too few trials have completed."""
    matplotlib.use("Agg")  # files only: no window, and no display needed on a worker
    complete = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    written = []
    for stem, (plot, needs) in PLOTS.items():
        if complete < needs:
            log.info("%s.png: needs %d complete trials, has %d", stem, needs, complete)
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExperimentalWarning)
            axes = plot(study, metric)
        figure = getattr(axes, "figure", None) or axes.flat[0].figure
        figure.set_size_inches(8, 5)
        figure.tight_layout()
        path = folder / f"{stem}.png"
        atomic_write(path, lambda tmp, figure=figure: figure.savefig(tmp, format="png", dpi=100))
        plt.close(figure)
        written.append(path)
    return written


def write_outputs(tuner: Tuner) -> list[Path]:
    """Everything: trials.csv, best_config.yaml (once a trial has completed) and the plots."""
    write_tables(tuner)
    files = [tuner.out / "trials.csv"]
    if (tuner.out / "best_config.yaml").exists():
        files.append(tuner.out / "best_config.yaml")
    return files + plot_study(tuner.study, tuner.out, tuner.tune.metric)

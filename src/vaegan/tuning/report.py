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
from matplotlib.ticker import MaxNLocator
from optuna.exceptions import ExperimentalWarning
from optuna.importance import PedAnovaImportanceEvaluator
from optuna.trial import TrialState

from vaegan.config import RunConfig, as_overrides, build_config
from vaegan.foundation.files import atomic_write

if TYPE_CHECKING:
    from vaegan.tuning.study import Tuner

log = logging.getLogger(__name__)

# the fewest finished trials an importance ranking is drawn from, and the fewest per tuned parameter. PED-ANOVA
# (Watanabe et al. 2023), Optuna's default and named so that every Optuna this package takes ranks alike, ranks
# the parameters by how the best tenth of the trials differs from them all; up to 10 trials that tenth is a
# single trial, and the ranking says only where its values fell (two trials ranked model.lr at 0.78)
IMPORTANCE_TRIALS, IMPORTANCE_TRIALS_PER_PARAMETER = 11, 2


def _intermediate_values(study: optuna.Study, metric: str):
    axes = ovm.plot_intermediate_values(study)
    axes.set_xlabel("epoch")  # the trials report once per epoch: whole-number ticks (one epoch drew 0.96 to 1.04)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    axes.set_ylabel(metric)
    return axes


def _parallel_coordinate(study: optuna.Study, metric: str):
    # a parameter every trial shared draws a flat axis around its one value (21 to 23 for 22) and says nothing
    return ovm.plot_parallel_coordinate(study, params=_varied(_complete(study)), target_name=metric)


# file stem -> Optuna plot of (study, metric name)
PLOTS = {
    "optimization_history": lambda study, metric: ovm.plot_optimization_history(study, target_name=metric),
    "intermediate_values": _intermediate_values,
    "parallel_coordinate": _parallel_coordinate,
    "param_importances": lambda study, metric: ovm.plot_param_importances(
        study, evaluator=PedAnovaImportanceEvaluator(), target_name=metric
    ),
}


def _complete(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))


def _varied(trials: list[optuna.trial.FrozenTrial]) -> list[str]:
    """The parameters that took more than one value over ``trials``, in the order first met."""
    names = dict.fromkeys(name for trial in trials for name in trial.params)
    return [name for name in names if len({repr(trial.params.get(name)) for trial in trials}) > 1]


def _not_drawn(stem: str, trials: list[optuna.trial.FrozenTrial]) -> tuple[str, int] | None:
    """Why the plot ``stem`` is not drawn yet, and the log level to say it at; None where it is drawn."""
    count = f"{len(trials)} complete trial{'s' * (len(trials) != 1)}"  # not pruned, not failed
    if not trials:
        return f"{stem}.png: not drawn before a trial finishes", logging.INFO
    varied = _varied(trials)
    if stem == "parallel_coordinate" and not varied:
        return f"{stem}.png: not drawn: the {count} share every parameter's value", logging.INFO
    if stem == "param_importances":
        needs = max(IMPORTANCE_TRIALS, IMPORTANCE_TRIALS_PER_PARAMETER * len(varied))
        if len(varied) < 2:  # one parameter takes all of the importance, whatever the trials say
            return f"{stem}.png: not drawn: {len(varied)} parameter varied over the {count}", logging.INFO
        if len({trial.value for trial in trials}) == 1:  # no best tenth to tell apart
            return f"{stem}.png: not drawn: the {count} reached one value alike", logging.INFO
        if len(trials) < needs:
            return (
                f"{stem}.png: not drawn from {count}: ranking {len(varied)} tuned parameters needs {needs} "
                f"(at least {IMPORTANCE_TRIALS}, and {IMPORTANCE_TRIALS_PER_PARAMETER} per parameter); fewer rank "
                "them by chance. Raise --trials (pruned and failed trials count there, not here) to draw it",
                logging.WARNING,
            )
    return None


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
    """Optuna's matplotlib plots as PNGs; a plot is skipped, and why logged, while too few trials have finished."""
    matplotlib.use("Agg")  # files only: no window, and no display needed on a worker
    complete = _complete(study)
    written = []
    for stem, plot in PLOTS.items():
        skipped = _not_drawn(stem, complete)
        if skipped:
            log.log(skipped[1], "%s", skipped[0])
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExperimentalWarning)
            # an axis over one value, which matplotlib widens itself; none is known left (the parameters every
            # trial shared are left out), but a console line per plot is not worth the risk
            warnings.filterwarnings("ignore", "Attempting to set identical", UserWarning)
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

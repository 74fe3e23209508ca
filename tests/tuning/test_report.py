"""The study's plots on small in-memory studies: what is drawn, what is skipped and said, and no stray warnings."""

from __future__ import annotations

import logging
import warnings

import matplotlib.pyplot as plt
import optuna
import pytest

from vaegan.tuning.report import PLOTS, plot_study

pytestmark = pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")  # PLOTS called directly


def study_of(trials: int, epochs: int = 1, value: float | None = None) -> optuna.Study:
    """``trials`` finished trials over two tuned parameters and one that every trial shares (22), ``epochs`` each;
    their value is ``value`` where given, else the learning rate over the epochs."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))

    def objective(trial: optuna.Trial) -> float:
        lr = trial.suggest_float("model.lr", 1e-4, 1e-2, log=True)
        trial.suggest_categorical("model.network.kind", ["mlp", "conv"])
        trial.suggest_int("train.batch_size", 22, 22)
        for epoch in range(1, epochs + 1):
            trial.report(lr / epoch, epoch)
        return lr / epochs if value is None else value

    study.optimize(objective, n_trials=trials)
    return study


def test_two_trials_draw_no_parameter_importances_and_say_why(tmp_path, caplog):
    """2 trials drew param_importances.png ranking model.lr at 0.78: a forest fitted to two points."""
    with caplog.at_level(logging.INFO, logger="vaegan.tuning.report"):
        written = plot_study(study_of(2), tmp_path, "val/loss")
    assert not (tmp_path / "param_importances.png").exists() and tmp_path / "param_importances.png" not in written
    assert (tmp_path / "optimization_history.png").is_file() and (tmp_path / "parallel_coordinate.png").is_file()
    note = [r for r in caplog.records if "param_importances.png" in r.getMessage()]
    assert note and note[0].levelno == logging.WARNING  # said without -v
    assert "2 complete trials" in note[0].getMessage() and "needs 11" in note[0].getMessage()


def test_enough_trials_draw_the_parameter_importances(tmp_path):
    """From 11 trials the best tenth Optuna's PED-ANOVA compares with the rest holds two."""
    assert tmp_path / "param_importances.png" not in plot_study(study_of(10), tmp_path, "val/loss")
    assert tmp_path / "param_importances.png" in plot_study(study_of(11), tmp_path, "val/loss")


def test_the_epoch_axis_has_whole_epochs(tmp_path):
    """One epoch put ticks at 0.96, 0.98, 1.00, 1.02, 1.04."""
    for epochs in (1, 3):
        axes = PLOTS["intermediate_values"](study_of(2, epochs), "val/loss")
        axes.figure.canvas.draw()
        low, high = axes.get_xlim()
        ticks = [tick for tick in axes.get_xticks() if low <= tick <= high]
        assert ticks and all(tick == int(tick) for tick in ticks), (epochs, ticks)
        plt.close(axes.figure)


def test_a_parameter_every_trial_shared_is_left_off_the_parallel_coordinates():
    """train.batch_size fixed at 22 drew an axis from 21 to 23 and Optuna's warning on identical ylims."""
    axes = PLOTS["parallel_coordinate"](study_of(2), "val/loss")
    names = [label.get_text() for label in axes.get_xticklabels()]
    plt.close(axes.figure)
    assert "model.lr" in names and "train.batch_size" not in names


@pytest.mark.parametrize(("trials", "value"), [(2, None), (12, 1.0)])
def test_drawing_the_plots_warns_of_nothing(tmp_path, trials, value):
    """Optuna's 'UserWarning: Attempting to set identical low and high ylims' reached the console (an axis over a
    parameter every trial shared), and trials that all reached one value drew importances with a warning."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        written = plot_study(study_of(trials, value=value), tmp_path, "val/loss")
    assert [str(w.message) for w in caught] == []
    assert tmp_path / "param_importances.png" not in written  # too few trials; one value alike


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")

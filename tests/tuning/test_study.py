"""Short real studies on 300 MNIST images: outputs, NaN trials, pruning, a missing metric, interrupt and rerun."""

from __future__ import annotations

import csv
from pathlib import Path

import optuna
import pytest

from tests.tuning.conftest import tiny_study, write_yaml
from vaegan.cli import main
from vaegan.config import build_config, load_config
from vaegan.foundation.errors import ConfigError
from vaegan.models import build_model
from vaegan.tuning.study import ReportToTrial, Tuner

LR = {"model.lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True}}
SPACE = {**LR, "model.network.kind": {"type": "categorical", "choices": ["mlp", "conv"]}}


def states(study: optuna.Study) -> list[str]:
    return [trial.state.name for trial in sorted(study.trials, key=lambda t: t.number)]


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


def test_cli_study_writes_trial_runs_table_best_config_and_plots(mnist_dir, tmp_path, capsys):
    data = tiny_study(mnist_dir, SPACE, seed=0)
    data["train"]["epochs"] = 3  # --epochs 1 caps the trials; the best config keeps 3
    config_path = write_yaml(data, tmp_path / "tiny.yaml")
    out = tmp_path / "study"
    assert main(["tune", "--config", str(config_path), "--trials", "2", "--epochs", "1", "--out", str(out)]) == 0

    study = optuna.load_study(study_name="tiny", storage=f"sqlite:///{out / 'study.db'}")
    assert states(study) == ["COMPLETE", "COMPLETE"]
    for trial in study.trials:
        run = out / f"trial_{trial.number:04d}"
        assert trial.user_attrs["run_dir"] == str(run)
        assert (run / "epoch001_recons.png").is_file() and not (run / "epoch002_recons.png").exists()
        trained = load_config(run / "config.yaml")
        assert trained.model.network.kind == trial.params["model.network.kind"]
        assert trained.model.lr == pytest.approx(trial.params["model.lr"])
        assert trial.intermediate_values == {1: pytest.approx(trial.value)}

    rows = read_rows(out / "trials.csv")
    assert [(r["number"], r["state"]) for r in rows] == [("0", "COMPLETE"), ("1", "COMPLETE")]
    assert {"params_model.lr", "params_model.network.kind", "user_attrs_run_dir"} <= set(rows[0])
    for name in ("optimization_history", "intermediate_values", "parallel_coordinate"):
        assert (out / f"{name}.png").stat().st_size > 10_000, name  # a drawn figure, not an empty canvas
    assert not (out / "param_importances.png").exists()  # two trials rank the parameters by chance

    best = load_config(out / "best_config.yaml")
    assert best.name == "tiny_best" and best.out is None and best.tune is None
    assert best.train.epochs == 3
    assert best.model.lr == pytest.approx(study.best_params["model.lr"])
    assert best.model.network.kind == study.best_params["model.network.kind"]
    assert build_model(best.model).config.latent_dim == 2  # what `vaegan train --config` would build
    assert "vaegan train --config" in (out / "best_config.yaml").read_text()
    assert f"best: trial {study.best_trial.number}, val/loss=" in capsys.readouterr().out
    assert study.best_trial.user_attrs["epoch"] == 1
    assert f"at epoch 1, its best.pt ({out / 'trial_'}" in (out / "best_config.yaml").read_text()


def test_nan_trial_is_failed_with_its_reason_and_the_study_goes_on(mnist_dir, tmp_path):
    config = build_config(tiny_study(mnist_dir, {"model.lr": {"type": "categorical", "choices": [1e12, 1e-3]}}))
    tuner = Tuner(config, out=tmp_path)
    tuner.study.enqueue_trial({"model.lr": 1e12})  # Adam steps of 1e12: the KL overflows at once
    tuner.study.enqueue_trial({"model.lr": 1e-3})
    study = tuner.run(2)
    assert states(study) == ["FAIL", "COMPLETE"]
    reason = study.trials[0].user_attrs["fail_reason"]
    assert reason.startswith("TrainingError: loss became non-finite")
    assert study.best_trial.number == 1
    rows = read_rows(tmp_path / "trials.csv")
    assert rows[0]["state"] == "FAIL" and rows[0]["user_attrs_fail_reason"] == reason


def test_a_trial_worse_than_the_median_is_pruned_after_its_first_epoch(mnist_dir, tmp_path):
    lr = {"model.lr": {"type": "categorical", "choices": [1e-2, 1e-7]}}
    data = tiny_study(mnist_dir, lr, pruner="median", pruner_options={"n_startup_trials": 1, "n_warmup_steps": 0})
    data["train"]["epochs"] = 2
    tuner = Tuner(build_config(data), out=tmp_path)
    tuner.study.enqueue_trial({"model.lr": 1e-2})  # learns: val/loss drops well below its start
    tuner.study.enqueue_trial({"model.lr": 1e-7})  # barely moves: worse than trial 0 at epoch 1
    study = tuner.run(2)
    assert states(study) == ["COMPLETE", "PRUNED"]
    assert list(study.trials[1].intermediate_values) == [1]
    assert len(read_rows(tmp_path / "trial_0000" / "metrics.csv")) == 2
    assert len(read_rows(tmp_path / "trial_0001" / "metrics.csv")) == 1  # stopped after one epoch
    pruned = read_rows(tmp_path / "trials.csv")[1]
    assert pruned["state"] == "PRUNED"
    # its value is its metric when it was pruned (Optuna's), and user_attrs_epoch says which epoch that was
    assert pruned["user_attrs_epoch"] == "1" and float(pruned["value"]) == study.trials[1].intermediate_values[1]


def test_a_metric_the_run_does_not_log_stops_the_study_with_the_known_ones(mnist_dir, tmp_path):
    tuner = Tuner(build_config(tiny_study(mnist_dir, LR, metric="val/elbo")), out=tmp_path)
    with pytest.raises(ConfigError, match=r"'val/elbo'.*val/loss"):
        tuner.run(3)
    assert states(tuner.study) == ["FAIL"]  # one trial, not three


def interrupt_trial(monkeypatch: pytest.MonkeyPatch, number: int) -> None:
    """Ctrl-C (a KeyboardInterrupt in the main thread) at the end of trial ``number``'s first epoch."""
    report = ReportToTrial.on_epoch_end

    def report_or_interrupt(self: ReportToTrial, trainer, row: dict[str, float]) -> None:
        if self.trial.number == number:
            raise KeyboardInterrupt
        report(self, trainer, row)

    monkeypatch.setattr(ReportToTrial, "on_epoch_end", report_or_interrupt)


def test_interrupting_keeps_finished_trials_and_a_rerun_continues_the_study(mnist_dir, tmp_path, capsys, monkeypatch):
    config_path = write_yaml(tiny_study(mnist_dir, LR, seed=1), tmp_path / "tiny.yaml")
    out = tmp_path / "study"
    args = ["tune", "--config", str(config_path), "--trials", "2", "--out", str(out)]
    interrupt_trial(monkeypatch, 1)  # Ctrl-C while trial 1 trains; the rerun's trials are numbered 2, 3, ...
    assert main(args) == 130
    storage = f"sqlite:///{out / 'study.db'}"
    study = optuna.load_study(study_name="tiny", storage=storage)
    assert states(study) == ["COMPLETE", "FAIL"]
    assert study.trials[1].user_attrs["fail_reason"] == "interrupted"
    assert [r["state"] for r in read_rows(out / "trials.csv")] == ["COMPLETE", "FAIL"]
    first_value = study.trials[0].value

    assert main(args) == 0  # the same command: joins the study, redoes only the interrupted trial
    assert "1 of 2 trials done" in capsys.readouterr().out
    study = optuna.load_study(study_name="tiny", storage=storage)
    assert states(study) == ["COMPLETE", "FAIL", "COMPLETE"]
    assert study.trials[0].value == first_value
    assert study.trials[2].params != study.trials[0].params  # the seeded sampler did not replay the first run
    assert (out / "trial_0002" / "metrics.csv").is_file()
    assert main(args) == 0  # nothing left to do
    assert len(optuna.load_study(study_name="tiny", storage=storage).trials) == 3


def test_a_study_folder_refuses_a_second_study(tmp_path):
    config = build_config(tiny_study(tmp_path / "no-data-needed", LR))
    Tuner(config, out=tmp_path / "study")
    Tuner(config, out=tmp_path / "study")  # the same study joins again
    with pytest.raises(ConfigError, match=r"holds study 'tiny', not 'other'"):
        Tuner(config, out=tmp_path / "study", study_name="other")


def test_a_trial_started_after_other_workers_claimed_the_budget_never_trains(mnist_dir, tmp_path):
    """Two workers, --trials 2: one finished trial, and another worker's trial running. This worker's
    next trial comes third in the storage, so it is surplus: it stops at once and trains nothing."""
    data = tiny_study(mnist_dir, LR, seed=0)
    tuner = Tuner(build_config(data), out=tmp_path / "study")
    finished = tuner.study.ask()
    tuner.study.tell(finished, 1.0)
    running_elsewhere = tuner.study.ask()  # another worker's trial, RUNNING in the shared storage
    study = tuner.run(trials=2)
    mine = max(study.trials, key=lambda t: t.number)
    assert mine.number == 2 and mine.user_attrs.get("surplus") and mine.state.name == "PRUNED"
    assert not (tmp_path / "study" / "trial_0002").exists()  # nothing trained
    assert tuner.counted() == 1  # the surplus trial does not count: the budget is exactly 2
    with (tmp_path / "study" / "trials.csv").open() as handle:  # nor does trials.csv list it: it never ran
        assert [int(row["number"]) for row in csv.DictReader(handle)] == [0, 1]
    study.tell(running_elsewhere, 0.5)
    assert tuner.counted() == 2


def test_a_trial_is_scored_at_the_epoch_its_best_pt_keeps_not_its_last(tmp_path, monkeypatch):
    """The trial's run keeps best.pt (lowest val/objective for a VAE); the study must score that model.
    It scored the last epoch: a run that got worse at the end was ranked by a model nobody keeps."""
    from vaegan import experiment

    history = [
        {"epoch": 1.0, "val/loss": 9.0, "val/objective": 9.0, "val/recon": 7.0},
        {"epoch": 2.0, "val/loss": 6.0, "val/objective": 6.0, "val/recon": 5.0},  # best.pt holds this epoch
        {"epoch": 3.0, "val/loss": 4.0, "val/objective": 8.0, "val/recon": 3.0},  # KL warm-up: loss < objective
    ]
    monkeypatch.setattr(experiment, "train_from_config", lambda config, **kwargs: history)
    for metric, kept in (("val/loss", 6.0), ("val/recon", 5.0)):
        tuner = Tuner(
            build_config(tiny_study(tmp_path / "no-data-needed", LR, metric=metric)),
            out=tmp_path / metric.replace("/", "_"),
        )
        study = tuner.run(1)
        assert study.trials[0].value == kept, metric
        assert study.trials[0].user_attrs["epoch"] == 2


def test_a_killed_workers_trial_is_redone_not_counted(tmp_path, monkeypatch):
    """A worker killed (OOM, SIGKILL, a lost node) leaves its trial RUNNING; Optuna's heartbeat later marks it
    FAIL with no reason. Counted as finished, it took one of the --trials for good, and no rerun redid it."""
    from optuna.trial import TrialState

    from vaegan import experiment

    history = [{"epoch": 1.0, "val/loss": 5.0, "val/objective": 5.0}]
    monkeypatch.setattr(experiment, "train_from_config", lambda config, **kwargs: history)
    tuner = Tuner(build_config(tiny_study(tmp_path / "no-data-needed", LR)), out=tmp_path / "study")
    killed = tuner.study.ask()
    tuner.study.tell(killed, state=TrialState.FAIL)  # what fail_stale_trials records for it
    assert tuner.counted() == 0
    study = tuner.run(trials=2)
    assert states(study) == ["FAIL", "COMPLETE", "COMPLETE"] and tuner.counted() == 2


def test_a_sampled_combination_the_config_refuses_fails_its_trial_not_the_study(tmp_path, monkeypatch):
    """Each key passes check_space alone, but a combination may not (an mlp discriminator with no hidden
    layer): the ConfigError came from outside the trial's try, with no fail_reason (so it counted as a killed
    worker's), and ended the study."""
    from vaegan import experiment
    from vaegan.foundation.errors import ConfigError

    history = [{"epoch": 1.0, "val/loss": 5.0, "val/objective": 5.0}]
    monkeypatch.setattr(experiment, "train_from_config", lambda config, **kwargs: history)
    tuner = Tuner(build_config(tiny_study(tmp_path / "no-data-needed", LR)), out=tmp_path / "study")
    build = tuner.trial_config

    def refused(params, number):
        if number == 0:
            raise ConfigError("model.discriminator: an mlp discriminator without hidden layers is one linear map")
        return build(params, number)

    monkeypatch.setattr(tuner, "trial_config", refused)
    study = tuner.run(2)
    assert states(study) == ["FAIL", "COMPLETE"]  # a failed trial counts, as a NaN one does
    assert "hidden layers" in study.trials[0].user_attrs["fail_reason"]


def test_a_sampled_value_training_refuses_fails_its_trial_not_the_study(tmp_path, monkeypatch):
    """A sampled critic_steps above the run's optimiser steps is refused by Trainer.fit (ConfigError): it
    stopped the study, as if every later trial would fail the same way."""
    from vaegan import experiment
    from vaegan.foundation.errors import ConfigError

    calls = []

    def train(config, **kwargs):
        calls.append(config)
        if len(calls) == 1:
            raise ConfigError("model.critic_steps 50: more than the run's 4 optimiser steps")
        return [{"epoch": 1.0, "val/loss": 5.0, "val/objective": 5.0}]

    monkeypatch.setattr(experiment, "train_from_config", train)
    study = Tuner(build_config(tiny_study(tmp_path / "no-data-needed", LR)), out=tmp_path / "study").run(2)
    assert states(study) == ["FAIL", "COMPLETE"]
    assert "critic_steps" in study.trials[0].user_attrs["fail_reason"]


@pytest.mark.parametrize("whose", ["a dead process", "this process's id (a restarted container)"])
def test_a_trial_whose_worker_on_this_host_is_dead_is_redone_at_once(tmp_path, monkeypatch, whose):
    """--trials 3, the worker SIGKILLed in trial 2: rerun within the heartbeat's 5 minutes, trial 2 still held
    its place (RUNNING, a fresh heartbeat), so the new trial came surplus and the rerun trained nothing."""
    import os
    import socket
    import subprocess
    import sys

    from optuna.trial import TrialState

    from vaegan import experiment

    history = [{"epoch": 1.0, "val/loss": 5.0, "val/objective": 5.0}]
    monkeypatch.setattr(experiment, "train_from_config", lambda config, **kwargs: history)
    tuner = Tuner(build_config(tiny_study(tmp_path / "no-data-needed", LR)), out=tmp_path / "study")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    ghost = tuner.study.ask()
    pid = dead.pid if whose == "a dead process" else os.getpid()  # this process runs no trial of its own yet
    ghost.set_user_attr("worker", f"{socket.gethostname()}:{pid}")
    tuner.study._storage.record_heartbeat(ghost._trial_id)  # beating a moment ago: the grace period has not passed
    study = tuner.run(trials=1)
    assert states(study) == ["FAIL", "COMPLETE"] and tuner.counted() == 1
    assert "fail_reason" not in study.trials[0].user_attrs  # a killed worker's trial: not counted, as the heartbeat's
    assert study.trials[0].state == TrialState.FAIL


def test_a_running_trial_of_a_live_worker_keeps_its_place(tmp_path, monkeypatch):
    """Only a dead worker's trial is failed: one that a live process of this host runs holds its place."""
    import os
    import socket

    tuner = Tuner(build_config(tiny_study(tmp_path / "no-data-needed", LR)), out=tmp_path / "study")
    running = tuner.study.ask()
    running.set_user_attr("worker", f"{socket.gethostname()}:{os.getppid()}")  # a live process, not this one
    study = tuner.run(trials=1)
    assert states(study) == ["RUNNING", "PRUNED"] and study.trials[1].user_attrs.get("surplus")


def test_a_trials_run_dir_is_absolute_and_an_old_relative_one_is_still_read(tmp_path, monkeypatch):
    """run_dir was stored relative to the tuner's working directory: read from anywhere else (the report, a
    worker started elsewhere), best_config.yaml fell back to today's base config."""
    import yaml

    from vaegan import experiment
    from vaegan.tuning.report import best_config

    history = [{"epoch": 1.0, "val/loss": 5.0, "val/objective": 5.0}]

    def train(config, **kwargs):  # writes the trial's config.yaml as a run does
        config.out_dir.mkdir(parents=True)
        (config.out_dir / "config.yaml").write_text(yaml.safe_dump(config.to_dict()))
        return history

    monkeypatch.setattr(experiment, "train_from_config", train)
    monkeypatch.chdir(tmp_path)
    tuner = Tuner(build_config(tiny_study(tmp_path / "no-data-needed", LR)), out="study")
    study = tuner.run(1)
    assert study.trials[0].user_attrs["run_dir"] == str(tmp_path / "study" / "trial_0000")
    trained_lr = study.trials[0].params["model.lr"]
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    tuner.config = tuner.config.model_copy(update={"model": tuner.config.model.model_copy(update={"latent_dim": 7})})
    assert best_config(tuner).model.latent_dim == 2 and best_config(tuner).model.lr == pytest.approx(trained_lr)
    # a study written before: its run_dir relative to the folder it ran from, read from there as before
    old = study.trials[0]
    study.add_trial(
        optuna.trial.create_trial(
            params=old.params, distributions=old.distributions, value=1.0, user_attrs={"run_dir": "study/trial_0000"}
        )
    )
    assert study.best_trial.number == 1
    monkeypatch.chdir(tmp_path)
    assert best_config(tuner).model.latent_dim == 2


def test_a_surplus_trial_is_not_reported_as_pruned(tmp_path, capsys):
    """The surplus trial printed 'trial 2 PRUNED: pruned after 0 epochs {}': it never ran."""
    from vaegan.cli.tune import _print_trial

    tuner = Tuner(build_config(tiny_study(tmp_path / "no-data-needed", LR)), out=tmp_path / "study")
    tuner.study.tell(tuner.study.ask(), 1.0)
    tuner.study.ask()  # another worker's, running
    tuner.run(trials=2, callbacks=[_print_trial])
    out = capsys.readouterr().out
    assert "PRUNED" not in out and "trial 2 not run: the budget was already taken by other workers" in out


def test_without_a_metric_trials_are_scored_by_what_picks_best_pt(tmp_path, monkeypatch):
    """The README: the objective "alone picks best.pt and scores tuning trials". A tune section without
    a metric scored val/loss, which a KL warm-up discounts: longer warm-ups won with no better model."""
    from vaegan import experiment

    history = [
        {"epoch": 1.0, "val/loss": 7.0, "val/objective": 9.0},
        {"epoch": 2.0, "val/loss": 5.0, "val/objective": 6.0},  # warm-up: loss < objective; best.pt holds this
    ]
    monkeypatch.setattr(experiment, "train_from_config", lambda config, **kwargs: history)
    data = tiny_study(tmp_path / "no-data-needed", LR)
    del data["tune"]["metric"]
    tuner = Tuner(build_config(data), out=tmp_path / "study")
    assert tuner.tune.metric == "val/objective"
    assert tuner.run(1).trials[0].value == 6.0


@pytest.mark.parametrize("model", ["gan", "cvaegan"])
def test_without_a_metric_a_study_of_a_model_that_keeps_no_best_pt_is_refused_with_what_to_set(tmp_path, model):
    # their losses depend on a discriminator that differs from trial to trial: no default compares them
    data = tiny_study(tmp_path / "no-data-needed", LR)
    del data["tune"]["metric"]
    data["model"] = {"name": model, "latent_dim": 2}
    with pytest.raises(ConfigError, match="tune.metric"):
        Tuner(build_config(data), out=tmp_path / "study")

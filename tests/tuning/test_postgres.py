"""Two real ``vaegan tune`` workers share one study in a real PostgreSQL server: each trial is recorded once."""

from __future__ import annotations

import csv
import subprocess
import sys

import optuna

from tests.tuning.conftest import tiny_study, write_yaml
from vaegan.tuning.storage import database_url

SPACE = {"model.lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True}}


# `vaegan tune` whose first trial waits until the other worker has begun one too (a start barrier):
# both then hold a running trial at once, so each runs at least one, however busy the machine
WORKER = """
import os, sys, time
from pathlib import Path
from vaegan.cli import main
from vaegan.tuning.study import Tuner

barrier, objective = Path(sys.argv.pop(1)), Tuner.objective

def objective_after_barrier(self, trial):
    if not getattr(self, "met", False):
        self.met = True
        (barrier / str(os.getpid())).touch()
        deadline = time.monotonic() + 120
        while len(list(barrier.iterdir())) < 2:
            if time.monotonic() > deadline:
                raise RuntimeError("the other worker never began a trial")
            time.sleep(0.05)
    return objective(self, trial)

Tuner.objective = objective_after_barrier
sys.exit(main())
"""


def test_two_workers_share_one_postgres_study_and_record_every_trial_once(postgres_url, mnist_dir, tmp_path):
    config = write_yaml(tiny_study(mnist_dir, SPACE), tmp_path / "tiny.yaml")
    out, total, barrier = tmp_path / "study", 4, tmp_path / "barrier"
    barrier.mkdir()
    command = [sys.executable, "-c", WORKER, str(barrier), "tune", "--config", str(config), "--trials", str(total)]
    command += ["--storage", postgres_url, "--study", "shared", "--out", str(out)]
    workers = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in "ab"]
    logs = [worker.communicate(timeout=300)[0] for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], "\n".join(logs)

    trials = optuna.load_study(study_name="shared", storage=database_url(postgres_url)).trials
    everything = sorted(trial.number for trial in trials)
    # the budget is exact: each trial claims its place in the storage before it trains, and one that
    # comes too late (the other worker took the last place) stops untrained, PRUNED as surplus
    counted = [trial for trial in trials if not trial.user_attrs.get("surplus")]
    surplus = [trial for trial in trials if trial.user_attrs.get("surplus")]
    assert len(counted) == total and everything == list(range(len(trials)))
    assert {trial.state for trial in counted} == {optuna.trial.TrialState.COMPLETE}
    assert len(surplus) <= 1 and all(trial.state == optuna.trial.TrialState.PRUNED for trial in surplus)
    numbers = sorted(trial.number for trial in counted)

    # each trial was run by exactly one worker, and both ran some (the barrier guarantees that much)
    lines = [[line for line in log.splitlines() if line.startswith("trial ")] for log in logs]
    ran = [{int(line.split()[1]) for line in mine if " not run: " not in line} for mine in lines]
    assert ran[0] and ran[1] and not ran[0] & ran[1] and ran[0] | ran[1] == set(numbers), logs
    # a surplus trial is said to be not run (it printed "PRUNED: pruned after 0 epochs")
    not_run = [int(line.split()[1]) for mine in lines for line in mine if " not run: " in line]
    assert not_run == [trial.number for trial in surplus] and "PRUNED: pruned after 0" not in "".join(logs), logs
    assert len({trial.user_attrs["worker"] for trial in counted}) == 2

    # one run folder per trial, nothing else; trials.csv lists each trial once
    folders = sorted(path.name for path in out.glob("trial_*"))
    assert folders == [f"trial_{n:04d}" for n in numbers]
    assert all((out / folder / "metrics.csv").is_file() for folder in folders)
    with (out / "trials.csv").open() as handle:
        assert sorted(int(row["number"]) for row in csv.DictReader(handle)) == numbers

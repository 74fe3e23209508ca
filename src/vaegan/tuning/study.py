"""Running an Optuna study: one trial = one normal training run in ``STUDY_DIR/trial_NNNN``.

The study lives in a database (SQLite in the study folder by default, or any
SQLAlchemy URL such as ``postgresql://user@host/db``), so finished trials
survive an interrupted tuner, a rerun continues the same study, and workers on
several machines can share one study.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from vaegan.config import RunConfig, as_overrides, build_config, check_space
from vaegan.config.search import TuneConfig, check_direction
from vaegan.data.anatomy import ANATOMY_VERSION
from vaegan.data.phantoms import OLD_ANATOMY, OLD_TRUTH, TRUTH_MAP, anatomy_version, truth_version
from vaegan.foundation.errors import ConfigError, DataError, TrainingError, VaeganError
from vaegan.foundation.files import pid_running, write_text_atomic
from vaegan.models.registry import get_model_class
from vaegan.training import Callback
from vaegan.training.distributed import check_placement, launched
from vaegan.training.run_folder import check_out_dir
from vaegan.tuning.identity import check_folder, claim_folder, storage_label
from vaegan.tuning.storage import database_url, make_pruner, make_sampler, open_study, trial_epochs
from vaegan.visualization.curves import best_row

log = logging.getLogger(__name__)

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
CLAIMED = (*FINISHED, TrialState.RUNNING)  # a running trial holds its place in the budget


class TrialFailed(VaeganError):
    """A trial crashed or its loss turned non-finite; the study records it as FAIL and goes on."""


class UnknownMetric(ConfigError):
    """``tune.metric`` is not in the rows the runs write: every trial would fail alike, so the study stops."""


class ReportToTrial(Callback):
    """Reports ``metric`` to the Optuna trial after every epoch and stops the run when the pruner says so."""

    def __init__(self, trial: optuna.Trial, metric: str):
        self.trial, self.metric = trial, metric

    def on_epoch_end(self, trainer, row: dict[str, float]) -> None:
        if self.metric not in row:
            known = ", ".join(k for k in row if k not in ("epoch", "seconds"))
            raise UnknownMetric(f"tune.metric={self.metric!r} is not a metric of this run; choose one of: {known}")
        value = row[self.metric]
        if not math.isfinite(value):
            raise TrainingError(f"{self.metric} is {value} at epoch {trainer.epoch}")
        self.trial.report(value, step=trainer.epoch)
        if self.trial.should_prune():
            self.trial.set_user_attr("epoch", trainer.epoch)  # the epoch of a pruned trial's value (its last report)
            raise optuna.TrialPruned(f"pruned at epoch {trainer.epoch} with {self.metric}={value:.5g}")


def refuse_launcher() -> None:
    """Refuse several ranks (torchrun): each would ask its own trial and train it inside one process group."""
    size = os.environ.get("WORLD_SIZE", "1")
    if launched() and (not size.isdigit() or int(size) > 1):
        raise ConfigError(
            f"vaegan tune runs under torchrun (WORLD_SIZE={size}): each rank would ask its own trial inside one "
            "process group. Run tune workers as separate processes, each trial trains on one process; for "
            "several GPUs start one worker per GPU with CUDA_VISIBLE_DEVICES=<i> and one --storage"
        )


def scored_metric(config: RunConfig) -> TuneConfig:
    """The tune section with the metric its trials are scored by: the one it names, else the validation
    figure that picks each trial's best.pt (the model's ``monitor``), so the study ranks the kept models."""
    if config.tune.metric is not None:
        return config.tune
    monitor = get_model_class(config.model.name).monitor
    if monitor is None:
        raise ConfigError(
            f"tune.metric is not set, and model {config.model.name!r} has no validation loss that picks best.pt "
            "to take it from: name the metrics.csv column the study should optimise (tune.metric: val/...)"
        )
    return config.tune.model_copy(update={"metric": f"val/{monitor}"})


def check_truth(study: optuna.Study, metric: str) -> None:
    """Refuse to continue a study whose disease-map score (``val/map_r``) was measured against the phantoms'
    older truth maps, or on phantoms of an older anatomy: its pruner and best trial would rank those scores
    with today's as one figure.

    Raises:
        ConfigError: finished or pruned trials of the study carry no or another truth or anatomy version.
    """
    if not metric.endswith("map_r"):
        return
    scored = (TrialState.COMPLETE, TrialState.PRUNED)
    done = [t for t in study.trials if t.state in scored]
    for why, old in (
        (f"scored against {OLD_TRUTH}", [t.number for t in done if t.user_attrs.get("truth", 1) != TRUTH_MAP]),
        (OLD_ANATOMY, [t.number for t in done if t.user_attrs.get("anatomy", 1) != ANATOMY_VERSION]),
    ):
        if old:
            raise ConfigError(
                f"study {study.study_name!r} holds {len(old)} trial{'s' if len(old) > 1 else ''} (first: "
                f"{old[0]}) whose {metric} was {why}, which today's scores do not compare with: start a new "
                "study (another --out folder, or --study NAME)"
            )


class Tuner:
    """Searches the ``tune`` space of a run config, one training run per trial.

    Args:
        config: a run config with a ``tune`` section (see :class:`TuneConfig`).
        out: the study folder; trials go to ``out/trial_NNNN``.
        study_name: the study's name in the storage (default: the config's name).
        storage: an SQLAlchemy URL (default: ``sqlite:///<out>/study.db``).
        max_epochs: caps each trial's ``train.epochs``.

    Example:
        >>> config = load_config("configs/mnist_vae.yaml")
        >>> tuner = Tuner(config, out="outputs/mnist_vae_tune", max_epochs=2)  # doctest: +SKIP
        >>> study = tuner.run(trials=20)  # doctest: +SKIP
        >>> study.best_params  # doctest: +SKIP
    """

    def __init__(
        self,
        config: RunConfig,
        *,
        out: str | Path,
        study_name: str | None = None,
        storage: str | None = None,
        max_epochs: int | None = None,
    ):
        refuse_launcher()
        check_space(config)
        tune = scored_metric(config)
        check_direction(tune)  # a trial's config is not checked: the trials of an older study still load
        check_placement(config.train.device, config.train.sync_batchnorm)  # else every trial fails alike
        epochs = config.tune.space.get("train.epochs")
        if max_epochs is not None and epochs is not None and max(epochs.extremes()) > max_epochs:
            raise ConfigError(
                f"tune.space tunes train.epochs up to {max(epochs.extremes())}, but --epochs {max_epochs} caps every "
                "trial's epochs: drop one of the two"
            )
        make_pruner(config.tune)  # refused options, before the study's folder and database exist
        self.config, self.tune = config, tune
        # not the working directory, home, /, inside a run, nor in the data (each trial would be refused there)
        self.out = check_out_dir(out, "tune out", data_dir=config.data.data_dir)
        self.max_epochs = max_epochs
        self.budget: int | None = None  # the study's total trials, set by run()
        name = study_name or config.name
        if storage is not None:
            database_url(storage)  # a malformed URL is refused before anything is written
        label = storage_label(storage, self.out)
        check_folder(self.out, name, label)  # before the study is opened: no other study or storage here
        self.storage_url = storage or f"sqlite:///{(self.out / 'study.db').resolve()}"
        self.study = open_study(self.storage_url, name, self.tune, epochs=trial_epochs(config, max_epochs))
        claim_folder(self.out, self.study, label)  # and not a fresh study of that name over old trial folders
        check_truth(self.study, self.tune.metric)
        if self.tune.seed is not None and self.study.trials:  # a rerun must not replay the first run's proposals
            self.study.sampler = make_sampler(self.tune, (self.tune.seed + len(self.study.trials)) % 2**32)

    def counted(self) -> int:
        """Finished trials of every worker and every run, except those stopped by Ctrl-C or whose worker was
        killed (a rerun redoes them) and surplus ones (started by a worker after the budget was spent, never run)."""
        return len(self._budgeted(FINISHED))

    def _budgeted(self, states: tuple[TrialState, ...]) -> list[int]:
        """Numbers of the trials in ``states`` that count against the budget, in creation order.

        A FAIL with no ``fail_reason`` is a killed worker's trial: every failure this tuner sees records
        its reason, and the storage's heartbeat fails a trial whose worker stopped beating without one.
        """
        trials = self.study.get_trials(deepcopy=False, states=states)
        killed = {t.number for t in trials if t.state == TrialState.FAIL and "fail_reason" not in t.user_attrs}
        counts = [t for t in trials if t.user_attrs.get("fail_reason") != "interrupted" and t.number not in killed]
        counts = [t for t in counts if not t.user_attrs.get("surplus")]
        return sorted(t.number for t in counts)

    def _fail_dead_workers(self) -> None:
        """Fail at once the RUNNING trials of a worker on this host that no longer lives (killed, OOM).

        The heartbeat fails them only after its 5-minute grace period: a rerun within it found their places
        in the budget taken and trained nothing. Failed without a ``fail_reason``, as the heartbeat fails
        them, they do not count (see :meth:`_budgeted`). Workers on other hosts are left to the heartbeat.
        """
        host = socket.gethostname()
        for trial in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            name, _, pid = str(trial.user_attrs.get("worker", "")).rpartition(":")
            # this process's own id: a restarted container keeps its host name and pid, and this process
            # runs one trial at a time, not yet marked with its worker when this is called
            if name != host or not pid.isdigit() or (int(pid) != os.getpid() and pid_running(int(pid))):
                continue
            log.info("trial %d: its worker %s:%s is gone; failing it so that it is redone", trial.number, host, pid)
            try:  # as the heartbeat fails a stale trial (optuna.storages.fail_stale_trials)
                self.study._storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL)
            except optuna.exceptions.UpdateFinishedTrialError:  # another worker on this host failed it first
                pass

    def _claim(self, trial: optuna.Trial) -> None:
        """Run ``trial`` only if it is among the first ``budget`` trials the storage holds.

        Optuna writes a trial into the storage (as RUNNING) before its objective runs, so every
        worker sees the others' claims; the one whose trial came too late stops without training.
        """
        self._fail_dead_workers()
        if self.budget is None or trial.number in self._budgeted(CLAIMED)[: self.budget]:
            return
        trial.set_user_attr("surplus", True)
        trial.study.stop()
        raise optuna.TrialPruned(f"the study's budget of {self.budget} trials is spent (other workers took it)")

    def run(
        self,
        trials: int,
        *,
        timeout: float | None = None,
        callbacks: list[Callable[[optuna.Study, FrozenTrial], None]] = (),
    ) -> optuna.Study:
        """Run trials until the study holds ``trials`` finished ones (see :meth:`counted`) or ``timeout`` passes.

        Trials that other workers finish count too, so N workers share the budget.
        """
        from vaegan.tuning.report import write_tables

        def after_trial(study: optuna.Study, trial: FrozenTrial) -> None:
            write_tables(self)
            for callback in callbacks:
                callback(study, trial)
            if self.counted() >= trials:
                study.stop()

        self.budget = trials
        remaining = trials - self.counted()
        if remaining > 0:
            self.study.optimize(
                self.objective,
                n_trials=remaining,
                timeout=timeout,
                catch=(TrialFailed,),
                callbacks=[after_trial],
                gc_after_trial=True,
            )
        return self.study

    def trial_config(self, params: dict[str, Any], number: int) -> RunConfig:
        """The base config with the sampled values applied, writing into ``out/trial_NNNN``."""
        data = {**self.config.to_dict(), "out": str(self.out / f"trial_{number:04d}")}
        config = build_config(data, as_overrides(params), source=f"trial {number}")
        if self.max_epochs is not None:
            config.train.epochs = min(config.train.epochs, self.max_epochs)
        return config

    def objective(self, trial: optuna.Trial) -> float:
        from vaegan.experiment import train_from_config

        self._claim(trial)
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
        if self.tune.metric.endswith("map_r"):  # scored against the phantoms' truth maps: which ones
            data_dir = self.config.data.data_dir  # a set of the user's may be older than the cached one
            version = truth_version(Path(data_dir)) if data_dir else None
            trial.set_user_attr("truth", TRUTH_MAP if version is None else version)
            drawn_on = anatomy_version(Path(data_dir)) if data_dir else None  # and on which phantoms
            trial.set_user_attr("anatomy", ANATOMY_VERSION if drawn_on is None else drawn_on)
        out = self.out / f"trial_{trial.number:04d}"
        try:
            # the base config and each key of the space at its ends were checked before the study: a
            # ConfigError now is this trial's combination of values (an mlp discriminator with no hidden
            # layer, critic_steps above the run's steps), and the next trial may draw another
            config = self.trial_config(self.tune.suggest(trial), trial.number)
            out = config.out_dir
            # absolute: the report and workers started elsewhere read it from another working directory
            trial.set_user_attr("run_dir", os.path.abspath(out))
            history = train_from_config(
                config, overwrite=True, extra_callbacks=[ReportToTrial(trial, self.tune.metric)]
            )
        except optuna.TrialPruned:
            raise
        except (DataError, UnknownMetric, KeyboardInterrupt) as error:
            # every later trial would fail the same way (or the user asked to stop): end the study
            trial.set_user_attr("fail_reason", _describe(error))
            if not isinstance(error, KeyboardInterrupt):
                _keep_traceback(out)
            raise
        except Exception as error:  # a crash, a NaN or a refused combination in one trial must not end the study
            trial.set_user_attr("fail_reason", _describe(error))
            _keep_traceback(out)
            raise TrialFailed(_describe(error)) from None
        # the trial's model is the one its best.pt keeps: score that epoch, not the last
        kept = best_row(history, get_model_class(config.model.name).monitor)
        trial.set_user_attr("epoch", int(kept["epoch"]))
        return kept[self.tune.metric]


def _keep_traceback(folder: Path) -> None:
    """The failed trial's whole traceback beside its run (the study keeps only a one-line reason)."""
    try:
        write_text_atomic(folder / "traceback.txt", traceback.format_exc())
    except OSError as error:
        log.warning("%s: cannot keep the traceback: %s", folder, error)


def _describe(error: BaseException) -> str:
    return "interrupted" if isinstance(error, KeyboardInterrupt) else f"{type(error).__name__}: {error}"

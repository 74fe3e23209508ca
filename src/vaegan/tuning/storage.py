"""The study in its database: opened or created, stamped with what its trials are scored by, and a rerun
or another worker refused where its trials would not compare (another metric, direction or trial length).

The database is SQLite in the study folder by default, or any SQLAlchemy URL such as
``postgresql://user@host/db``, so finished trials survive an interrupted tuner, a rerun continues the
same study, and workers on several machines share one study.
"""

from __future__ import annotations

import logging
import random
import time
import warnings
from importlib.util import find_spec

import optuna
from optuna.exceptions import ExperimentalWarning

from vaegan.config import RunConfig, TuneConfig
from vaegan.foundation.errors import ConfigError
from vaegan.tuning.identity import shown_url, stamp

log = logging.getLogger(__name__)

PRUNERS = {
    "median": "MedianPruner",
    "percentile": "PercentilePruner",
    "hyperband": "HyperbandPruner",
    "successive_halving": "SuccessiveHalvingPruner",
    "none": "NopPruner",
}


def make_pruner(tune: TuneConfig) -> optuna.pruners.BasePruner:
    cls = getattr(optuna.pruners, PRUNERS[tune.pruner])
    try:
        return cls(**tune.pruner_options)
    except (TypeError, ValueError) as error:  # an unknown option, or a value the pruner refuses
        raise ConfigError(f"tune.pruner_options={tune.pruner_options} do not fit {cls.__name__}: {error}") from None


def make_sampler(tune: TuneConfig, seed: int | None) -> optuna.samplers.BaseSampler:
    if tune.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    # constant_liar: workers sharing a study avoid proposing the point another worker is running
    return optuna.samplers.TPESampler(seed=seed, constant_liar=True)


def database_url(url: str) -> str:
    """``url`` with a PostgreSQL driver that is installed: SQLAlchemy 2.1 reads a bare ``postgresql://`` as
    psycopg 3, while vaegan's ``postgres`` extra installs psycopg2."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as error:  # ValueError: a port that is not a number
        problem = "the port is not a number" if isinstance(error, ValueError) else "not a database URL"
        raise ConfigError(
            f"--storage {shown_url(url)}: {problem}; give a URL such as sqlite:///study.db or "
            "postgresql://user:password@host:5432/db"
        ) from None
    if parsed.drivername in ("postgresql", "postgres") and find_spec("psycopg") is None and find_spec("psycopg2"):
        return parsed.set(drivername="postgresql+psycopg2").render_as_string(hide_password=False)
    return url


METRIC = "vaegan_metric"  # the study's user attribute: the metric its trials are scored by
LENGTH = "vaegan_trial_epochs"  # and the epochs each trial trains (None: tune.space draws them)


def trial_epochs(config: RunConfig, max_epochs: int | None) -> int | None:
    """The epochs every trial of ``config`` trains: train.epochs under the ``--epochs`` cap.

    None where tune.space tunes train.epochs: each trial draws its own, and the Tuner refuses a cap below
    the space's top, so no cap shortens a trial.
    """
    if "train.epochs" in config.tune.space:
        return None
    return config.train.epochs if max_epochs is None else min(config.train.epochs, max_epochs)


def _check_objective(study: optuna.Study, tune: TuneConfig, epochs: int | None) -> None:
    """Refuse to continue a study under another metric or direction, or with trials of another length
    (``epochs``, see :func:`trial_epochs`): its trials' values would not compare. A study from before an
    attribute was recorded is taken on trust."""
    metric = study.user_attrs.get(METRIC, tune.metric)
    direction = study.direction.name.lower()
    for key, old, new in (("metric", metric, tune.metric), ("direction", direction, tune.direction)):
        if old != new:
            raise ConfigError(
                f"study {study.study_name!r} scores its trials by tune.{key} {old}, this config by {new}: their "
                f"values would not compare; to go on with the study, set tune.{key}: {old}; for a new search, give "
                "it its own --study and its own --out folder"
            )
    old = study.user_attrs.get(LENGTH, epochs)
    if old != epochs:
        if old is None:
            match = "tune train.epochs in tune.space as the study does"
        else:
            drop = "remove train.epochs from tune.space and train" if epochs is None else "train"
            match = f"{drop} {old} epochs as the study does (--epochs {old}, or --set train.epochs={old})"
        raise ConfigError(
            f"study {study.study_name!r} trains {_length(old)}, this run {_length(epochs)}: trials of different "
            f"lengths would be ranked together; {match}, or give this search its own --study and its own --out folder"
        )


def _length(epochs: int | None) -> str:
    return "trials of the epochs tune.space draws" if epochs is None else f"trials of {epochs} epochs"


def open_study(url: str, name: str, tune: TuneConfig, *, epochs: int | None = None, attempts: int = 4) -> optuna.Study:
    """Create the study, or load it if it exists (a rerun, or a worker on another machine joining).

    ``epochs``: how long each trial trains (see :func:`trial_epochs`); a study of trials of another length,
    metric or direction is refused.

    Workers started together on a fresh database race to create Optuna's tables
    (optuna/optuna#1092); the loser's error is retried after a short, jittered pause.
    A heartbeat marks the trials of a killed worker as FAIL after a few minutes.
    """
    from sqlalchemy.exc import SQLAlchemyError

    url = database_url(url)
    shown = shown_url(url)
    sampler, pruner = make_sampler(tune, tune.seed), make_pruner(tune)  # their errors are not the storage's
    for attempt in range(attempts):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ExperimentalWarning)  # the heartbeat is "experimental"
                storage = optuna.storages.RDBStorage(
                    url, engine_kwargs={"pool_pre_ping": True}, heartbeat_interval=60, grace_period=300
                )
            try:
                study = optuna.create_study(
                    storage=storage, study_name=name, direction=tune.direction, sampler=sampler, pruner=pruner
                )
            except optuna.exceptions.DuplicatedStudyError:  # a rerun, or another worker created it first
                study = optuna.load_study(study_name=name, storage=storage, sampler=sampler, pruner=pruner)
                _check_objective(study, tune, epochs)
                return study
            stamp(study)  # only the creator stamps it: what tells this study from an older one of its name
            study.set_user_attr(METRIC, tune.metric)
            study.set_user_attr(LENGTH, epochs)
            return study
        except ConfigError:  # the study refuses this config (a ValueError too): not the database's fault
            raise
        except (SQLAlchemyError, ValueError) as error:  # ValueError: e.g. a port out of range
            if attempt == attempts - 1 or isinstance(error, ValueError):
                raise ConfigError(
                    f"--storage {shown}: cannot open the study database ({type(error).__name__}: {error}); "
                    "give a reachable SQLAlchemy URL such as sqlite:///study.db or postgresql://user@host/db"
                ) from None
            log.info("opening the study failed (%s); retrying", type(error).__name__)
            time.sleep(0.25 * 2**attempt * (1 + random.random()))
        except ImportError as error:  # no driver for this database: retrying cannot help
            raise ConfigError(f"--storage {shown}: {error} (for PostgreSQL: pip install 'vaegan[postgres]')") from None

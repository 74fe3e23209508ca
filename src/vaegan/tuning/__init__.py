"""Hyperparameter search with Optuna: ``vaegan tune``.

- ``space.py``: the ``tune`` section of a run config (:class:`TuneConfig`: metric,
  direction, search space over dotted keys, pruner, sampler); no Optuna import,
  so :mod:`vaegan.config` can hold it.
- ``study.py``: :class:`Tuner`: opens or joins a study (SQLite or any SQLAlchemy
  URL), runs each trial as a normal training run, reports the metric every
  epoch for pruning, records crashed and NaN trials as failed with their reason.
- ``report.py``: the study folder's trials.csv, best_config.yaml and plots.

Example:
    >>> from vaegan.tuning import Tuner  # doctest: +SKIP
    >>> Tuner(load_config("configs/mnist_vae.yaml"), out="outputs/mnist_vae_tune").run(trials=20)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vaegan.tuning.space import CategoricalParam, FloatParam, IntParam, TuneConfig, as_overrides, check_space

if TYPE_CHECKING:
    from vaegan.tuning.report import write_outputs
    from vaegan.tuning.study import Tuner

__all__ = [
    "CategoricalParam",
    "FloatParam",
    "IntParam",
    "TuneConfig",
    "Tuner",
    "as_overrides",
    "check_space",
    "write_outputs",
]


def __getattr__(name: str) -> Any:
    # Optuna is imported only when a study is run: vaegan.config imports this package for TuneConfig
    if name == "Tuner":
        from vaegan.tuning.study import Tuner

        return Tuner
    if name == "write_outputs":
        from vaegan.tuning.report import write_outputs

        return write_outputs
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

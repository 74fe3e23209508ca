"""Hyperparameter search with Optuna: ``vaegan tune``.

The search space itself is the ``tune`` section of the run config
(:mod:`vaegan.config.search`); this package runs it.

- ``study.py``: :class:`Tuner`: runs each trial as a normal training run, reports the
  metric every epoch for pruning, records crashed and NaN trials as failed with their reason.
- ``storage.py``: opens or joins the study in its database (SQLite or any SQLAlchemy
  URL), refusing one whose trials would not compare (metric, direction, trial length).
- ``identity.py``: ``study.json``, which ties the study folder to one study in one storage
  (password masked), so a new study never overwrites an old one's trial folders.
- ``report.py``: the study folder's trials.csv, best_config.yaml and plots.

Example:
    >>> from vaegan.tuning import Tuner  # doctest: +SKIP
    >>> Tuner(load_config("mnist_vae"), out="outputs/mnist_vae_tune").run(trials=20)  # doctest: +SKIP
"""

from vaegan.tuning.report import write_outputs
from vaegan.tuning.study import Tuner

__all__ = ["Tuner", "write_outputs"]

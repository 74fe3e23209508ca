"""The run config: sections composed into one :class:`RunConfig`, read from YAML, overridden with ``--set``.

Files:
    run.py     ``RunConfig``, ``load_config`` (a path or a shipped name), ``build_config``,
               dotted overrides, ``save_config``, ``check_space``, ``shipped_configs``.
    search.py  the ``tune`` section: a search space over the run config's dotted keys.
    shipped/   the ready-made configs (``vaegan configs`` lists them).

Each component's own section lives beside it: ``vaegan.models.config``,
``vaegan.networks.config``, ``vaegan.data.config``, ``vaegan.training.config``.

Example:
    >>> from vaegan.config import load_config
    >>> load_config("mnist_vae", overrides=["train.epochs=1"]).train.epochs
    1
"""

from vaegan.config.run import (
    RunConfig,
    apply_overrides,
    build_config,
    check_space,
    find_config,
    load_config,
    save_config,
    shipped_configs,
    text_override,
)
from vaegan.config.search import CategoricalParam, FloatParam, IntParam, TuneConfig, as_overrides

__all__ = [
    "CategoricalParam",
    "FloatParam",
    "IntParam",
    "RunConfig",
    "TuneConfig",
    "apply_overrides",
    "as_overrides",
    "build_config",
    "check_space",
    "find_config",
    "load_config",
    "save_config",
    "shipped_configs",
    "text_override",
]

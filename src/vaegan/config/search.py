"""The ``tune`` section of a run config: a search space over dotted config keys, a metric, a pruner.

It lives with the run config, not in :mod:`vaegan.tuning`: its keys are the run
config's own dotted keys and are validated against it, and nothing here imports
Optuna, so holding a ``tune`` section costs other commands nothing. A sampled point becomes
a list of dotted overrides (``model.lr=0.0003``), the same ones ``--set`` takes,
so a trial's config is validated exactly as a hand-written one.

Example:
    >>> tune = TuneConfig.model_validate(
    ...     {"metric": "val/loss", "space": {"model.lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True}}}
    ... )
    >>> as_overrides({"model.lr": 0.0003, "model.network.kind": "mlp"})
    ['model.lr=0.0003', 'model.network.kind=mlp']
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any, Literal

import yaml
from pydantic import Field, model_validator

from vaegan.foundation.errors import ConfigError
from vaegan.foundation.section import Section, Seed

if TYPE_CHECKING:
    import optuna

Choice = bool | int | float | str | None
# metrics a higher value of which is better: val/map_r (the Pearson r of a disease map, training/map_score.py),
# acc_* and c_acc_* (classification accuracies, models/acgan.py and cvaegan.py)
HIGHER_IS_BETTER = re.compile(r"/(map_r|(\w+_)?acc_\w+)$")


class FloatParam(Section):
    """A float in [low, high], on a log scale if ``log``, on a grid of ``step`` if given."""

    type: Literal["float"]
    low: float
    high: float
    log: bool = False
    step: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _valid_range(self) -> FloatParam:
        _check_range(self.low, self.high, self.log, self.step)
        return self

    def suggest(self, trial: optuna.Trial, name: str) -> float:
        return trial.suggest_float(name, self.low, self.high, log=self.log, step=self.step)

    def extremes(self) -> list[Choice]:
        return [self.low, self.high]


class IntParam(Section):
    """An integer in [low, high] (both included), on a log scale if ``log``."""

    type: Literal["int"]
    low: int
    high: int
    log: bool = False
    step: int = Field(1, gt=0)

    @model_validator(mode="after")
    def _valid_range(self) -> IntParam:
        _check_range(self.low, self.high, self.log, self.step if self.step != 1 else None)
        return self

    def suggest(self, trial: optuna.Trial, name: str) -> int:
        return trial.suggest_int(name, self.low, self.high, log=self.log, step=self.step)

    def extremes(self) -> list[Choice]:
        return [self.low, self.high]


class CategoricalParam(Section):
    """One of ``choices``. A string choice is read as YAML, like a ``--set`` value: ``"[64, 64]"`` is a list."""

    type: Literal["categorical"]
    choices: list[Choice] = Field(min_length=1)

    def suggest(self, trial: optuna.Trial, name: str) -> Choice:
        return trial.suggest_categorical(name, self.choices)

    def extremes(self) -> list[Choice]:
        return list(self.choices)


ParamSpec = Annotated[FloatParam | IntParam | CategoricalParam, Field(discriminator="type")]


class TuneConfig(Section):
    """What ``vaegan tune`` searches, what it optimises, and when it gives up on a trial.

    Args:
        metric: a column of the run's metrics.csv reported every epoch, e.g. ``val/recon``; by default
            the one that picks best.pt (``val/objective`` for the autoencoders; a GAN and the CVAE-GAN keep
            none, their losses depending on a discriminator, so their studies must name one).
        direction: ``minimize`` (a loss) or ``maximize`` (an accuracy, an ELBO).
        space: one entry per dotted config key.
        pruner: ``median`` (Optuna's MedianPruner), ``percentile``, ``hyperband``,
            ``successive_halving`` or ``none``.
        pruner_options: keyword arguments of that pruner, e.g. ``{n_startup_trials: 5}``.
        sampler: ``tpe`` (Tree-structured Parzen Estimator) or ``random``.
        seed: sampler seed; makes a one-worker study repeatable.
    """

    metric: str | None = Field(None, pattern=r"^(train|val)/\S+$", description="a metrics.csv column, val/...")
    direction: Literal["minimize", "maximize"] = "minimize"
    space: dict[str, ParamSpec] = Field(min_length=1)
    pruner: Literal["median", "percentile", "hyperband", "successive_halving", "none"] = "median"
    pruner_options: dict[str, Any] = {}
    sampler: Literal["tpe", "random"] = "tpe"
    seed: Seed | None = None

    def suggest(self, trial: optuna.Trial) -> dict[str, Choice]:
        """Draw one point of the space; Optuna records each value under its dotted key."""
        return {key: spec.suggest(trial, key) for key, spec in self.space.items()}


def check_direction(tune: TuneConfig) -> None:
    """Raise ConfigError where ``tune.direction`` minimises a metric higher values of which are better.

    Minimising a correlation or an accuracy searches for the worst model; losses take either direction.
    Checked as a study starts, not when a config is read: every trial's checkpoint and config.yaml hold
    the tune section, and the trials of a study started before this check must still load.
    """
    if tune.direction == "minimize" and HIGHER_IS_BETTER.search(tune.metric):
        raise ConfigError(
            f"tune.direction is minimize, but higher is better for tune.metric {tune.metric} (a correlation or "
            "an accuracy): set tune.direction: maximize"
        )


def _check_range(low: float, high: float, log: bool, step: float | None) -> None:
    if low > high:
        raise ValueError(f"low={low} is above high={high}")
    if log and low <= 0:
        raise ValueError(f"a log scale needs low > 0, got low={low}")
    if log and step is not None:
        raise ValueError("log and step cannot be combined; drop one of them")
    if step is not None and low < high:  # Optuna only warns, and draws from a grid cut short
        count = (high - low) / step
        if count < 1 - 1e-9 or abs(count - round(count)) > 1e-9 * max(1.0, count):
            raise ValueError(
                f"step {step} does not fit between low={low} and high={high}: high - low must be a multiple of it"
            )


def _yaml_value(value: Choice) -> str:
    """A value as ``--set`` text. Strings pass through (so they may hold YAML lists);
    other values are dumped as YAML so that 1e-05 stays a float (bare ``1e-05`` reads as a string)."""
    if isinstance(value, str):
        return value
    return yaml.safe_dump(value, default_flow_style=True).removesuffix("\n").removesuffix("\n...")


def as_overrides(params: dict[str, Choice]) -> list[str]:
    """Sampled values as dotted overrides for :func:`vaegan.config.build_config`."""
    return [f"{key}={_yaml_value(value)}" for key, value in params.items()]

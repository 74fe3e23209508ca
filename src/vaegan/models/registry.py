"""Models by name: ``@register_model("vae")`` on the class, ``build_model(config)`` to make one,
``load_model(path)`` to rebuild one from a checkpoint.

Models from other packages register through the ``vaegan.models`` entry-point
group, so a separate package can add one without editing vaegan.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import torch

from vaegan.foundation.checkpoints import read_checkpoint
from vaegan.foundation.errors import CheckpointError, ConfigError

if TYPE_CHECKING:
    from vaegan.models.base import GenerativeModel
    from vaegan.models.config import ModelConfig

_MODELS: dict[str, type[GenerativeModel]] = {}
_PLUGINS_LOADED = False
M = TypeVar("M", bound="type[GenerativeModel]")


def register_model(name: str):
    """Class decorator: make the model buildable by ``name`` from a config.

    The name is the config's ``name`` default too; the two must agree, so a
    config written by one model never builds another.
    """

    def decorate(cls: M) -> M:
        if name in _MODELS and _MODELS[name] is not cls:
            raise ValueError(f"model name {name!r} is registered twice ({_MODELS[name].__name__}, {cls.__name__})")
        default = cls.config_class.model_fields["name"].default
        if default != name:
            raise ValueError(
                f"{cls.__name__} is registered as {name!r} but {cls.config_class.__name__}.name defaults to "
                f"{default!r}; set `name: str = {name!r}` in the config class"
            )
        cls.name = name
        _MODELS[name] = cls
        return cls

    return decorate


def unregister_model(name: str) -> None:
    """Forget the model registered as ``name`` (a checked student model, a test double); no-op if absent."""
    _MODELS.pop(name, None)


def _load_plugins() -> None:
    """Import the models other packages declare under the ``vaegan.models`` entry-point group."""
    global _PLUGINS_LOADED
    if _PLUGINS_LOADED:
        return
    _PLUGINS_LOADED = True
    for entry in entry_points(group="vaegan.models"):
        entry.load()  # the module's @register_model runs on import


def list_models() -> list[str]:
    """Names of every registered model."""
    _load_plugins()
    return sorted(_MODELS)


def get_model_class(name: str) -> type[GenerativeModel]:
    if not isinstance(name, str):
        raise ConfigError(f"model.name {name!r}: a model's name, one of {', '.join(list_models())}")
    if name not in _MODELS:
        _load_plugins()
    try:
        return _MODELS[name]
    except KeyError:
        raise ConfigError(
            f"unknown model {name!r}; known models: {', '.join(sorted(_MODELS))}. A model of your own is found "
            "through the 'vaegan.models' entry point of an installed package (docs/write_your_own_model.md, part 3)"
        ) from None


def build_model(config: ModelConfig) -> GenerativeModel:
    """Instantiate the registered model that ``config.name`` names."""
    return get_model_class(config.name)(config)


def model_from_checkpoint(payload: dict[str, Any], source: str = "checkpoint") -> GenerativeModel:
    """Rebuild the model that a checkpoint payload describes, load its weights, and put it in eval mode."""
    try:
        config_data = payload["model_config"]
        cls = get_model_class(config_data["name"])
        model = cls(cls.config_class.model_validate(config_data))
        model.load_state_dict(payload["model"])
    except (KeyError, TypeError, RuntimeError, ValueError) as error:
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise CheckpointError(f"{source}: does not describe a model vaegan can rebuild: {first}") from None
    return model.eval()


def load_model(path: str | Path, map_location: str | torch.device = "cpu") -> GenerativeModel:
    """The model saved in ``path`` (by ``model.save`` or the Trainer), in eval mode."""
    return model_from_checkpoint(read_checkpoint(Path(path), map_location), source=str(path))

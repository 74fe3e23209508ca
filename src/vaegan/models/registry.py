"""Models by name: ``@register_model("vae")`` on the class, ``build_model(config)`` to make one."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from vaegan.errors import ConfigError

if TYPE_CHECKING:
    from vaegan.config import ModelConfig
    from vaegan.models.base import GenerativeModel

_MODELS: dict[str, type[GenerativeModel]] = {}
M = TypeVar("M", bound="type[GenerativeModel]")


def register_model(name: str):
    """Class decorator: make the model buildable by ``name`` from a config."""

    def decorate(cls: M) -> M:
        if name in _MODELS:
            raise ValueError(f"model name {name!r} is registered twice ({_MODELS[name].__name__}, {cls.__name__})")
        cls.name = name
        _MODELS[name] = cls
        return cls

    return decorate


def list_models() -> list[str]:
    """Names of every registered model."""
    _load_builtin_models()
    return sorted(_MODELS)


def get_model_class(name: str) -> type[GenerativeModel]:
    _load_builtin_models()
    try:
        return _MODELS[name]
    except KeyError:
        raise ConfigError(f"unknown model {name!r}; known models: {', '.join(sorted(_MODELS))}") from None


def build_model(config: ModelConfig) -> GenerativeModel:
    """Instantiate the registered model that ``config.name`` names."""
    return get_model_class(config.name)(config)


def _load_builtin_models() -> None:
    import vaegan.models  # noqa: F401  (importing the package registers every built-in model)

"""``Section``: the base of every typed config section (model, network, data, train, tune)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, model_validator

# a seed numpy and torch both take (numpy's generators refuse negatives, torch's overflow at 2**64)
Seed = Annotated[int, Field(ge=0, lt=2**32, description="random seed, 0 to 2**32 - 1")]


def text_choices(annotation: Any) -> tuple[str, ...]:
    """The string options of a ``Literal`` annotation (also inside ``X | None``)."""
    if get_origin(annotation) is Literal:
        return tuple(option for option in get_args(annotation) if isinstance(option, str))
    return tuple(option for arg in get_args(annotation) for option in text_choices(arg))


def _takes(annotation: Any, types: tuple[type, ...]) -> bool:
    """Whether ``annotation`` (also inside ``Annotated``, ``X | None``, ``tuple[...]``) accepts one of ``types``."""
    return annotation in types or any(_takes(arg, types) for arg in get_args(annotation))


# how YAML 1.1 spells the booleans it reads (`--set data.mri.registration=off` arrives as False)
YAML_BOOLEANS = {True: ("on", "yes", "true"), False: ("off", "no", "false")}


class Section(BaseModel):
    """A config section: unknown keys are errors, assignments are validated.

    A choice whose options look like numbers (``precision: "32"``) also takes the
    number, as YAML and ``--set train.precision=32`` give it; one whose options
    are ``on``/``off`` (``yes``/``no``) takes the booleans YAML reads them as.
    A number is finite (``.inf`` trains into a NaN), and a boolean is not a number.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=(), allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _numbers_for_text_choices(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        fixed = dict(data)
        for key, value in data.items():
            field = cls.model_fields.get(key)
            if field is None or not isinstance(value, int | float):
                continue
            if (
                isinstance(value, bool)
                and _takes(field.annotation, (int, float))
                and not _takes(field.annotation, (bool,))
            ):
                fixed[key] = str(value).lower()  # pydantic would read True as 1; as text it is refused by name
                continue
            choices = text_choices(field.annotation)
            spellings = YAML_BOOLEANS[value] if isinstance(value, bool) else (str(value),)
            fixed[key] = next((text for text in spellings if text in choices), value)
        return fixed

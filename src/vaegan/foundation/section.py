"""``Section``: the base of every typed config section (model, network, data, train, tune)."""

from __future__ import annotations

from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, model_validator


def text_choices(annotation: Any) -> tuple[str, ...]:
    """The string options of a ``Literal`` annotation (also inside ``X | None``)."""
    if get_origin(annotation) is Literal:
        return tuple(option for option in get_args(annotation) if isinstance(option, str))
    return tuple(option for arg in get_args(annotation) for option in text_choices(arg))


# how YAML 1.1 spells the booleans it reads (`--set data.mri.registration=off` arrives as False)
YAML_BOOLEANS = {True: ("on", "yes", "true"), False: ("off", "no", "false")}


class Section(BaseModel):
    """A config section: unknown keys are errors, assignments are validated.

    A choice whose options look like numbers (``precision: "32"``) also takes the
    number, as YAML and ``--set train.precision=32`` give it; one whose options
    are ``on``/``off`` (``yes``/``no``) takes the booleans YAML reads them as.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=())

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
            choices = text_choices(field.annotation)
            spellings = YAML_BOOLEANS[value] if isinstance(value, bool) else (str(value),)
            fixed[key] = next((text for text in spellings if text in choices), value)
        return fixed

"""``Section``: the base of every typed config section (model, network, data, train, tune)."""

from __future__ import annotations

from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, model_validator


def text_choices(annotation: Any) -> tuple[str, ...]:
    """The string options of a ``Literal`` annotation (also inside ``X | None``)."""
    if get_origin(annotation) is Literal:
        return tuple(option for option in get_args(annotation) if isinstance(option, str))
    return tuple(option for arg in get_args(annotation) for option in text_choices(arg))


class Section(BaseModel):
    """A config section: unknown keys are errors, assignments are validated.

    A choice whose options look like numbers (``precision: "32"``) also takes the
    number, as YAML and ``--set train.precision=32`` give it.
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
            if field is None or isinstance(value, bool) or not isinstance(value, int | float):
                continue
            if str(value) in text_choices(field.annotation):
                fixed[key] = str(value)
        return fixed

"""Declared model options: bounds, defaults and descriptions live here once.

Each model wrapper nests an ``Options`` subclass. The UI builds its sliders from
the fields, and the same class validates API calls, so ranges are never repeated.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from playground.errors import UserError

__all__ = ["Field", "Options", "field_bounds", "option"]


def option(
    default: Any,
    title: str,
    *,
    low: float | None = None,
    above: float | None = None,
    high: float | None = None,
    step: float | None = None,
) -> Any:
    """One option of an ``Options`` class: its default, label, bounds (``low`` and ``high`` inclusive, ``above``
    exclusive) and the slider's step (without one: 1 for whole numbers, 0.01 otherwise). The line under it, an
    attribute docstring, is its description (the slider's help text and the API's)."""
    return Field(
        default,
        ge=low,
        gt=above,
        le=high,
        title=title,
        json_schema_extra={"step": step} if step is not None else None,
    )


class Options(BaseModel):
    """Base class for a model's options; rejects unknown names and non-finite numbers.

    Declare each option with ``option(...)`` and describe it in the docstring under it::

        temperature: float = option(0.7, "Temperature", low=0.0, high=2.0, step=0.05)
        '''Higher is more surprising; 0 always picks the likeliest token.'''
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True, use_attribute_docstrings=True)

    @classmethod
    def parse(cls, **values: Any) -> Options:
        """Validate ``values``; raise ``UserError`` naming the bad value and its allowed range."""
        for name, value in values.items():
            if isinstance(value, float) and not math.isfinite(value):
                raise UserError(f"{label_of(cls, name)} must be a finite number, got {value}.")
        try:
            return cls(**values)
        except ValidationError as exc:
            raise UserError(_plain_message(cls, exc)) from None


def label_of(cls: type[Options], name: str) -> str:
    """The human label of an option: its title, else its name with spaces."""
    info = cls.model_fields.get(name)
    if info is not None and info.title:
        return info.title
    return name.replace("_", " ").capitalize()


def field_bounds(cls: type[Options], name: str) -> tuple[float | None, float | None]:
    """The (minimum, maximum) declared on a numeric field, or None where unbounded."""
    low = high = None
    for meta in cls.model_fields[name].metadata:
        low = getattr(meta, "ge", None) if getattr(meta, "ge", None) is not None else low
        low = getattr(meta, "gt", None) if getattr(meta, "gt", None) is not None else low
        high = getattr(meta, "le", None) if getattr(meta, "le", None) is not None else high
        high = getattr(meta, "lt", None) if getattr(meta, "lt", None) is not None else high
    return low, high


def _plain_message(cls: type[Options], exc: ValidationError) -> str:
    error = exc.errors()[0]
    name = str(error["loc"][0]) if error["loc"] else "value"
    got = error.get("input")
    if error["type"] == "extra_forbidden":
        return f"Unknown option '{name}'; known options are {', '.join(cls.model_fields)}."
    if name in cls.model_fields and error["type"].endswith(("_parsing", "_type", "_from_float")):
        kind = "whole number" if cls.model_fields[name].annotation is int else "number"
        return f"{label_of(cls, name)} must be a {kind}, got {got!r}."
    if name in cls.model_fields:
        low, high = field_bounds(cls, name)
        if low is not None and high is not None:
            return f"{label_of(cls, name)} must be between {low:g} and {high:g}, got {got!r}."
        if low is not None:
            return f"{label_of(cls, name)} must be at least {low:g}, got {got!r}."
        if high is not None:
            return f"{label_of(cls, name)} must be at most {high:g}, got {got!r}."
        return f"{label_of(cls, name)} is not valid ({error['msg'].lower()}), got {got!r}."
    return f"Invalid options: {error['msg']}."

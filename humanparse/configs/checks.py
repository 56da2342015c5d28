"""Type and range checks of config values, run whenever a config section is built (recipe, YAML, `--set`, checkpoint).

Each value is checked against its dataclass field's type hint (int, float, bool, str, fixed-length tuples, lists,
Optional, dicts) and converted where the meaning is unambiguous: an int where a float is expected, a list where a
tuple is expected, "1e-3" (a string in YAML 1.1) where a number is expected, 2.0 where an int is expected. Then
the field's range rules (a per-class `RULES` table next to the fields) run on every number in the value.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import typing
from typing import Any, Callable, Dict, Iterator, Mapping, Optional, Sequence, Tuple, Union

from humanparse.errors import ConfigError
from humanparse.values import MAX_SIDE, working_size_problem  # noqa: F401  the schema's, from their one place

Rule = Callable[[Any], Optional[str]]
"""A checked value -> None when it is fine, else what it must be ("must be at least 1")."""

Rules = Mapping[str, Union[Rule, Tuple[Rule, ...]]]


class _Mismatch(Exception):
    """A value that does not fit its type hint; the message says what was expected."""


def _numbers(value: Any) -> Iterator[Any]:
    if isinstance(value, (list, tuple)):
        for item in value:
            yield from _numbers(item)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield value


def _each(test: Callable[[Any], bool], requirement: str) -> Rule:
    def rule(value: Any) -> Optional[str]:
        return None if all(test(number) for number in _numbers(value)) else requirement

    return rule


def at_least(low: float) -> Rule:
    """Every number in the value is >= `low`."""
    return _each(lambda number: number >= low, f"must be at least {low}")


def above(low: float) -> Rule:
    """Every number in the value is > `low`."""
    return _each(lambda number: number > low, f"must be above {low}")


def at_most(high: float) -> Rule:
    """Every number in the value is <= `high`."""
    return _each(lambda number: number <= high, f"must be at most {high}")


def between(low: float, high: float, *, include_high: bool = True) -> Rule:
    """Every number in the value is in [low, high] (or [low, high) without `include_high`)."""
    closing = "]" if include_high else ")"
    return _each(
        lambda number: low <= number and (number <= high if include_high else number < high),
        f"must be in [{low}, {high}{closing}",
    )


def ordered(value: Any) -> Optional[str]:
    """A (low, high) pair with low <= high."""
    return None if value[0] <= value[1] else "the first value must not exceed the second"


def non_empty(value: Any) -> Optional[str]:
    """A list with at least one item."""
    return None if len(value) > 0 else "must not be empty"


def describe(hint: Any) -> str:
    """What a type hint asks for, in words ("an integer", "a list of 2 numbers")."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Union:
        inner = [arg for arg in args if arg is not type(None)]
        return f"{describe(inner[0])} or null"
    if origin is tuple:
        return f"a list of {len(args)} {_plural(args[0])}"
    if origin is list:
        return f"a list of {_plural(args[0])}" if args else "a list"
    if origin is dict or hint is dict:
        return "a mapping"
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string"}.get(
        hint, getattr(hint, "__name__", str(hint))
    )


def _plural(hint: Any) -> str:
    if typing.get_origin(hint) is tuple:
        return f"pairs of {_plural(typing.get_args(hint)[0])}" if len(typing.get_args(hint)) == 2 else "lists"
    return {int: "integers", float: "numbers", bool: "booleans", str: "strings"}.get(hint, describe(hint))


def coerce(value: Any, hint: Any) -> Any:
    """`value` converted to the type `hint` names; _Mismatch when it does not fit."""
    if hint is Any:
        return value
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Union:
        if value is None and type(None) in args:
            return None
        return coerce(value, next(arg for arg in args if arg is not type(None)))
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)) or (origin is tuple and len(value) != len(args)):
            raise _Mismatch(f"expected {describe(hint)}")
        try:
            items = [coerce(item, args[i] if origin is tuple else args[0]) for i, item in enumerate(value)]
        except _Mismatch as error:
            finite = str(error) == "expected a finite number"
            raise _Mismatch("expected finite numbers" if finite else f"expected {describe(hint)}") from error
        return tuple(items) if origin is tuple else items
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise _Mismatch("expected a mapping")
        return dict(value)
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, hint):
            raise _Mismatch(f"expected a {hint.__name__}")
        return value
    if hint is bool:
        if isinstance(value, bool):
            return value
    elif hint is int:
        number = _number(value)
        if number is not None and float(number).is_integer():
            return int(number)
    elif hint is float:
        number = _number(value)
        if number is not None:
            if not math.isfinite(number):
                raise _Mismatch("expected a finite number")
            return float(number)
    elif hint is str:
        if isinstance(value, str):
            return value
    raise _Mismatch(f"expected {describe(hint)}")


def _number(value: Any) -> Optional[float]:
    """An int or float as itself, a numeric string ("1e-3", YAML 1.1's string) parsed; else None (bools too)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            try:
                return float(value)
            except ValueError:
                return None
    return None


def show(value: Any) -> str:
    """A value as the user would type it after `key=`."""
    if isinstance(value, str):
        return value
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, list):
        return "[" + ", ".join(show(item) for item in value) + "]"
    if value is None:
        return "null"
    return repr(value)


@functools.cache
def type_hints(cls: type) -> Dict[str, Any]:
    """The resolved field annotations of a dataclass (cached: sections are built often)."""
    return typing.get_type_hints(cls)


def check_fields(instance: Any, section: str, rules: Rules) -> None:
    """Check (and convert in place) every field of a dataclass instance; ConfigError naming `section.field`."""
    hints = type_hints(type(instance))
    for field in dataclasses.fields(instance):
        key = f"{section}.{field.name}" if section else field.name
        raw = getattr(instance, field.name)
        try:
            value = coerce(raw, hints[field.name])
        except _Mismatch as error:
            raise ConfigError(f"{key}={show(raw)}: {error}") from None
        field_rules = rules.get(field.name, ())
        for rule in field_rules if isinstance(field_rules, tuple) else (field_rules,):
            problem = None if value is None else rule(value)
            if problem:
                raise ConfigError(f"{key}={show(raw)}: {problem}")
        setattr(instance, field.name, value)


def required_fields(cls: type) -> Sequence[str]:
    """Names of a dataclass's fields without a default."""
    return [
        field.name
        for field in dataclasses.fields(cls)
        if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
    ]

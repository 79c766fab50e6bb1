"""Checks at the boundary: the type of every config field, finite numbers, ranges.

Every config dataclass calls ``check_fields`` first in ``__post_init__``, so a value of the wrong
type (a string where a number belongs, from a damaged config.json or a Python call) or a NaN is a
``ConfigError`` naming the option, whoever built the config. Library functions check their own
arguments with ``at_least`` / ``finite`` / ``in_range``.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from vaekit.errors import ConfigError


def flag(name: str) -> str:
    """The command-line spelling of a parameter or field name: iw_samples -> --iw-samples."""
    return "--" + name.replace("_", "-")


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls, include_extras=True)


def _flag_of(name: str, hint: Any) -> str:
    """The field's flag, honouring a renamed argument (``tyro.conf.arg(name=...)``) in its annotation."""
    for meta in getattr(hint, "__metadata__", ()):
        renamed = getattr(meta, "name", None)
        if isinstance(renamed, str):
            return "--" + renamed
    return flag(name)


def _strip(hint: Any) -> Any:
    return _strip(typing.get_args(hint)[0]) if typing.get_origin(hint) is Annotated else hint


def matches(value: Any, hint: Any) -> bool:
    """Whether ``value`` has the type ``hint`` describes (ints pass as floats, never bools as numbers)."""
    hint = _strip(hint)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (Union, types.UnionType):
        return any(matches(value, a) for a in args)
    if hint is type(None):
        return value is None
    if origin is Literal:
        return any(value == a and type(value) is type(a) for a in args)
    if origin is tuple:
        if not isinstance(value, tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(matches(v, args[0]) for v in value)
        return len(value) == len(args) and all(matches(v, a) for v, a in zip(value, args, strict=True))
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, hint) if isinstance(hint, type) else True


def describe(hint: Any) -> str:
    """What a value of type ``hint`` is, in words."""
    hint = _strip(hint)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (Union, types.UnionType):
        parts = [describe(a) for a in args if a is not type(None)]
        return " or ".join(parts) + (" or null" if type(None) in args else "")
    if origin is Literal:
        return "one of " + ", ".join(str(a) for a in args)
    if origin is tuple:
        return f"a list of {describe(args[0]).removeprefix('an ').removeprefix('a ')}s"
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string", Path: "a path"}
    return names.get(hint, getattr(hint, "__name__", str(hint)))


def _finite_floats(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, tuple):
        return all(_finite_floats(v) for v in value)
    return True


def _normalized(value: Any, hint: Any) -> Any:
    """A Python caller's str for a Path field as a Path, and a list for a tuple field as a tuple."""
    hint = _strip(hint)
    options = typing.get_args(hint) if typing.get_origin(hint) in (Union, types.UnionType) else (hint,)
    if isinstance(value, str) and Path in options:
        return Path(value)
    if isinstance(value, list) and any(typing.get_origin(o) is tuple for o in options):
        return tuple(value)
    return value


def check_fields(config: Any) -> None:
    """Check every field of a (frozen) config dataclass: its type, and that numbers are finite.

    A str given for a Path field becomes a Path and a list for a tuple field a tuple (the one
    normalisation done in place); anything else of the wrong type is a ConfigError naming the option.
    """
    hints = _hints(type(config))
    for field in dataclasses.fields(config):
        value, hint = getattr(config, field.name), hints[field.name]
        fixed = _normalized(value, hint)
        if fixed is not value:
            object.__setattr__(config, field.name, fixed)  # frozen: the constructor's own normalisation
            value = fixed
        option = _flag_of(field.name, hint)
        if not matches(value, hint):
            if typing.get_origin(_strip(hint)) is Literal:
                choices = ", ".join(str(a) for a in typing.get_args(_strip(hint)))
                raise ConfigError(f"unknown {option} {value!r}; choose one of: {choices}")
            raise ConfigError(f"{option} must be {describe(hint)}, got {value!r}")
        if not _finite_floats(value):
            raise ConfigError(f"{option} must be a finite number, got {value!r}")


def finite(name: str, value: float) -> float:
    """``value`` itself; a ConfigError when it is NaN or infinite (or not a number)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{flag(name)} must be a finite number, got {value!r}")
    return value


def integer(name: str, value: Any, low: int | None = None, high: int | None = None) -> int:
    """``value`` itself when it is an integer in [low, high]; else a ConfigError."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{flag(name)} must be an integer, got {value!r}")
    if low is not None and value < low:
        raise ConfigError(f"{flag(name)} must be at least {low}, got {value}")
    if high is not None and value > high:
        raise ConfigError(f"{flag(name)} must be at most {high:,}, got {value:,}")
    return value


def at_least(name: str, value: Any, low: int) -> int:
    """An integer of at least ``low`` (counts, sizes)."""
    return integer(name, value, low)


def in_range(name: str, value: float, low: float | None = None, high: float | None = None) -> float:
    """A finite number in [low, high]."""
    finite(name, value)
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = (
            f"between {low:g} and {high:g}"
            if low is not None and high is not None
            else f"at least {low:g}"
            if low is not None
            else f"at most {high:g}"
        )
        raise ConfigError(f"{flag(name)} must be {bounds}, got {value:g}")
    return value

"""Errors users see. Each says what went wrong, with which file or value, and what to do.

The CLI prints a ``VaekitError`` on one line and exits with status 2 (``--debug`` shows the
traceback), and a ``VaekitWarning`` on one line starting ``vaekit: warning:``. Nothing here
imports anything else of ours.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

T = TypeVar("T")


class VaekitError(Exception):
    """Base class for every user-facing error: a one-line message that says what to do."""


class ConfigError(VaekitError):
    """A configuration value is invalid (unknown name, out-of-range number, conflicting options)."""


class DataError(VaekitError):
    """A dataset is missing, corrupt, truncated or has the wrong shape or values."""


class RunDirError(VaekitError):
    """A directory is not a vaekit run, or a run directory (or another output) cannot be written."""


class TrainingDiverged(VaekitError):
    """The loss became NaN or infinite; the last good checkpoint was kept."""


class VaekitWarning(UserWarning):
    """Something the user should know that does not stop the work (a skipped damaged log line...)."""


def first_line(error: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message (its type's name when it has none), for a one-line error."""
    text = str(error).strip()
    return (text.splitlines()[0] if text else type(error).__name__)[:limit]


def lookup(table: Mapping[str, T], name: object, what: str) -> T:
    """``table[name]``, or a ConfigError listing the choices: no string switch falls through silently.

    Args:
        table: the known names.
        name: the name asked for.
        what: how to call it in the message, e.g. "interpolation method" or "--method".
    """
    if isinstance(name, str) and name in table:
        return table[name]
    raise ConfigError(f"unknown {what} {name!r}; choose one of: {', '.join(table)}")

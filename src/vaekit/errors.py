"""Errors users see. Each says what went wrong, with which file or value, and what to do.

The CLI prints a ``VaekitError`` on one line and exits with status 2 (``--debug`` shows the
traceback). Nothing here imports anything else of ours.
"""


class VaekitError(Exception):
    """Base class for every user-facing error: a one-line message that says what to do."""


class ConfigError(VaekitError):
    """A configuration value is invalid (unknown name, out-of-range number, conflicting options)."""


class DataError(VaekitError):
    """A dataset is missing, corrupt, truncated or has the wrong shape or values."""


class RunDirError(VaekitError):
    """A directory is not a vaekit run, or a run directory cannot be written."""


class TrainingDiverged(VaekitError):
    """The loss became NaN or infinite; the last good checkpoint was kept."""

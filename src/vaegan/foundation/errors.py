"""Errors a user can act on: each message names the file or key, the value and the fix.

The CLI catches :class:`VaeganError` and prints its message without a traceback.
"""


class VaeganError(Exception):
    """Base of every error vaegan raises on purpose."""


class ConfigError(VaeganError, ValueError):
    """A config key is unknown or a value is impossible."""


class DataError(VaeganError):
    """A data file is missing, truncated, corrupt or of the wrong kind."""


class TrainingError(VaeganError):
    """Training cannot go on (a loss turned NaN, the device is missing or out of memory)."""


class CheckpointError(TrainingError):
    """A checkpoint is missing, truncated, corrupt, or holds objects weights-only loading refuses."""

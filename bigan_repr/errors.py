"""The one exception type users see: bad input, named with the file or field at fault.

The CLI prints these as a one-line error with no traceback; anything else is a bug.
"""


class UserError(ValueError):
    """Input the user can fix: a bad file, flag, config value or missing dataset."""


class ConfigError(UserError):
    """A config value or key is invalid; the message names it and lists the valid ones."""


class DataError(UserError):
    """A dataset is missing, unreadable or malformed; the message says which file and why."""

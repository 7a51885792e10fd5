"""Errors that the command line reports as one line, without a traceback."""


class GenlabError(Exception):
    """A user-facing failure whose message names the bad value and the fix."""


class DatasetError(GenlabError, ValueError):
    """A dataset is missing, malformed or inconsistent."""


class ConfigError(GenlabError, ValueError):
    """A parameter or profile setting is invalid."""

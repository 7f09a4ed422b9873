"""The one exception the load generator raises for anything a user can fix:
a bad profile, an unknown port, an impossible rate, a generator that would
not start. Its message says what and where; nothing has been sent when it
is raised before a run."""

from __future__ import annotations


class LoadgenError(Exception):
    """A problem with the input or the environment, explained in the message."""


class ProfileError(LoadgenError):
    """The profile (a Python file or streams built in code) is wrong."""


class RateError(LoadgenError):
    """A rate that cannot be parsed or cannot be sent."""


class PortError(LoadgenError):
    """A port that does not exist or cannot be used."""


class EngineError(LoadgenError):
    """The generator process failed (start, a trial, or it died)."""

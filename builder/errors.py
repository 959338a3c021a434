"""Errors of the builder. One base class; each carries the data a message is made from.

``str(error)`` is what the pushing user reads, so messages are written for them.
"""
from __future__ import annotations


class BuilderError(Exception):
    """Base class of everything the builder raises on purpose."""


class ProcfileError(BuilderError):
    def __init__(self, line_number: int, line: str, reason: str):
        self.line_number = line_number
        self.line = line
        self.reason = reason
        super().__init__(f"Procfile line {line_number}: {reason}: {line!r}")


class CommandRefused(BuilderError):
    """An SSH exec request the builder does not serve."""

    def __init__(self, command: str, reason: str):
        self.command = command
        self.reason = reason
        super().__init__(reason)


class HookError(BuilderError):
    """The controller refused a builder hook call (or could not be reached: status 0)."""

    def __init__(self, status: int, detail: str):
        self.status = status
        self.detail = detail
        super().__init__(detail)


class BuildFailed(BuilderError):
    """The user's build failed; the message says why, the log already has the details."""


class PackError(BuilderError):
    """The pushed pack was cut short or is not a valid pack; ``str()`` says why, in git's words."""


class RegistryError(BuilderError):
    """The private registry could not be started or refused a request."""


class StackError(BuilderError):
    """The stack image could not be built."""

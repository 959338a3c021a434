"""Errors raised by the scheduler package; all derive from :class:`SchedulerError`."""
from __future__ import annotations


class SchedulerError(Exception):
    """Base class of every scheduler error."""


class InvalidSpec(SchedulerError, ValueError):
    """A release spec (or a restart target) is not acceptable; nothing was changed."""

    def __init__(self, field: str, value, reason: str):
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"invalid {field} {value!r}: {reason}")


class HostError(SchedulerError):
    """A host's container engine refused or failed a call."""

    def __init__(self, host: str, action: str, detail: str):
        self.host = host
        self.action = action
        self.detail = detail
        super().__init__(f"host {host}: {action} failed: {detail}")


class DeployError(SchedulerError):
    """A release could not be brought up; the previous release keeps serving.

    ``logs`` maps container names to their last output lines, which are also part of the message.
    """

    def __init__(self, app: str, version: int, reason: str, logs: dict[str, list[str]] | None = None):
        self.app = app
        self.version = version
        self.reason = reason
        self.logs = dict(logs or {})
        lines = [f"deploy of {app} v{version} failed: {reason}"]
        for name, tail in self.logs.items():
            lines.append(f"last log lines of {name}:")
            lines.extend(f"  {line}" for line in tail or ["(no output)"])
        super().__init__("\n".join(lines))


class Superseded(SchedulerError):
    """A newer release of the app is already deployed; this older one was not started."""

    def __init__(self, app: str, version: int, deployed: int):
        self.app = app
        self.version = version
        self.deployed = deployed
        super().__init__(f"{app} v{version} was superseded by v{deployed}; not deployed")


class Unschedulable(SchedulerError):
    """The desired processes do not fit on the hosts; nothing was changed."""

    def __init__(self, app: str, ptype: str, reason: str):
        self.app = app
        self.type = ptype
        self.reason = reason
        super().__init__(f"cannot place {app} {ptype}: {reason}")

"""Errors raised by the router package; all derive from :class:`RouterError`."""
from __future__ import annotations


class RouterError(Exception):
    """Base class of every router error."""


class InvalidRoute(RouterError, ValueError):
    """An app's route (hostname, upstream or setting) is not acceptable; nothing was changed."""

    def __init__(self, app: str, field: str, value, reason: str):
        self.app = app
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"app {app!r}: invalid {field} {value!r}: {reason}")


class HostnameConflict(InvalidRoute):
    """A hostname is already routed to another app."""

    def __init__(self, app: str, hostname: str, owner: str):
        self.owner = owner
        super().__init__(app, "hostname", hostname, f"already routed to app {owner!r}")


class ConfigRejected(RouterError):
    """``nginx -t`` rejected a rendered configuration; it was not loaded."""

    def __init__(self, nginx_output: str):
        self.nginx_output = nginx_output
        super().__init__(f"nginx rejected the configuration: {nginx_output.strip()}")


class NginxError(RouterError):
    """nginx could not be started, stopped or reloaded."""

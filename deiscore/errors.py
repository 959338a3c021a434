"""Errors of the base package. One base class: :class:`InvalidInput`, raised by every rule of
:mod:`deiscore.validation`. Components map it once (the controller: 400 ``{"detail": ...}``; the builder:
the message ``git push`` shows) or wrap it into their own error (the scheduler's ``InvalidSpec``).
"""
from __future__ import annotations


class InvalidInput(ValueError):
    """A value breaks one of the platform's rules; nothing was changed.

    ``detail`` is the user-facing message: it names the field, the value and what is allowed (values that
    may be secrets, such as config values, are left out of it). ``field``, ``value`` and ``reason`` are the
    parts it is made from.
    """

    def __init__(self, field: str, value, reason: str, *, detail: str | None = None):
        self.field = field
        self.value = value
        self.reason = reason
        self.detail = detail or f"invalid {field} {value!r}: {reason}"
        super().__init__(self.detail)

"""Procfile parsing, as Heroku does it: ``type: command`` lines; blank lines and comments ignored.

Pure functions over text; the build fails with the offending line number on anything else.
"""
from __future__ import annotations

import re

from builder.errors import ProcfileError
from deiscore import validation
from deiscore.errors import InvalidInput
from deiscore.validation import PROCESS_TYPE  # noqa: F401 - the pattern, for builder.buildpacks

_LINE = re.compile(r"^([^:\s]*)[ \t]*:[ \t]*(.*?)\s*$")


def parse_procfile(text: str) -> dict[str, str]:
    """Return ``{process_type: command}`` in file order, or raise :class:`ProcfileError`."""
    types: dict[str, str] = {}
    first_seen: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            raise ProcfileError(number, raw, "expected 'type: command'")
        name, command = match.groups()
        if not name:
            raise ProcfileError(number, raw, "missing process type before ':'")
        try:  # the controller's rules: a Procfile it would refuse fails here, before anything is built
            validation.procfile_type(name)
            if command:
                validation.procfile_command(name, command)
        except InvalidInput as exc:
            raise ProcfileError(number, raw, exc.detail) from None
        if not command:
            raise ProcfileError(number, raw, f"empty command for process type {name!r}")
        if name in types:
            raise ProcfileError(number, raw, f"duplicate process type {name!r} "
                                             f"(first defined on line {first_seen[name]})")
        types[name] = command
        first_seen[name] = number
    return types


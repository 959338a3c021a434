"""Procfile parsing, as Heroku does it: ``type: command`` lines; blank lines and comments ignored.

Pure functions over text; the build fails with the offending line number on anything else.
"""
from __future__ import annotations

import re

from builder.errors import ProcfileError

# Process types become part of container names (``<app>_v<N>.<type>.<num>``), so they are
# restricted to what a container name and a ``deis scale type=N`` argument can carry.
PROCESS_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}")
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
        if not PROCESS_TYPE.fullmatch(name):
            raise ProcfileError(number, raw, f"invalid process type {name!r} "
                                             "(letters, digits, '-' and '_' only)")
        if not command:
            raise ProcfileError(number, raw, f"empty command for process type {name!r}")
        if name in types:
            raise ProcfileError(number, raw, f"duplicate process type {name!r} "
                                             f"(first defined on line {first_seen[name]})")
        types[name] = command
        first_seen[name] = number
    return types


def parse_release_yaml(text: str) -> dict[str, str]:
    """Read ``default_process_types`` from a buildpack's ``bin/release`` output.

    ``bin/release`` prints a small YAML document; buildpacks only ever emit a flat mapping
    under ``default_process_types``, so this reads exactly that subset rather than pulling
    in a YAML library. Anything else in the document (``addons``, ``config_vars``) is skipped.
    """
    types: dict[str, str] = {}
    inside = False
    for raw in text.splitlines():
        if not raw.strip() or raw.lstrip().startswith("#") or raw.strip() == "---":
            continue
        indented = raw[:1] in (" ", "\t")
        if not indented:
            key, _, rest = raw.partition(":")
            inside = key.strip() == "default_process_types" and rest.strip() in ("", "{}")
            continue
        if inside:
            name, sep, command = raw.strip().partition(":")
            if sep and PROCESS_TYPE.fullmatch(name.strip()) and command.strip():
                types[name.strip()] = _unquote(command.strip())
    return types


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        inner = value[1:-1]
        return inner.replace("''", "'") if value[0] == "'" else inner.replace('\\"', '"')
    return value

"""``.env`` files for config:pull / config:push, keeping values byte-exact.

Plain values are written as ``KEY=value``; values with newlines, quotes, backslashes,
``#`` or surrounding spaces are double-quoted with ``\\n``, ``\\"`` and ``\\\\`` escapes.
"""
from __future__ import annotations

import re

from deiscore.validation import CONFIG_KEY

LINE = re.compile(rf"(?:export\s+)?({CONFIG_KEY.pattern})=(.*)")
PLAIN = re.compile(r"[^\s\"'\\#]([^\"\\#\n\r]*[^\s\"\\#])?")
ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\", "$": "$"}


class DotenvError(ValueError):
    pass


def dumps(values: dict[str, str]) -> str:
    lines = []
    for key in sorted(values):
        value = values[key]
        if value == "" or PLAIN.fullmatch(value):
            lines.append(f"{key}={value}")
        else:
            escaped = (value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
                       .replace("\r", "\\r").replace("\t", "\\t"))
            lines.append(f'{key}="{escaped}"')
    return "".join(line + "\n" for line in lines)


def _unquote(raw: str, lineno: int) -> str:
    out, i = [], 1
    while i < len(raw):
        c = raw[i]
        if c == "\\" and i + 1 < len(raw):
            nxt = raw[i + 1]
            if nxt not in ESCAPES:
                raise DotenvError(f"line {lineno}: unknown escape \\{nxt}")
            out.append(ESCAPES[nxt])
            i += 2
        elif c == '"':
            if raw[i + 1:].strip() and not raw[i + 1:].strip().startswith("#"):
                raise DotenvError(f"line {lineno}: text after the closing quote")
            return "".join(out)
        else:
            out.append(c)
            i += 1
    raise DotenvError(f"line {lineno}: missing closing quote")


def loads(text: str) -> dict[str, str]:
    values = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = LINE.fullmatch(stripped)
        if not match:
            raise DotenvError(f"line {lineno}: expected KEY=value, got {stripped[:40]!r}")
        key, raw = match.groups()
        if raw.startswith('"'):
            values[key] = _unquote(raw, lineno)
        elif raw.startswith("'"):
            if not raw.endswith("'") or len(raw) < 2:
                raise DotenvError(f"line {lineno}: missing closing quote")
            values[key] = raw[1:-1]
        else:
            values[key] = raw.split(" #", 1)[0].strip()
    return values

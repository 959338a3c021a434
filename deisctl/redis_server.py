"""The platform's Redis: loopback only, and a password required for every command.

The password is in a configuration file only root reads (0600), handed to redis-server on its
standard input: never on the command line (every local user reads those in ``ps``), and never
readable by the Redis process's own account. ``deisctl up`` and the test fixtures start Redis the
same way: :func:`write_config`, then :func:`argv` with that file as stdin and the data directory
as the working directory.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

_PASSWORD = re.compile(r"[A-Za-z0-9_.~-]{16,256}")  # what read_or_create_secret makes; nothing to quote


def write_config(path: Path, port: int, password: str, *, persistent: bool = True) -> Path:
    """Write redis-server's configuration to ``path`` (0600); data goes to its working directory."""
    if not _PASSWORD.fullmatch(password):
        raise ValueError("the Redis password must be 16-256 URL-safe characters")
    lines = [
        f"port {port}",
        "bind 127.0.0.1",
        "protected-mode yes",
        "dir ./",
        f"requirepass {password}",
        f"appendonly {'yes' if persistent else 'no'}",
        'save ""',
    ]
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial = path.with_name(f".{path.name}.partial")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(partial, path)
    return path


def argv(binary: str = "redis-server") -> list[str]:
    """redis-server reading its configuration from stdin."""
    return [binary, "-"]

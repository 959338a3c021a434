"""Platform events per app (release created, deploy started/finished/failed, scaled, crashed).

Appended as log lines in the same shape as container output, so ``deis logs`` can merge both:
``2026-11-23T09:30:00.123456000Z myapp[deis-controller]: deployed v3``.
"""
from __future__ import annotations

import os
from collections import deque
from datetime import datetime, timezone
from pathlib import Path

SOURCE = "deis-controller"


def timestamp(now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.%f000Z")  # Docker's nanosecond form, so lines sort as text


class EventLog:
    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, app: str) -> Path:
        return self.root / f"{app}.log"

    def record(self, app: str, message: str, source: str = SOURCE) -> None:
        """Append ``message`` as ``app[source]`` (a one-off's output: ``release.v3``, ``cron.<id>``)."""
        self.root.mkdir(parents=True, exist_ok=True)
        line = f"{timestamp()} {app}[{source}]: {message}\n"
        # One write() per line with O_APPEND: concurrent writers never interleave within a line.
        fd = os.open(self.path(app), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)

    def tail(self, app: str, lines: int | None) -> list[str]:
        try:
            with open(self.path(app), encoding="utf-8", errors="replace") as f:
                kept = deque(f, maxlen=lines) if lines is not None else list(f)
        except FileNotFoundError:
            return []
        return [line.rstrip("\n") for line in kept]

    def forget(self, app: str) -> None:
        self.path(app).unlink(missing_ok=True)

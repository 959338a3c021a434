"""What the scheduler remembers between processes, under a state directory it is given:
per-app deploy locks, the deployed release (and its spec), the last release whose deploy failed,
crash/restart records of processes, and the scheduler's events per app (crashes, restarts).

Specs hold apps' config values in clear: every file here is 0600 in 0700 directories."""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections import deque
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

EVENT_SOURCE = "deis-scheduler"


@dataclass(frozen=True)
class CrashRecord:
    """Restarts of one process (``type.num``) by the reconcile loop, for backoff and ``deis ps``."""

    restarts: int = 0
    last_exit_code: int | None = None
    last_crash: float = 0.0  # epoch seconds
    next_attempt: float = 0.0  # epoch seconds: no restart before this


class SchedulerState:
    def __init__(self, root: Path | str):
        self.root = Path(root)

    @contextlib.contextmanager
    def app_lock(self, app: str, blocking: bool = True):
        """Exclusive lock of an app across processes; yields False if ``blocking`` is off and it is held."""
        path = self._dir("locks") / f"{app}.lock"
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def deployed_version(self, app: str) -> int | None:
        return self._read(app).get("version")

    def deployed_spec(self, app: str) -> dict | None:
        """The spec (``ReleaseSpec.as_dict()``) of the deployed release, for repairs without the controller."""
        return self._read(app).get("spec")

    def set_deployed(self, app: str, version: int, spec: dict | None = None) -> None:
        data = self._read(app)
        data["version"] = version
        data["spec"] = spec
        if data.get("failed") is not None and data["failed"] <= version:
            data["failed"] = None
        self._write(app, data)

    def draining(self, app: str, now: float | None = None) -> set[str]:
        """IDs of the app's old containers being drained and stopped by a finished cutover, outside the app's
        lock: no other change or repair touches them meanwhile (until their deadline, in case whoever
        drains them dies)."""
        now = time.time() if now is None else now
        return {cid for cid, until in self._read(app).get("draining", {}).items() if until > now}

    def add_draining(self, app: str, ids: list[str], until: float) -> None:
        data = self._read(app)
        now = time.time()
        kept = {cid: deadline for cid, deadline in data.get("draining", {}).items() if deadline > now}
        data["draining"] = {**kept, **{cid: until for cid in ids}}
        self._write(app, data)

    def failed_version(self, app: str) -> int | None:
        """The newest release whose deploy failed (and was reported); not retried automatically."""
        return self._read(app).get("failed")

    def set_failed_version(self, app: str, version: int) -> None:
        data = self._read(app)
        data["failed"] = version
        self._write(app, data)

    def crashes(self, app: str) -> dict[str, CrashRecord]:
        return {key: CrashRecord(**value) for key, value in self._read(app).get("crashes", {}).items()}

    def set_crashes(self, app: str, crashes: dict[str, CrashRecord]) -> None:
        data = self._read(app)
        data["crashes"] = {key: asdict(record) for key, record in sorted(crashes.items())}
        self._write(app, data)

    def forget(self, app: str) -> None:
        (self.root / "apps" / f"{app}.json").unlink(missing_ok=True)
        self._events_path(app).unlink(missing_ok=True)

    def record_event(self, app: str, message: str) -> None:
        """Append ``<timestamp> app[deis-scheduler]: message``, the line format of ``deis logs``."""
        path = self._events_path(app)
        self._dir("events")
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")  # Docker's nanosecond form
        # One write() per line with O_APPEND: concurrent writers never interleave within a line.
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, f"{stamp} {app}[{EVENT_SOURCE}]: {message}\n".encode())
        finally:
            os.close(fd)

    def events(self, app: str, lines: int | None = None) -> list[str]:
        try:
            with open(self._events_path(app), encoding="utf-8", errors="replace") as f:
                kept = deque(f, maxlen=lines) if lines is not None else list(f)
        except FileNotFoundError:
            return []
        return [line.rstrip("\n") for line in kept]

    def _events_path(self, app: str) -> Path:
        return self.root / "events" / f"{app}.log"

    def _read(self, app: str) -> dict:
        try:
            return json.loads((self.root / "apps" / f"{app}.json").read_text())
        except FileNotFoundError:
            return {}

    def _write(self, app: str, data: dict) -> None:
        path = self._dir("apps") / f"{app}.json"
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            f.write(json.dumps(data, indent=1, sort_keys=True))
        os.replace(tmp, path)

    def _dir(self, name: str) -> Path:
        """``root/name``, and the root, as directories only the platform enters (0700)."""
        path = self.root / name
        if not path.is_dir():
            for directory in (self.root, path):
                directory.mkdir(parents=True, exist_ok=True, mode=0o700)
                os.chmod(directory, 0o700)
        return path

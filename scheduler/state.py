"""What the scheduler remembers between processes, under a state directory it is given:
per-app deploy locks, the deployed release, and crash/restart records of processes."""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path


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
        path = self.root / "locks" / f"{app}.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as handle:
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

    def set_deployed_version(self, app: str, version: int) -> None:
        data = self._read(app)
        data["version"] = version
        self._write(app, data)

    def crashes(self, app: str) -> dict[str, CrashRecord]:
        return {key: CrashRecord(**value) for key, value in self._read(app).get("crashes", {}).items()}

    def set_crashes(self, app: str, crashes: dict[str, CrashRecord]) -> None:
        data = self._read(app)
        data["crashes"] = {key: asdict(record) for key, record in sorted(crashes.items())}
        self._write(app, data)

    def forget(self, app: str) -> None:
        (self.root / "apps" / f"{app}.json").unlink(missing_ok=True)

    def _read(self, app: str) -> dict:
        try:
            return json.loads((self.root / "apps" / f"{app}.json").read_text())
        except FileNotFoundError:
            return {}

    def _write(self, app: str, data: dict) -> None:
        path = self.root / "apps" / f"{app}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
        os.replace(tmp, path)

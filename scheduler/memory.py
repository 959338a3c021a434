"""An in-memory twin of the scheduler (:class:`scheduler.interface.SchedulerBackend`), for fast tests.

Hosts are plain :class:`~scheduler.spread.HostInfo` (memory, tags, health); placement and the plan of
each change are the real pure code (:func:`scheduler.placement.place` and
:func:`~scheduler.placement.converge`), with the same memory reservations as the real scheduler, so a
spec that does not fit here does not fit there either. Containers "run" as records; every call is
recorded in :attr:`MemoryScheduler.calls`; :meth:`MemoryScheduler.fail` makes the next call of an
operation raise the error given (nothing is changed then, as with the real ones).
"""
from __future__ import annotations

import itertools
import threading
from dataclasses import replace
from typing import Callable, Iterable, Iterator, Sequence

from scheduler.containers import (DEFAULT_HARDENING, LABEL_MEMORY, ONEOFF_TYPE, Container, Hardening,
                                  container_name, memory_limit, reserved_memory)
from scheduler.errors import InvalidSpec, Superseded
from scheduler.placement import Slot, converge, place
from scheduler.scheduler import DeployResult, ProcessStatus, describe_scale, process_state, restart_filter, \
    upstreams_of
from scheduler.session import SIGNALS, STDOUT
from scheduler.spec import ReleaseSpec, memory_bytes
from scheduler.spread import HostInfo

Progress = Callable[[str], None]
OnLive = Callable[[], None]
OPERATIONS = ("deploy", "scale", "restart", "destroy", "slots_for", "status", "run", "session", "detach",
              "logs", "events")  # fail()


class MemoryScheduler:
    """Runs releases on imaginary ``hosts`` (names: unlimited memory, no tags; or HostInfo)."""

    def __init__(self, hosts: Sequence[str | HostInfo] = ("local",), *, hardening: Hardening = DEFAULT_HARDENING):
        self.hosts = {h.name: h for h in (h if isinstance(h, HostInfo) else HostInfo(h, 1 << 62) for h in hosts)}
        self.hardening = hardening
        self.deployed: dict[str, ReleaseSpec] = {}  # app -> the spec it runs
        self.containers: dict[str, list[Container]] = {}  # app -> its containers
        self.calls: list[tuple] = []  # (operation, app, version or argument)
        self.output: dict[str, list[str]] = {}  # app -> log lines (tests append)
        self.event_lines: dict[str, list[str]] = {}
        self.run_result: tuple[bytes, int] = (b"", 0)  # what `run` writes and returns (sessions too)
        self.sessions: list[MemorySession] = []  # attached one-offs, newest last
        self._failures: dict[str, list[BaseException]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    # -- test controls ----------------------------------------------------------------------------

    def fail(self, operation: str, error: BaseException) -> None:
        """The next call of ``operation`` (one of OPERATIONS) raises ``error`` and changes nothing."""
        if operation not in OPERATIONS:
            raise ValueError(f"unknown operation {operation!r}")
        self._failures.setdefault(operation, []).append(error)

    def set_host(self, name: str, **changes) -> None:
        """Change a host (``healthy=False``, ``memory=...``, ``tags=...``); a new name adds one."""
        host = self.hosts.get(name) or HostInfo(name, 1 << 62)
        self.hosts[name] = replace(host, **changes)

    def crash(self, app: str, key: str, exit_code: int = 1) -> None:
        """Process ``key`` ("web.1") of ``app`` exits."""
        self.containers[app] = [replace(c, status="exited", exit_code=exit_code) if c.key == key else c
                                for c in self.containers.get(app, [])]

    def _call(self, operation: str, app: str, detail=None) -> None:
        self.calls.append((operation, app, detail))
        pending = self._failures.get(operation)
        if pending:
            raise pending.pop(0)

    # -- the interface ----------------------------------------------------------------------------

    def slots_for(self, spec: ReleaseSpec, current: Iterable[Container] = ()) -> list[Slot]:
        self._call("slots_for", spec.app, spec.version)
        return self._place(spec, current)

    def deploy(self, spec: ReleaseSpec, progress: Progress | None = None, *,
               on_live: OnLive | None = None) -> DeployResult:
        self._call("deploy", spec.app, spec.version)
        return self._deploy(spec, progress, on_live)

    def scale(self, spec: ReleaseSpec, progress: Progress | None = None, *,
              on_live: OnLive | None = None) -> DeployResult:
        self._call("scale", spec.app, spec.version)
        return self._deploy(spec, progress, on_live)

    def restart(self, spec: ReleaseSpec, target: str | None = None, progress: Progress | None = None, *,
                on_live: OnLive | None = None) -> DeployResult:
        self._call("restart", spec.app, target)
        match = restart_filter(target)
        with self._lock:
            running = [c for c in self.containers.get(spec.app, []) if c.version == spec.version and c.running]
            if not any(match(c) for c in running):
                raise InvalidSpec("restart target", target or "all", f"no running process of {spec.app} matches")
            return self._converge(spec, progress or _ignore, on_live, restart=match)

    def destroy(self, app: str, progress: Progress | None = None) -> list[str]:
        self._call("destroy", app)
        with self._lock:
            removed = [c.name for c in self.containers.pop(app, [])]
            self.deployed.pop(app, None)
        for name in removed:
            (progress or _ignore)(f"removed {name}")
        return removed

    def deployed_version(self, app: str) -> int | None:
        spec = self.deployed.get(app)
        return spec.version if spec else None

    def status(self, app: str) -> list[ProcessStatus]:
        self._call("status", app)
        spec = self.deployed.get(app)
        deployed = spec.version if spec else None
        return [ProcessStatus(name=c.name, app=app, type=c.type, num=c.num, release=c.version,
                              state=process_state(c, deployed), host=c.host, address=c.address, restarts=0,
                              exit_code=c.exit_code)
                for c in sorted(self.containers.get(app, []), key=lambda c: (c.type, c.num, c.version))]

    def run(self, spec: ReleaseSpec, command: str | Sequence[str], output: Callable[[bytes], None],
            timeout: float | None = None, on_start=None, before_remove=None) -> int:
        self._call("run", spec.app, command)
        data, exit_code = self.run_result
        if data:
            output(data)
        return exit_code

    def session(self, spec: ReleaseSpec, command: str | Sequence[str], *, tty: bool = False,
                size: tuple[int, int] | None = None, ttl: float = 86400) -> "MemorySession":
        self._call("session", spec.app, command)
        data, exit_code = self.run_result
        session = MemorySession(container_name(spec.app, spec.version, ONEOFF_TYPE, next(self._ids)), data,
                                exit_code, tty, size)
        self.sessions.append(session)
        return session

    def detach(self, spec: ReleaseSpec, command: str | Sequence[str], *, ttl: float = 86400) -> Container:
        self._call("detach", spec.app, command)
        num = 1000 + next(self._ids)
        container = Container(id=f"{num:012x}", name=container_name(spec.app, spec.version, ONEOFF_TYPE, num),
                              host=next(iter(self.hosts)), app=spec.app, version=spec.version, type=ONEOFF_TYPE,
                              num=num, status="running")
        with self._lock:
            self.containers.setdefault(spec.app, []).append(container)
        return container

    def logs(self, app: str, lines: int | None = 100, follow: bool = False,
             stop: threading.Event | None = None) -> Iterator[str]:
        self._call("logs", app, lines)
        found = self.output.get(app, [])
        yield from found[-lines:] if lines else ([] if lines == 0 else found)

    def deployed_version(self, app: str) -> int | None:
        spec = self.deployed.get(app)
        return spec.version if spec is not None else None

    def events(self, app: str, lines: int | None = 100) -> list[str]:
        self._call("events", app, lines)
        found = self.event_lines.get(app, [])
        return found[-lines:] if lines else ([] if lines == 0 else list(found))

    # -- what the real scheduler does, on records ---------------------------------------------------

    def _place(self, spec: ReleaseSpec, current: Iterable[Container]) -> list[Slot]:
        """As ``Scheduler.slots_for`` with a host pool: other apps' processes are the hosts' load."""
        limits = {t: memory_limit(spec, t, self.hardening) for t in spec.desired_scale()}
        memory = {t: memory_bytes(limit) for t, limit in limits.items() if limit}
        others = [c for app, found in self.containers.items() if app != spec.app for c in found if c.running]
        hosts = [replace(h, containers=sum(c.host == h.name for c in others),
                         reserved=sum(reserved_memory(c) for c in others if c.host == h.name))
                 for h in self.hosts.values()]
        return place(spec.desired_scale(), hosts, current, memory=memory, tags=spec.tags)

    def _deploy(self, spec: ReleaseSpec, progress: Progress | None, on_live: OnLive | None) -> DeployResult:
        with self._lock:
            deployed = self.deployed.get(spec.app)
            if deployed is not None and spec.version < deployed.version:
                raise Superseded(spec.app, spec.version, deployed.version)
            return self._converge(spec, progress or _ignore, on_live)

    def _converge(self, spec: ReleaseSpec, progress: Progress, on_live: OnLive | None,
                  restart: Callable[[Container], bool] = lambda c: False) -> DeployResult:
        actual = [c for c in self.containers.get(spec.app, []) if c.type != ONEOFF_TYPE]
        slots = self._place(spec, [c for c in actual if c.version == spec.version])
        plan = converge(spec.version, slots, actual)
        keep = [c for c in plan.keep if not restart(c)]
        renewed = [c for c in plan.keep if restart(c)]
        by_key = {s.key: s for s in slots}
        new = [self._start(spec, slot) for slot in [*plan.start, *(by_key[c.key] for c in renewed)]]
        retire = [*plan.retire, *renewed]
        progress(f"{spec.app} v{spec.version}: {describe_scale(spec)}; starting {len(new)}, "
                 f"keeping {len(keep)}, stopping {len(retire)}")
        self.containers[spec.app] = keep + new + [c for c in retire if c.running]
        self.deployed[spec.app] = spec
        if on_live is not None:
            on_live()
        self.containers[spec.app] = keep + new
        for c in retire:
            progress(f"stopped {c.name}")
        return DeployResult(spec.app, spec.version, tuple(c.name for c in new), tuple(c.name for c in retire),
                            tuple(upstreams_of(spec, keep + new)), 0.0)

    def _start(self, spec: ReleaseSpec, slot: Slot) -> Container:
        limit = memory_limit(spec, slot.type, self.hardening)
        number = next(self._ids)
        return Container(
            id=f"{number:012x}", name=container_name(spec.app, spec.version, slot.type, slot.num), host=slot.host,
            app=spec.app, version=spec.version, type=slot.type, num=slot.num, status="running",
            address=f"{slot.host}:{20000 + number}" if slot.type == spec.web_type else None,
            labels={LABEL_MEMORY: str(memory_bytes(limit))} if limit else {})


class MemorySession:
    """An attached one-off of the twin (:class:`scheduler.session.OneoffSession`'s interface): its output is
    ``run_result``; what it is sent (stdin, its end, sizes, signals) is kept for tests to look at."""

    def __init__(self, name: str, data: bytes, exit_code: int, tty: bool, size: tuple[int, int] | None):
        self.name, self.tty, self.sizes = name, tty, [size] if size else []
        self._data, self._exit_code = data, exit_code
        self.stdin, self.stdin_closed, self.signals, self.closed = bytearray(), False, [], False

    def output(self) -> Iterator[tuple[int, bytes]]:
        if self._data:
            yield STDOUT, self._data

    def write(self, data: bytes) -> None:
        self.stdin += data

    def close_stdin(self) -> None:
        self.stdin_closed = True

    def resize(self, cols: int, rows: int) -> None:
        self.sizes.append((cols, rows))

    def signal(self, name: str) -> None:
        if name not in SIGNALS:
            raise InvalidSpec("signal", name, f"expected one of {', '.join(sorted(SIGNALS))}")
        self.signals.append(name)

    def kill(self) -> None:
        self.signals.append("KILL")

    def wait(self) -> int:
        return self._exit_code

    def close(self) -> None:
        self.closed = True

    def __enter__(self) -> "MemorySession":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _ignore(line: str) -> None:
    pass

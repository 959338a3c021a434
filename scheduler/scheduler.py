"""Converge an app's containers to a release: deploy, scale, restart, status, destroy.

Every change runs under the app's lock and follows one cutover: start the new containers, wait until
the web ones are healthy (and every new one has passed its start check), switch the router to the new
set, drain, then stop what was replaced. If the new containers fail, they are removed and the old ones
keep serving.
"""
from __future__ import annotations

import hashlib
import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from scheduler import logs as app_logs
from scheduler.containers import (DEFAULT_HARDENING, ONEOFF_TYPE, Container, Hardening, container_name,
                                  memory_limit, plan_process, reserved_memory)
from scheduler.errors import DeployError, HostError, InvalidSpec, SchedulerError, Superseded
from scheduler.health import Unhealthy, run_check, wait_healthy, wait_uptime
from scheduler.hosts import Host
from scheduler.networks import AddressPool
from scheduler.oneoff import run_oneoff
from scheduler.placement import Slot, converge, place
from scheduler.pool import HostPool
from scheduler.session import OneoffSession, start_detached, start_session, sweep
from scheduler.spec import GATING_TYPES, PROCESS_TYPE, ReleaseSpec, memory_bytes
from scheduler.state import SchedulerState

log = logging.getLogger(__name__)

Progress = Callable[[str], None]
FAILED_LOG_LINES = 20


@dataclass(frozen=True)
class DeployResult:
    app: str
    version: int
    started: tuple[str, ...]
    stopped: tuple[str, ...]
    upstreams: tuple[str, ...]
    seconds: float


@dataclass(frozen=True)
class ProcessStatus:
    """One line of ``deis ps``."""

    name: str
    app: str
    type: str
    num: int
    release: int
    state: str  # up, starting, draining, crashed, restarting, stopping, created
    host: str
    address: str | None
    restarts: int
    exit_code: int | None


class Scheduler:
    """Runs releases on ``hosts`` and keeps ``router`` pointing at their web containers."""

    def __init__(self, hosts: Sequence[Host] | HostPool, router, state_dir: Path | str, domain: str, *,
                 health_timeout: float = 30.0, drain_seconds: float = 2.0, stop_timeout: float = 10.0,
                 max_parallel: int = 16, hardening: Hardening = DEFAULT_HARDENING, background_drain: bool = False,
                 start_check: float = 3.0):
        """``hosts``: a fixed list, or a :class:`HostPool` (registered hosts that come and go, with health).
        ``hardening``: what every container gets (default memory limit, pids limit, log rotation).
        ``background_drain``: ``deploy``/``scale`` return once the old containers are handed to a thread
        that drains and stops them (a deploy worker is free for the next deploy meanwhile).
        ``start_check``: seconds a new process must stay up before a change counts it as running
        (see :meth:`ReleaseSpec.start_check`: not the web type's, unless app.json asks)."""
        self.pool = hosts if isinstance(hosts, HostPool) else None
        if self.pool is None and not hosts:
            raise SchedulerError("a scheduler needs at least one host")
        self._fixed_hosts = None if self.pool else {host.name: host for host in hosts}
        self.router = router
        self.state = SchedulerState(state_dir)
        self.domain = domain
        self.health_timeout = health_timeout
        self.start_check = start_check
        self.drain_seconds = drain_seconds
        self.stop_timeout = stop_timeout
        self.max_parallel = max_parallel
        self.hardening = hardening
        self.background_drain = background_drain

    @classmethod
    def from_settings(cls, settings, docker_client, router=None, host_records=None, **kwargs) -> "Scheduler":
        """The platform's scheduler; containers labelled with this platform's home. Without
        ``host_records`` (a callable returning :class:`HostRecord`) the local engine is the only host."""
        from router import Router

        platform = platform_id(settings.home)
        state_dir = Path(settings.home) / "scheduler"
        via_bridge = settings.local_upstreams == "bridge"
        networks, ports = AddressPool.from_settings(settings), settings.published_ports
        if host_records is None:
            hosts = [Host("local", docker_client, "127.0.0.1", platform, via_bridge, networks=networks, ports=ports,
                          registry_auth=settings.registry_host_auth)]
        else:
            hosts = HostPool(host_records, connector(settings, docker_client), platform, state_dir,
                             local_via_bridge=via_bridge, networks=networks, ports=ports,
                             registry_auth=settings.registry_host_auth)
        kwargs.setdefault("hardening", Hardening.from_settings(settings))
        kwargs.setdefault("start_check", settings.start_check)
        return cls(hosts, router or Router.from_settings(settings), state_dir, settings.domain, **kwargs)

    @property
    def hosts(self) -> dict[str, Host]:
        """Every host by name (down ones included)."""
        return self._fixed_hosts if self.pool is None else self.pool.hosts()

    def live_hosts(self) -> dict[str, Host]:
        """The hosts that answer (a down host's containers are unknown until it is back)."""
        if self.pool is None:
            return self._fixed_hosts
        down = self.pool.down()
        return {name: host for name, host in self.pool.hosts().items() if name not in down}

    def slots_for(self, spec: ReleaseSpec, current: Iterable[Container]) -> list[Slot]:
        """Where each process of ``spec`` should run, given its containers that run now."""
        limits = {t: memory_limit(spec, t, self.hardening) for t in spec.desired_scale()}
        memory = {t: memory_bytes(limit) for t, limit in limits.items() if limit}
        return place(spec.desired_scale(), self.placement_hosts(spec.app), current, memory=memory, tags=spec.tags)

    def placement_hosts(self, app: str | None = None) -> list:
        """What placement sees: names for fixed hosts; capacity, tags, health and load for a pool. Load:
        running containers, and the memory reserved by those of other apps than ``app`` (placement
        counts ``app``'s own processes itself)."""
        if self.pool is None:
            return list(self._fixed_hosts)
        live = self.live_hosts()

        def load(host: Host) -> tuple[int, int]:
            running = [c for c in host.containers() if c.running]
            return len(running), sum(reserved_memory(c) for c in running if c.app != app)
        loads = self._parallel(load, live.values(), return_exceptions=True)
        down = {name for name, found in zip(live, loads) if isinstance(found, BaseException)}
        return [info if info.name not in down else replace(info, healthy=False) for info in
                self.pool.infos({name: found for name, found in zip(live, loads) if name not in down})]

    # -- queries -------------------------------------------------------------------------------

    def hostnames(self, spec: ReleaseSpec) -> list[str]:
        return [f"{spec.app}.{self.domain}", *spec.domains]

    def containers(self, app: str) -> list[Container]:
        """Every container of ``app`` on every host (one-off ones included)."""
        hosts = list(self.live_hosts().values())
        found = self._parallel(lambda h: h.containers(app), hosts, return_exceptions=True)
        containers = []
        for host, result in zip(hosts, found):
            if isinstance(result, HostError):  # not marked down yet: its processes count as missing
                log.warning("%s: %s", host.name, result)
                continue
            if isinstance(result, BaseException):
                raise result
            containers.extend(result)
        return containers

    def status(self, app: str) -> list[ProcessStatus]:
        deployed = self.state.deployed_version(app)
        crashes = self.state.crashes(app)
        draining = self.state.draining(app)
        result = []
        for c in sorted(self.containers(app), key=lambda c: (c.type == ONEOFF_TYPE, c.type, c.num, c.version)):
            record = crashes.get(c.key) if c.version == deployed else None
            result.append(ProcessStatus(
                name=c.name, app=app, type=c.type, num=c.num, release=c.version,
                state="draining" if c.id in draining and c.running else process_state(c, deployed), host=c.host, address=c.address,
                restarts=record.restarts if record else 0, exit_code=c.exit_code))
        return result

    # -- changes -------------------------------------------------------------------------------

    def deploy(self, spec: ReleaseSpec, progress: Progress | None = None, *,
               on_live: Callable[[], None] | None = None) -> DeployResult:
        """Bring ``spec`` up with zero downtime; raise DeployError (old release kept) or Superseded.
        ``on_live()`` is called once the router serves ``spec``, before the old containers drain."""
        progress = progress or _ignore
        retiring: list[Container] = []
        with self.state.app_lock(spec.app):
            deployed = self.state.deployed_version(spec.app)
            if deployed is not None and spec.version < deployed:
                raise Superseded(spec.app, spec.version, deployed)
            try:
                result = self.converge(spec, progress, on_live=on_live, retire_later=retiring)
            except DeployError:
                if spec.version != deployed:
                    self.state.set_failed_version(spec.app, spec.version)
                raise
        # the app's next change need not wait for this
        if self.background_drain and retiring:
            threading.Thread(target=self.drain_and_stop, args=(retiring, lambda line: log.info("%s", line)),
                             name=f"drain-{spec.app}", daemon=True).start()
        else:
            self.drain_and_stop(retiring, progress)
        return result

    def scale(self, spec: ReleaseSpec, progress: Progress | None = None, *,
              on_live: Callable[[], None] | None = None) -> DeployResult:
        """Apply ``spec.scale``: add or remove containers, leaving the others untouched."""
        return self.deploy(spec, progress, on_live=on_live)

    def restart(self, spec: ReleaseSpec, target: str | None = None, progress: Progress | None = None, *,
                on_live: Callable[[], None] | None = None) -> DeployResult:
        """Replace the containers of ``target`` ("web", "web.2" or all when None) with fresh ones."""
        match = restart_filter(target)
        progress = progress or _ignore
        with self.state.app_lock(spec.app):
            current = [c for c in self.containers(spec.app) if c.version == spec.version and c.running]
            if not any(match(c) for c in current):
                raise InvalidSpec("restart target", target or "all", f"no running process of {spec.app} matches")
            return self.converge(spec, progress, restart=match, on_live=on_live)

    def destroy(self, app: str, progress: Progress | None = None) -> list[str]:
        """Remove every container, the networks and the route of ``app``; return the removed container
        names. A host that is down keeps the app's network (an empty one, of this app only)."""
        progress = progress or _ignore
        with self.state.app_lock(app):
            if self.router is not None:
                self.router.remove_app(app)
            containers = self.containers(app)
            self.remove(containers)
            hosts = list(self.live_hosts().values())
            for host, result in zip(hosts, self._parallel(lambda h: h.remove_network(app), hosts,
                                                          return_exceptions=True)):
                if isinstance(result, BaseException):
                    log.warning("%s: the network of %s stays: %s", host.name, app, result)
            self.state.forget(app)
        for c in containers:
            progress(f"removed {c.name}")
        return [c.name for c in containers]

    def run(self, spec: ReleaseSpec, command: str | Sequence[str], output: Callable[[bytes], None],
            timeout: float | None = None, on_start=None, before_remove=None) -> int:
        """``deis run``: run ``command`` in a one-off container of ``spec``; return its exit code."""
        host = next(iter(self.hosts.values()))
        return run_oneoff(host, spec, command, output, timeout, self.hardening, on_start, before_remove)

    def session(self, spec: ReleaseSpec, command: str | Sequence[str], *, tty: bool = False,
                size: tuple[int, int] | None = None, ttl: float = 86400) -> OneoffSession:
        """``deis run`` attached: ``command`` in a one-off container of ``spec`` with its stdin open (a TTY of
        ``size`` = (cols, rows) if ``tty``), on the host ``run`` uses; removed by a sweep after ``ttl``
        seconds if its session never ends. See :mod:`scheduler.session`."""
        host = next(iter(self.hosts.values()))
        return start_session(host, spec, command, tty=tty, size=size, ttl=ttl, hardening=self.hardening)

    def detach(self, spec: ReleaseSpec, command: str | Sequence[str], *, ttl: float = 86400) -> Container:
        """``deis run --detach``: ``command`` in the background, output to ``logs``, removed after ``ttl``
        seconds (expired one-offs of the host are swept first)."""
        host = next(iter(self.hosts.values()))
        sweep([host])
        return start_detached(host, spec, command, ttl=ttl, hardening=self.hardening)

    def deployed_version(self, app: str) -> int | None:
        """The release the router was last switched to for ``app`` (None: never deployed)."""
        return self.state.deployed_version(app)

    def events(self, app: str, lines: int | None = 100) -> list[str]:
        """The scheduler's own events of ``app`` (crashes, restarts), formatted like log lines."""
        return self.state.events(app, lines)

    def logs(self, app: str, lines: int | None = 100, follow: bool = False,
             stop: threading.Event | None = None) -> Iterator[str]:
        """Formatted output lines of the app's containers, oldest first; with ``follow``, keeps going
        (including containers started later) until the generator is closed or ``stop`` is set."""
        if not follow:
            for line in app_logs.tail(self.containers(app), self.hosts, lines):
                yield line.format(app)
            return
        for line in app_logs.follow(lambda: self.containers(app), self.hosts, lines or 0, stop=stop):
            yield line.format(app)

    def sync_router(self, spec: ReleaseSpec) -> bool:
        """Point the router at the running web containers of ``spec``; True when it changed."""
        if self.router is None:
            return False
        listed_at = time.monotonic()  # a container that dies after this listing stays out (the death watch)
        current = [c for c in self.containers(spec.app) if c.version == spec.version]
        return self.router.set_app_routes(spec.app, self.hostnames(spec), upstreams_of(spec, current), spec.routing,
                                          listed_at=listed_at)

    # -- the cutover ---------------------------------------------------------------------------

    def converge(self, spec: ReleaseSpec, progress: Progress,
                 restart: Callable[[Container], bool] = lambda c: False,
                 on_live: Callable[[], None] | None = None,
                 retire_later: list[Container] | None = None) -> DeployResult:
        """The cutover itself; the caller holds ``self.state.app_lock(spec.app)``. With ``retire_later``,
        the old containers are handed over there (and marked draining) instead of drained and stopped
        here, for the caller to do once it has released the lock."""
        on_live = on_live or (lambda: None)
        began = time.monotonic()
        draining = self.state.draining(spec.app)
        actual = [c for c in self.containers(spec.app) if c.type != ONEOFF_TYPE and c.id not in draining]
        slots = self.slots_for(spec, [c for c in actual if c.version == spec.version])
        plan = converge(spec.version, slots, actual)
        keep = [c for c in plan.keep if not restart(c)]
        renewed = [c for c in plan.keep if restart(c)]
        by_key = {s.key: s for s in slots}
        # Replacements of running processes get a temporary name until the old container is gone.
        starts = [(slot, None) for slot in plan.start] + [
            (by_key[c.key], f"{c.name}.{uuid.uuid4().hex[:6]}") for c in renewed]
        retire = list(plan.retire) + renewed
        if not starts and not retire and not plan.replace:
            self.sync_router(spec)
            self.state.set_deployed(spec.app, spec.version, spec.as_dict())
            on_live()
            return DeployResult(spec.app, spec.version, (), (), tuple(upstreams_of(spec, keep)),
                                time.monotonic() - began)
        progress(f"{spec.app} v{spec.version}: {describe_scale(spec)}; starting {len(starts)}, "
                 f"keeping {len(keep)}, stopping {len(retire)}")
        self.remove(plan.replace)
        new = self.start_processes(spec, starts, progress)
        if keep and starts:
            # A kept container that died while the new ones started is out of the route already (the
            # death watch): routing it again would hand its freed address to whoever takes it next.
            running = {c.id for c in self.containers(spec.app) if c.running}
            keep = [c for c in keep if c.id in running]
        upstreams = upstreams_of(spec, keep + new)
        if self.router is not None:
            try:
                self.router.set_app_routes(spec.app, self.hostnames(spec), upstreams, spec.routing)
            except Exception as exc:
                self.remove(new)
                raise DeployError(spec.app, spec.version, f"router update failed: {exc}") from exc
            progress(f"router: {', '.join(self.hostnames(spec))} -> {len(upstreams)} web container(s)")
        if spec.version != self.state.deployed_version(spec.app):
            self.state.set_crashes(spec.app, {})
        self.state.set_deployed(spec.app, spec.version, spec.as_dict())
        on_live()
        # Containers of older releases may drain after the lock is released: no new container takes their
        # names. This release's own (a scale down, replacements) go now, so that the next change may reuse
        # their names at once.
        if retire:  # `deis ps` shows them draining; no other change or repair touches them meanwhile
            self.state.add_draining(spec.app, [c.id for c in retire],
                                    until=time.time() + self.drain_seconds + self.stop_timeout + 60)
        later = []
        if retire_later is not None:
            later = [c for c in retire if c.version != spec.version]
            retire_later.extend(later)
        self.drain_and_stop([c for c in retire if c not in later], progress)
        for c in new:
            canonical = container_name(spec.app, spec.version, c.type, c.num)
            if c.name != canonical:
                self.hosts[c.host].rename(c.id, canonical)
        seconds = time.monotonic() - began
        progress(f"{spec.app} v{spec.version} is running ({seconds:.1f}s)")
        return DeployResult(spec.app, spec.version, tuple(c.name for c in new), tuple(c.name for c in retire),
                            tuple(upstreams), seconds)

    def drain_and_stop(self, retire: list[Container], progress: Progress) -> None:
        """Let requests in flight on old web containers (out of the route already) finish, then stop them."""
        if not retire:
            return
        if self.drain_seconds and any(c.address for c in retire):
            progress(f"draining {sum(1 for c in retire if c.address)} old web container(s) for {self.drain_seconds:g}s")
            time.sleep(self.drain_seconds)
        self.stop(retire)
        for c in retire:
            progress(f"stopped {c.name}")

    def start_processes(self, spec: ReleaseSpec, starts: list[tuple[Slot, str | None]],
                        progress: Progress, start_check: bool = True) -> list[Container]:
        """Start containers for ``(slot, name or None)`` pairs, wait for the web ones to be healthy and,
        with ``start_check``, for each to stay up its start check (:meth:`ReleaseSpec.start_check`); all
        in parallel, so workers' start checks overlap the web health checks.

        On any failure they are all removed and DeployError says why, with the failed one's logs.
        """
        platform = next(iter(self.hosts.values())).platform
        hostname = self.hostnames(spec)[0]
        routed = self.routed_ports()

        def start_one(item: tuple[Slot, str | None]) -> Container:
            slot, name = item
            host = self.hosts[slot.host]
            container = host.run(plan_process(spec, slot.type, slot.num, platform, name, self.hardening),
                                 avoid_ports=routed.get(host.address, ()))
            began = time.monotonic()
            progress(f"started {container.name} on {slot.host}")

            def alive() -> tuple[bool, str]:
                return self._alive(container)
            if slot.type == spec.web_type:
                # app.json's startup/readiness checks of the type replace the HEALTHCHECK_* config check;
                # either way the port must accept connections first (no attempt is spent on a booting app).
                gating = spec.checks_for(slot.type, *GATING_TYPES)
                wait_healthy(lambda: container.address, hostname, None if gating else spec.healthcheck,
                             self.health_timeout, alive, port=spec.port)
                for check in (c for c in gating if c.path):
                    run_check(lambda: container.address, hostname, check, slot.type, began, alive)
                progress(f"{container.name} is healthy ({time.monotonic() - began:.1f}s)")
            uptime = spec.start_check(slot.type, self.start_check) if start_check else 0.0
            if uptime:
                wait_uptime(uptime, began, alive)
                progress(f"{container.name} stayed up {uptime:g}s")
            return container

        results = self._parallel(start_one, starts, return_exceptions=True)
        started = [r for r in results if isinstance(r, Container)]
        failures = [(item, r) for item, r in zip(starts, results) if isinstance(r, Exception)]
        if not failures:
            return started
        # Containers that failed their health check are still there: collect their logs, then remove all.
        started_ids = {c.id for c in started}
        running_failed = {c.key: c for c in self._new_containers(spec, starts) if c.id not in started_ids}
        logs = {}
        for item, error in failures:
            slot, _ = item
            failed = running_failed.get(slot.key)
            if failed is not None:
                logs[failed.name] = self.hosts[failed.host].logs(failed.id, tail=FAILED_LOG_LINES)
        self.remove(started + list(running_failed.values()))
        (slot, _), error = failures[0]
        reason = error.reason if isinstance(error, Unhealthy) else str(error)
        progress(f"{spec.app} v{spec.version} failed: {slot.key}: {reason}")
        raise DeployError(spec.app, spec.version, f"{slot.type}.{slot.num}: {reason}", logs)

    def routed_ports(self) -> dict[str, set[int]]:
        """Ports in the router's routes, by address: never given to a new container, for the router may
        still send an app's requests there (its container just died)."""
        ports: dict[str, set[int]] = {}
        for route in self.router.routes() if self.router is not None else ():
            for upstream in route.upstreams:
                address, _, port = upstream.rpartition(":")
                ports.setdefault(address, set()).add(int(port))
        return ports

    def remove(self, containers: Iterable[Container]) -> None:
        """Remove containers at once (SIGKILL), in parallel."""
        self._parallel(lambda c: self.hosts[c.host].remove(c.id), containers)

    def stop(self, containers: Iterable[Container]) -> None:
        """SIGTERM, SIGKILL after the stop timeout, remove; all in parallel."""
        self._parallel(lambda c: self.hosts[c.host].stop(c.id, self.stop_timeout), containers)

    def _new_containers(self, spec: ReleaseSpec, starts: list[tuple[Slot, str | None]]) -> list[Container]:
        names = {name or container_name(spec.app, spec.version, s.type, s.num) for s, name in starts}
        return [c for c in self.containers(spec.app) if c.name in names]

    def _alive(self, container: Container) -> tuple[bool, str]:
        current = self.hosts[container.host].inspect(container.id)
        if current is None:
            return False, "was removed"
        if current.running:
            return True, "running"
        return False, f"exited with code {current.exit_code}" if current.exit_code is not None else current.status

    def _parallel(self, fn, items: Iterable, return_exceptions: bool = False) -> list:
        items = list(items)
        if not items:
            return []
        with ThreadPoolExecutor(max_workers=min(self.max_parallel, len(items))) as pool:
            futures = [pool.submit(fn, item) for item in items]
        results = []
        for future in futures:
            error = future.exception()
            if error is not None and not return_exceptions:
                raise error
            results.append(error if error is not None else future.result())
        return results


REMOTE_TIMEOUT = 10.0  # seconds per engine call over SSH (stops add their grace period on top)


def connector(settings, local_client):
    """How a :class:`HostPool` reaches a host's engine: the local client, or SSH with pinned keys."""
    from scheduler.ssh import docker_over_ssh, platform_key

    key, known_hosts = platform_key(settings.home), Path(settings.home) / "ssh" / "known_hosts"

    def connect(record, timeout: float = REMOTE_TIMEOUT):
        if record.url is None:
            return local_client
        return docker_over_ssh(record.url, key, known_hosts, timeout=timeout, connect_timeout=min(timeout, 5.0))
    return connect


def platform_id(home: Path | str) -> str:
    """Label value separating platforms that share a Docker engine (one per DEIS_HOME)."""
    return "deis-" + hashlib.sha256(str(Path(home).resolve()).encode()).hexdigest()[:12]


def upstreams_of(spec: ReleaseSpec, containers: Iterable[Container]) -> list[str]:
    return sorted(c.address for c in containers
                  if c.type == spec.web_type and c.version == spec.version and c.running and c.address)


def describe_scale(spec: ReleaseSpec) -> str:
    scale = spec.desired_scale()
    return " ".join(f"{ptype}={count}" for ptype, count in scale.items()) or "no processes"


def restart_filter(target: str | None) -> Callable[[Container], bool]:
    """Which running containers ``ps:restart [type[.num]]`` replaces."""
    if target is None:
        return lambda c: True
    ptype, _, num = target.partition(".")
    if not PROCESS_TYPE.fullmatch(ptype) or (num and not num.isdigit()):
        raise InvalidSpec("restart target", target, "expected TYPE or TYPE.NUM, e.g. web or web.2")
    if num:
        return lambda c: c.type == ptype and c.num == int(num)
    return lambda c: c.type == ptype


def process_state(container: Container, deployed: int | None) -> str:
    """What ``deis ps`` shows for a container, given the release that is deployed."""
    if container.status == "running":
        if deployed is not None and container.version > deployed:
            return "starting"
        if deployed is not None and container.version < deployed:
            return "draining"
        return "up"
    if container.status in ("exited", "dead"):
        return "crashed"
    return {"restarting": "restarting", "removing": "stopping", "created": "starting"}.get(
        container.status, container.status)


def _ignore(line: str) -> None:
    pass

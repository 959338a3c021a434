"""The Docker Swarm backend (``DEIS_SCHEDULER=swarm``): for users who outgrow SSH hosts.

One swarm service per process type, ``<app>_<type>``. A release updates the services in place with
Swarm's rolling update, *start-first* and one task at a time: a new task must pass its health check
(the port accepts connections, then the app's HTTP check) before Swarm stops an old one, and a
failed update rolls back by itself, so the previous release keeps serving. Web tasks publish their
port in host mode (the ingress routing mesh is not used); while an update runs, the router follows
the running web tasks every quarter second, and nginx's passive failover covers a task that stops
between two syncs.

Implements :class:`scheduler.interface.SchedulerBackend`, like :class:`scheduler.scheduler.Scheduler`
(plus ``sync_router``); ``deis ps`` names tasks ``<app>_v<N>.<type>.<slot>``.
"""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import docker.errors
import requests

from scheduler.containers import CONTAINER_PORT, DEFAULT_HARDENING, LABEL_APP, LABEL_PLATFORM, LABEL_RELEASE, \
    LABEL_TYPE, Container, Hardening, container_name, plan_process
from scheduler.errors import DeployError, HostError, InvalidSpec, SchedulerError, Superseded
from scheduler.hosts import Host
from scheduler.oneoff import run_oneoff
from scheduler.placement import Slot
from scheduler.scheduler import DeployResult, ProcessStatus, platform_id
from scheduler.session import OneoffSession, start_detached, start_session, sweep
from scheduler.spec import ReleaseSpec, memory_bytes
from scheduler.state import SchedulerState

log = logging.getLogger(__name__)

Progress = Callable[[str], None]
OnLive = Callable[[], None]
SWARM = "swarm"  # the one host placement sees: the swarm's own scheduler picks the nodes
SECOND = 1_000_000_000
FAILED_STATES = {"failed", "rejected", "orphaned"}
STARTING_STATES = {"new", "pending", "assigned", "accepted", "preparing", "ready", "starting"}


def service_name(app: str, ptype: str) -> str:
    return f"{app}_{ptype}"


def health_test(spec: ReleaseSpec, host_header: str) -> list[str]:
    """The task's health check, run inside it with the stack's python3 (no shell, validated values)."""
    port_check = "import os,socket;socket.create_connection(('127.0.0.1',int(os.environ['PORT'])),1)"
    check = spec.healthcheck
    if check is None:
        return ["CMD", "python3", "-c", port_check]
    code = ("import os,sys,http.client as h;"
            f"c=h.HTTPConnection('127.0.0.1',int(os.environ['PORT']),timeout={float(check.timeout)!r});"
            f"c.request('GET',{check.path!r},headers={{'Host':{host_header!r}}});"
            f"sys.exit(c.getresponse().status!={int(check.status)})")
    return ["CMD", "python3", "-c", code]


def service_spec(spec: ReleaseSpec, ptype: str, platform: str, domain: str, drain_seconds: float,
                 hardening: Hardening = DEFAULT_HARDENING) -> dict:
    """Keyword arguments of ``client.services.create`` for one process type of ``spec`` (pure).

    Tasks are hardened like the local scheduler's containers, as far as a 20.10 engine's services
    allow: capabilities, memory, pids and log rotation, but no no-new-privileges (API 1.46)."""
    plan = plan_process(spec, ptype, 1, platform, hardening=hardening)
    resources = docker.types.Resources(mem_limit=memory_bytes(plan.memory) if plan.memory else None,
                                       cpu_limit=plan.nano_cpus)
    resources.setdefault("Limits", {})["Pids"] = hardening.pids
    labels = {k: v for k, v in plan.labels.items() if k != "deis.num"}
    kwargs = {
        "image": plan.image, "name": service_name(spec.app, ptype), "args": plan.command,
        "env": [f"{k}={v}" for k, v in plan.env.items()], "labels": labels, "container_labels": labels,
        "mode": docker.types.ServiceMode("replicated", replicas=spec.scale.get(ptype, 0)),
        "init": True, "stop_grace_period": int(10 * SECOND),
        "restart_policy": docker.types.RestartPolicy(condition="any", delay=int(2 * SECOND)),
        "update_config": docker.types.UpdateConfig(parallelism=1, delay=int(drain_seconds * SECOND),
                                                   order="start-first", failure_action="rollback",
                                                   monitor=int(2 * SECOND)),
        "rollback_config": docker.types.RollbackConfig(parallelism=1, order="start-first"),
        "resources": resources,
        "cap_drop": ["ALL"], "cap_add": list(hardening.capabilities),
        "log_driver": "json-file", "log_driver_options": hardening.log_options,
    }
    if plan.publish:
        check = spec.healthcheck
        kwargs["endpoint_spec"] = {"Ports": [{"Protocol": "tcp", "TargetPort": spec.port,
                                              "PublishMode": "host"}]}
        kwargs["healthcheck"] = docker.types.Healthcheck(
            test=health_test(spec, f"{spec.app}.{domain}"),
            interval=int((check.interval if check else 0.5) * SECOND),
            timeout=int((check.timeout if check else 2) * SECOND), retries=3,
            start_period=int(((check.initial_delay if check else 0) + 30) * SECOND))
    return kwargs


class SwarmScheduler:
    """Runs releases as swarm services on the manager ``client`` talks to."""

    def __init__(self, client, router, state_dir: Path | str, domain: str, platform: str, *,
                 deploy_timeout: float = 180.0, drain_seconds: float = 2.0, poll: float = 0.25,
                 hardening: Hardening = DEFAULT_HARDENING, registry: str | None = None,
                 registry_auth: dict | None = None):
        """``registry_auth``: the account the swarm's nodes pull ``registry``'s images with."""
        self.client = client
        self.router = router
        self.state = SchedulerState(state_dir)
        self.domain = domain
        self.platform = platform
        self.deploy_timeout = deploy_timeout
        self.drain_seconds = drain_seconds
        self.poll = poll
        self.hardening = hardening
        self.registry, self.registry_auth, self._logged_in = registry, registry_auth, False
        self.manager = Host(SWARM, client, "127.0.0.1", platform=platform,  # for one-off containers
                            registry_auth=registry_auth)

    @classmethod
    def from_settings(cls, settings, client, router=None, **kwargs) -> "SwarmScheduler":
        from router import Router

        kwargs.setdefault("hardening", Hardening.from_settings(settings))
        kwargs.setdefault("registry", settings.registry)
        kwargs.setdefault("registry_auth", settings.registry_host_auth)
        return cls(client, router or Router.from_settings(settings), Path(settings.home) / "scheduler",
                   settings.domain, platform_id(settings.home), **kwargs)

    # -- changes -------------------------------------------------------------------------------

    def deploy(self, spec: ReleaseSpec, progress: Progress | None = None, *,
               on_live: OnLive | None = None) -> DeployResult:
        """Update the services to ``spec``; ``on_live`` once the rolling update is done and the router
        serves only the new tasks (Swarm stops the old tasks itself, during the update)."""
        progress = progress or (lambda line: None)
        with self.state.app_lock(spec.app):
            deployed = self.state.deployed_version(spec.app)
            if deployed is not None and spec.version < deployed:
                raise Superseded(spec.app, spec.version, deployed)
            return self._converge(spec, progress, on_live=on_live)

    def scale(self, spec: ReleaseSpec, progress: Progress | None = None, *,
              on_live: OnLive | None = None) -> DeployResult:
        return self.deploy(spec, progress, on_live=on_live)

    def restart(self, spec: ReleaseSpec, target: str | None = None, progress: Progress | None = None, *,
                on_live: OnLive | None = None) -> DeployResult:
        """A rolling restart of a process type (``web``) or all of them; single slots restart their type."""
        progress = progress or (lambda line: None)
        ptype = (target or "").split(".")[0] or None
        services = self._services(spec.app)
        if ptype is not None and ptype not in services:
            raise InvalidSpec("restart target", target, f"no running process of {spec.app} matches")
        with self.state.app_lock(spec.app):
            return self._converge(spec, progress, force={ptype} if ptype else set(services), on_live=on_live)

    def slots_for(self, spec: ReleaseSpec, current: Iterable[Container] = ()) -> list[Slot]:
        """Every process of ``spec`` goes to the swarm, whose own scheduler picks a node per task (and
        keeps a task pending until one has room): there is no fit check before a change here."""
        return [Slot(ptype, num, SWARM) for ptype, count in spec.desired_scale().items()
                for num in range(1, count + 1)]

    def destroy(self, app: str, progress: Progress | None = None) -> list[str]:
        progress = progress or (lambda line: None)
        removed = []
        with self.state.app_lock(app):
            if self.router is not None:
                self.router.remove_app(app)
            for name, service in self._services(app).items():
                service.remove()
                removed.append(service.name)
                progress(f"removed service {service.name}")
            self.state.forget(app)
        return removed

    def _log_in(self) -> None:
        """The SDK sends a service's nodes the credentials of the client's login for the image's registry
        (``X-Registry-Auth``): once per scheduler, before the first service change."""
        if self.registry_auth is None or self._logged_in:
            return
        try:
            self.client.login(registry=self.registry, **self.registry_auth)
        except (docker.errors.DockerException, requests.RequestException) as exc:
            raise HostError("swarm", f"logging in to the registry {self.registry}", str(exc)) from exc
        self._logged_in = True

    def _converge(self, spec: ReleaseSpec, progress: Progress, force: set[str] = frozenset(),
                  on_live: OnLive | None = None) -> DeployResult:
        start = time.monotonic()
        self._log_in()
        services = self._services(spec.app)
        wanted = {t for t, n in spec.scale.items() if n > 0} | set(services)
        changed = []
        for ptype in sorted(wanted):
            kwargs = service_spec(spec, ptype, self.platform, self.domain, self.drain_seconds, self.hardening)
            replicas = spec.scale.get(ptype, 0)
            try:
                if ptype in services:
                    if ptype in force:
                        kwargs["force_update"] = True  # the SDK turns this into ForceUpdate + 1
                    services[ptype].update(**kwargs)
                    progress(f"updating service {kwargs['name']}: v{spec.version}, {ptype}={replicas} "
                             "(rolling, start-first)")
                else:
                    self.client.services.create(**kwargs)
                    progress(f"created service {kwargs['name']}: v{spec.version}, {ptype}={replicas}")
            except (docker.errors.DockerException, requests.RequestException) as exc:
                raise HostError("swarm", f"updating {kwargs['name']}", str(exc)) from exc
            changed.append(ptype)
        for ptype in changed:
            self._wait(spec, ptype, progress, fresh=ptype not in services)
        self.sync_router(spec)
        self.state.set_deployed(spec.app, spec.version)
        if on_live is not None:
            on_live()
        seconds = time.monotonic() - start
        progress(f"{spec.app} v{spec.version} is running ({seconds:.1f}s)")
        return DeployResult(spec.app, spec.version, tuple(changed), (),
                            tuple(self._upstreams(spec.app, spec.web_type, spec.port)), seconds)

    def _wait(self, spec: ReleaseSpec, ptype: str, progress: Progress, fresh: bool) -> None:
        """Until the service's update completes (router following web tasks); DeployError if it fails."""
        name = service_name(spec.app, ptype)
        deadline = time.monotonic() + self.deploy_timeout
        while time.monotonic() < deadline:
            service = self.client.services.get(name)
            update = (service.attrs.get("UpdateStatus") or {}).get("State")
            if ptype == spec.web_type:
                self.sync_router(spec)
            if update in ("rollback_started", "rollback_completed", "rollback_paused", "paused"):
                self._wait_rollback(name, deadline)
                raise DeployError(spec.app, spec.version, f"{name} did not become healthy; rolled back",
                                  self._failed_logs(name))
            template = service.attrs["Spec"]["TaskTemplate"]
            replicas = spec.scale.get(ptype, 0)
            running = [t for t in self._tasks(name) if t["Status"]["State"] == "running"]
            converged = len(running) == replicas and all(_same_template(t["Spec"], template) for t in running)
            if fresh and not running and replicas and sum(t["Status"]["State"] in FAILED_STATES for t in
                                                          self._tasks(name, desired=None)) >= 3:
                service.remove()
                raise DeployError(spec.app, spec.version, f"{name} keeps failing its health check",
                                  self._failed_logs(name))
            if converged and update in (None, "completed"):
                progress(f"{name}: {len(running)} task(s) of v{spec.version} healthy")
                return
            time.sleep(self.poll)
        raise DeployError(spec.app, spec.version, f"{name} did not converge within {self.deploy_timeout:.0f}s",
                          self._failed_logs(name))

    def _wait_rollback(self, name: str, deadline: float) -> None:
        while time.monotonic() < deadline:
            state = (self.client.services.get(name).attrs.get("UpdateStatus") or {}).get("State")
            if state != "rollback_started":
                return
            time.sleep(self.poll)

    def _failed_logs(self, service: str, lines: int = 20) -> dict[str, list[str]]:
        """Last output lines of the service's tasks that failed or were shut down unhealthy."""
        tasks = [t for t in self._tasks(service, desired=None)
                 if t["Status"]["State"] in FAILED_STATES or "unhealthy" in t["Status"].get("Err", "")
                 or t["DesiredState"] != "running" and t["Status"]["State"] != "running"]
        wanted = {t["ID"]: f"{service}.{t.get('Slot', 0)}.{t['ID'][:12]}" for t in tasks[-2:]}
        logs: dict[str, list[str]] = {name: [] for name in wanted.values()}
        try:
            raw = self.client.api.service_logs(service, details=True, stdout=True, stderr=True, tail=200)
            for chunk in raw:
                for line in chunk.decode("utf-8", "replace").splitlines():
                    details, _, text = line.partition(" ")
                    task = next((kv.split("=", 1)[1] for kv in details.split(",")
                                 if kv.startswith("com.docker.swarm.task.id=")), None)
                    if task in wanted:
                        logs[wanted[task]].append(text)
        except (docker.errors.DockerException, requests.RequestException) as exc:
            log.warning("could not read the logs of %s: %s", service, exc)
        return {name: tail[-lines:] for name, tail in logs.items()}

    # -- queries -------------------------------------------------------------------------------

    def _services(self, app: str) -> dict:
        found = self.client.services.list(filters={"label": [f"{LABEL_PLATFORM}={self.platform}",
                                                             f"{LABEL_APP}={app}"]})
        return {s.attrs["Spec"]["Labels"][LABEL_TYPE]: s for s in found}

    def _tasks(self, service: str, desired: str | None = "running") -> list[dict]:
        filters = {"service": service}
        if desired:
            filters["desired-state"] = desired
        try:
            return self.client.api.tasks(filters=filters)
        except docker.errors.NotFound:  # no such service (yet, or any more)
            return []

    def _node_addresses(self) -> dict[str, tuple[str, str]]:
        return {n.id: (n.attrs["Description"]["Hostname"], n.attrs["Status"]["Addr"])
                for n in self.client.nodes.list()}

    def _upstreams(self, app: str, web_type: str = "web", port: int = CONTAINER_PORT) -> list[str]:
        nodes = self._node_addresses()
        result = []
        for task in self._tasks(service_name(app, web_type)):
            if task["Status"]["State"] != "running":
                continue
            for published in task["Status"].get("PortStatus", {}).get("Ports", []):
                if published["TargetPort"] == port:
                    result.append(f"{nodes[task['NodeID']][1]}:{published['PublishedPort']}")
        return sorted(result)

    def sync_router(self, spec: ReleaseSpec) -> bool:
        if self.router is None:
            return False
        hostnames = [f"{spec.app}.{self.domain}", *spec.domains]
        return self.router.set_app_routes(spec.app, hostnames, self._upstreams(spec.app, spec.web_type, spec.port),
                                          spec.routing)

    def deployed_version(self, app: str) -> int | None:
        return self.state.deployed_version(app)

    def status(self, app: str) -> list[ProcessStatus]:
        nodes = self._node_addresses()
        result = []
        for ptype, service in sorted(self._services(app).items()):
            every = self._tasks(service.name, desired=None)
            for task in sorted(self._tasks(service.name), key=lambda t: t.get("Slot", 0)):
                slot = task.get("Slot", 0)
                version = int(task["Spec"]["ContainerSpec"]["Labels"].get(LABEL_RELEASE, 0))
                state = task["Status"]["State"]
                node, address = nodes.get(task["NodeID"], ("?", None))
                ports = task["Status"].get("PortStatus", {}).get("Ports", [])
                failures = sum(t.get("Slot") == slot and t["Status"]["State"] in FAILED_STATES for t in every)
                result.append(ProcessStatus(
                    name=container_name(app, version, ptype, slot), app=app, type=ptype, num=slot,
                    release=version, host=node, restarts=failures, exit_code=None,
                    state="up" if state == "running" else "crashed" if state in FAILED_STATES else "starting",
                    address=f"{address}:{ports[0]['PublishedPort']}" if ports and address else None))
        return result

    def deployed_version(self, app: str) -> int | None:
        """The release the router was last switched to for ``app`` (None: never deployed)."""
        return self.state.deployed_version(app)

    def events(self, app: str, lines: int | None = 100) -> list[str]:
        return self.state.events(app, lines)

    def logs(self, app: str, lines: int | None = 100, follow: bool = False,
             stop: threading.Event | None = None) -> Iterator[str]:
        """The services' output, ``<timestamp> <app>[<type>.<slot>]: <line>``."""
        collected = []
        for ptype, service in self._services(app).items():
            slots = {t["ID"]: t.get("Slot", 0) for t in self._tasks(service.name, desired=None)}
            raw = self.client.api.service_logs(service.id, details=True, stdout=True, stderr=True,
                                               timestamps=True, tail="all" if lines is None else lines,
                                               follow=follow)
            for chunk in raw:
                for line in chunk.decode("utf-8", "replace").splitlines():
                    formatted = _format_line(app, ptype, slots, line)
                    if formatted is None:
                        continue
                    if follow:
                        yield formatted
                        if stop is not None and stop.is_set():
                            return
                    else:
                        collected.append(formatted)
        yield from sorted(collected)[-(lines or 0):] if lines else sorted(collected)

    def run(self, spec: ReleaseSpec, command: str | Sequence[str], output: Callable[[bytes], None],
            timeout: float | None = None, on_start=None, before_remove=None) -> int:
        """One-off processes are plain containers on the manager (Swarm has no one-off tasks)."""
        return run_oneoff(self.manager, spec, command, output, timeout, self.hardening, on_start, before_remove)

    def session(self, spec: ReleaseSpec, command: str | Sequence[str], *, tty: bool = False,
                size: tuple[int, int] | None = None, ttl: float = 86400) -> OneoffSession:
        """``deis run`` attached: a plain container on the manager, like ``run``."""
        return start_session(self.manager, spec, command, tty=tty, size=size, ttl=ttl, hardening=self.hardening)

    def detach(self, spec: ReleaseSpec, command: str | Sequence[str], *, ttl: float = 86400) -> Container:
        """``deis run --detach`` on the manager (no reconcile loop runs for Swarm: each new one sweeps)."""
        sweep([self.manager])
        return start_detached(self.manager, spec, command, ttl=ttl, hardening=self.hardening)


def _same_template(task_spec: dict, template: dict) -> bool:
    """Was the task created from the service's current task template (not the one it is replacing)?"""
    a, b = task_spec.get("ContainerSpec", {}), template.get("ContainerSpec", {})
    return (task_spec.get("ForceUpdate", 0) == template.get("ForceUpdate", 0)
            and all(a.get(k) == b.get(k) for k in ("Image", "Env", "Args", "Labels")))


def _format_line(app: str, ptype: str, slots: dict, line: str) -> str | None:
    # With details=True each line is "<timestamp> <k=v,k=v,...> <message>".
    stamp, _, rest = line.partition(" ")
    details, _, text = rest.partition(" ")
    task = next((kv.split("=", 1)[1] for kv in details.split(",") if kv.startswith("com.docker.swarm.task.id=")), None)
    if not stamp:
        return None
    return f"{stamp} {app}[{ptype}.{slots.get(task, '?')}]: {text}"


def ensure_swarm(client, advertise_addr: str) -> None:
    """Make the engine a single-node swarm manager if it is not part of a swarm yet."""
    state = client.info().get("Swarm", {}).get("LocalNodeState")
    if state == "active":
        return
    try:
        client.swarm.init(advertise_addr=advertise_addr, listen_addr=f"{advertise_addr}:2377")
    except docker.errors.APIError as exc:
        raise SchedulerError(f"could not initialise a swarm on {advertise_addr}: {exc}") from exc

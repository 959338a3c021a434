"""A host: one Docker Engine (local socket or remote) plus the address its published ports bind to.

The scheduler reaches containers only through this class, so the next backend (hosts over SSH)
changes how a :class:`Host` is built, not the code that uses it. Docker errors are wrapped in
:class:`~scheduler.errors.HostError` here.
"""
from __future__ import annotations

import logging
import random
from typing import Collection

import docker.errors
import docker.types
import paramiko
import requests

from scheduler.containers import (LABEL_APP, LABEL_PLATFORM, Container, ContainerPlan,
                                  from_attrs, from_summary)
from scheduler.errors import HostError
from scheduler.networks import AddressPool, AppNetworks

log = logging.getLogger(__name__)

# What a call to an engine can raise: the SDK's errors, HTTP errors, and (remote hosts) SSH and socket errors.
ENGINE_ERRORS = (docker.errors.DockerException, requests.RequestException, paramiko.SSHException, OSError)
PUBLISHED_PORTS = (20000, 29999)  # DEIS_PUBLISHED_PORTS
PORT_ATTEMPTS = 8  # host ports tried when the engine says the one picked is taken
PORT_TAKEN = ("port is already allocated", "address already in use")


class Host:
    """Containers of one platform (``platform`` label) on one Docker Engine."""

    def __init__(self, name: str, client, address: str = "127.0.0.1", platform: str = "deis",
                 via_bridge: bool = False, *, networks: AddressPool = AddressPool(),
                 ports: tuple[int, int] = PUBLISHED_PORTS, registry_auth: dict | None = None):
        """Web ports are published on ``address``, at a port of the ``ports`` range. ``via_bridge``: the
        engine runs on this machine, so the router and health checks reach its web containers at their
        bridge address instead, one proxy hop (the engine's userland port proxy) shorter. Each app's
        containers join the app's own network, its subnet taken from ``networks``."""
        self.name = name
        self.client = client
        self.address = address
        self.platform = platform
        self.via_bridge = via_bridge
        self.networks = AppNetworks(client, platform, networks, name)
        self.registry_auth = registry_auth  # the platform registry's pull-only account ({"username", "password"})
        self.ports = ports

    def __repr__(self) -> str:
        return f"Host({self.name!r}, address={self.address!r})"

    def run(self, plan: ContainerPlan, avoid_ports: Collection[int] = ()) -> Container:
        """Create and start a container: hardened (``plan.hardening``: no new privileges, few
        capabilities, pids and memory limits, rotated logs), never privileged, no mounts, no restart
        policy, an init process as PID 1 so the app gets SIGTERM on stop, on the app's own network.
        A web container is published at a host port of the platform's range that is not in
        ``avoid_ports`` (ports the router may still send to another container)."""
        avoid, attempts = set(avoid_ports), 0
        while True:
            attempts += 1
            port = self._free_port(avoid) if plan.publish else None
            container = self._create(plan, port)
            try:
                container.start()
                break
            except ENGINE_ERRORS as exc:
                # A created but unstartable container (e.g. bad command) would block its name.
                self.remove(container.id)
                if port is None or attempts >= PORT_ATTEMPTS or not any(t in _explain(exc) for t in PORT_TAKEN):
                    raise HostError(self.name, f"starting {plan.name}", _explain(exc)) from exc
                avoid.add(port)  # taken by something the router does not know about: try another
        return self.inspect(container.id) or from_attrs(container.attrs, self.name, self.address, self.via_bridge)

    def _free_port(self, avoid: Collection[int]) -> int:
        low, high = self.ports
        for _ in range(64):
            port = random.randint(low, high)
            if port not in avoid:
                return port
        free = sorted(set(range(low, high + 1)) - set(avoid))
        if not free:
            raise HostError(self.name, "publishing a web port", f"every port of {low}-{high} is in use")
        return random.choice(free)

    def _create(self, plan: ContainerPlan, port: int | None, **options):
        hardening = plan.hardening
        kwargs = dict(options)  # stdin_open, tty: an attached one-off (run_attached)
        if port is not None:
            kwargs["ports"] = {f"{plan.port}/tcp": (self.address, port)}
        if plan.memory:
            kwargs["mem_limit"] = plan.memory
            kwargs["memswap_limit"] = plan.memory
        if plan.nano_cpus:
            kwargs["nano_cpus"] = plan.nano_cpus

        def create():
            network = self.networks.ensure(plan.app)
            return self.client.containers.create(
                plan.image, plan.command, name=plan.name, environment=plan.env, labels=plan.labels,
                privileged=False, init=True, restart_policy={"Name": "no"}, network=network,
                security_opt=["no-new-privileges"], cap_drop=["ALL"], cap_add=list(hardening.capabilities),
                pids_limit=hardening.pids,
                log_config=docker.types.LogConfig(type="json-file", config=hardening.log_options), **kwargs)
        try:
            try:
                return create()
            except docker.errors.ImageNotFound:
                self.pull(plan.image)  # a remote host fetches the release from the platform's registry
                return create()
            except docker.errors.NotFound as exc:
                if "network" not in _explain(exc):
                    raise
                self.networks.forget(plan.app)  # removed behind our back (the app was destroyed meanwhile)
                return create()
        except ENGINE_ERRORS as exc:
            raise HostError(self.name, f"creating {plan.name}", _explain(exc)) from exc

    def remove_network(self, app: str) -> None:
        """Remove the app's network (after its containers)."""
        try:
            self.networks.remove(app)
        except ENGINE_ERRORS as exc:
            raise HostError(self.name, f"removing the network of {app}", _explain(exc)) from exc

    def pull(self, image: str) -> None:
        """Fetch ``image`` (``repo:tag`` or ``repo@sha256:...``) as the hosts' registry account."""
        log.info("%s: pulling %s", self.name, image)
        self.client.images.pull(image, auth_config=self.registry_auth)

    def containers(self, app: str | None = None) -> list[Container]:
        """All containers (running or not) of the platform, or of one app. The listing describes
        running ones; the others are inspected for their exit code and times."""
        filters = [f"{LABEL_PLATFORM}={self.platform}"]
        if app is not None:
            filters.append(f"{LABEL_APP}={app}")
        try:
            rows = self.client.api.containers(all=True, filters={"label": filters})
        except ENGINE_ERRORS as exc:
            raise HostError(self.name, "listing containers", _explain(exc)) from exc
        found = (from_summary(row, self.name, self.address, self.via_bridge) if row.get("State") == "running"
                 else self.inspect(row["Id"]) for row in rows)
        return [c for c in found if c is not None]

    def inspect(self, container_id: str) -> Container | None:
        try:
            attrs = self.client.api.inspect_container(container_id)
        except docker.errors.NotFound:
            return None
        except ENGINE_ERRORS as exc:
            raise HostError(self.name, f"inspecting {container_id[:12]}", _explain(exc)) from exc
        return from_attrs(attrs, self.name, self.address, self.via_bridge)

    def stop(self, container_id: str, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout`` seconds; then remove the container."""
        try:
            self.client.api.stop(container_id, timeout=max(0, int(round(timeout))))
        except docker.errors.NotFound:
            return
        except ENGINE_ERRORS as exc:
            log.warning("stopping %s on %s failed: %s; removing it by force", container_id[:12], self.name, exc)
        self.remove(container_id)

    def remove(self, container_id: str) -> None:
        try:
            self.client.api.remove_container(container_id, force=True)
        except docker.errors.NotFound:
            return
        except docker.errors.APIError as exc:
            if "already in progress" in str(exc):
                return
            raise HostError(self.name, f"removing {container_id[:12]}", _explain(exc)) from exc
        except ENGINE_ERRORS as exc:
            raise HostError(self.name, f"removing {container_id[:12]}", _explain(exc)) from exc

    def rename(self, container_id: str, name: str) -> None:
        try:
            self.client.api.rename(container_id, name)
        except ENGINE_ERRORS as exc:
            raise HostError(self.name, f"renaming {container_id[:12]} to {name}", _explain(exc)) from exc

    def logs(self, container_id: str, tail: int | str = "all", timestamps: bool = False) -> list[str]:
        """Last output lines (stdout and stderr) of a container; [] when it is gone."""
        try:
            raw = self.client.api.logs(container_id, stdout=True, stderr=True, tail=tail, timestamps=timestamps)
        except docker.errors.NotFound:
            return []
        except ENGINE_ERRORS as exc:
            raise HostError(self.name, f"reading logs of {container_id[:12]}", _explain(exc)) from exc
        return raw.decode("utf-8", errors="replace").splitlines()

    def follow_logs(self, container_id: str, tail: int | str = "all", timestamps: bool = True):
        """A closable stream of raw output chunks, following the container until it stops."""
        try:
            return self.client.api.logs(container_id, stdout=True, stderr=True, stream=True, follow=True,
                                        tail=tail, timestamps=timestamps)
        except ENGINE_ERRORS as exc:
            raise HostError(self.name, f"following logs of {container_id[:12]}", _explain(exc)) from exc

    def wait(self, container_id: str, timeout: float | None = None) -> int:
        """Block until the container exits; return its exit code."""
        try:
            result = self.client.api.wait(container_id, timeout=timeout)
        except requests.exceptions.ConnectionError as exc:
            raise HostError(self.name, f"waiting for {container_id[:12]}", f"timed out: {exc}") from exc
        except ENGINE_ERRORS as exc:
            raise HostError(self.name, f"waiting for {container_id[:12]}", _explain(exc)) from exc
        return int(result.get("StatusCode", -1))

    def kill(self, container_id: str, signal: str | None = None) -> None:
        """SIGKILL, or ``signal`` (e.g. ``SIGINT``)."""
        try:
            self.client.api.kill(container_id, signal=signal)
        except docker.errors.APIError:
            pass  # already stopped or gone

    def run_attached(self, plan: ContainerPlan, tty: bool):
        """Create a container with its stdin open (and a TTY if ``tty``), attach to its stdin, stdout and
        stderr, then start it; return the :class:`Container` and the attached socket (raw, blocking). It
        is attached before it starts, so that no output is missed."""
        container = self._create(plan, None, stdin_open=True, tty=tty)
        try:
            sock = self.client.api.attach_socket(container.id, params={"stdin": 1, "stdout": 1, "stderr": 1,
                                                                       "stream": 1})
            container.start()
        except ENGINE_ERRORS as exc:
            self.remove(container.id)
            raise HostError(self.name, f"starting {plan.name}", _explain(exc)) from exc
        # as created (what a session needs: id and name): inspecting now would wait on a command that is exiting
        return from_attrs(container.attrs, self.name, self.address), sock

    def resize(self, container_id: str, cols: int, rows: int) -> None:
        """Resize the container's TTY."""
        try:
            self.client.api.resize(container_id, height=rows, width=cols)
        except docker.errors.APIError:
            pass  # not running (yet, or any more)
        except ENGINE_ERRORS as exc:
            raise HostError(self.name, f"resizing the TTY of {container_id[:12]}", _explain(exc)) from exc


def _explain(exc: Exception) -> str:
    if isinstance(exc, docker.errors.APIError) and exc.explanation:
        return str(exc.explanation)
    return str(exc)

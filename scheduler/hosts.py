"""A host: one Docker Engine (local socket or remote) plus the address its published ports bind to.

The scheduler reaches containers only through this class, so the next backend (hosts over SSH)
changes how a :class:`Host` is built, not the code that uses it. Docker errors are wrapped in
:class:`~scheduler.errors.HostError` here.
"""
from __future__ import annotations

import logging
import docker.errors
import paramiko
import requests

from scheduler.containers import (CONTAINER_PORT, LABEL_APP, LABEL_PLATFORM, Container, ContainerPlan,
                                  from_attrs, from_summary)
from scheduler.errors import HostError

log = logging.getLogger(__name__)

# What a call to an engine can raise: the SDK's errors, HTTP errors, and (remote hosts) SSH and socket errors.
ENGINE_ERRORS = (docker.errors.DockerException, requests.RequestException, paramiko.SSHException, OSError)


class Host:
    """Containers of one platform (``platform`` label) on one Docker Engine."""

    def __init__(self, name: str, client, address: str = "127.0.0.1", platform: str = "deis",
                 via_bridge: bool = False):
        """Web ports are published on ``address``. ``via_bridge``: the engine runs on this machine,
        so the router and health checks reach its web containers at their bridge address instead,
        one proxy hop (the engine's userland port proxy) shorter."""
        self.name = name
        self.client = client
        self.address = address
        self.platform = platform
        self.via_bridge = via_bridge

    def __repr__(self) -> str:
        return f"Host({self.name!r}, address={self.address!r})"

    def run(self, plan: ContainerPlan) -> Container:
        """Create and start a container: never privileged, no mounts, no restart policy, and an init
        process as PID 1 so the app gets SIGTERM on stop."""
        kwargs = {}
        if plan.publish:
            kwargs["ports"] = {f"{CONTAINER_PORT}/tcp": (self.address, None)}
        if plan.memory:
            kwargs["mem_limit"] = plan.memory
            kwargs["memswap_limit"] = plan.memory
        if plan.nano_cpus:
            kwargs["nano_cpus"] = plan.nano_cpus
        create = lambda: self.client.containers.create(  # noqa: E731
            plan.image, plan.command, name=plan.name, environment=plan.env, labels=plan.labels,
            privileged=False, init=True, restart_policy={"Name": "no"}, **kwargs)
        try:
            try:
                container = create()
            except docker.errors.ImageNotFound:
                self.pull(plan.image)  # a remote host fetches the release from the platform's registry
                container = create()
        except ENGINE_ERRORS as exc:
            raise HostError(self.name, f"creating {plan.name}", _explain(exc)) from exc
        try:
            container.start()
        except ENGINE_ERRORS as exc:
            # A created but unstartable container (e.g. bad command) would block its name.
            self.remove(container.id)
            raise HostError(self.name, f"starting {plan.name}", _explain(exc)) from exc
        return self.inspect(container.id) or from_attrs(container.attrs, self.name, self.address, self.via_bridge)

    def pull(self, image: str) -> None:
        repository, _, tag = image.rpartition(":") if ":" in image.rsplit("/", 1)[-1] else (image, "", "latest")
        log.info("%s: pulling %s", self.name, image)
        self.client.images.pull(repository, tag=tag)

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

    def kill(self, container_id: str) -> None:
        try:
            self.client.api.kill(container_id)
        except docker.errors.APIError:
            pass  # already stopped or gone


def _explain(exc: Exception) -> str:
    if isinstance(exc, docker.errors.APIError) and exc.explanation:
        return str(exc.explanation)
    return str(exc)

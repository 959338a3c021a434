"""The private Docker registry: Debian's ``docker-registry`` (distribution v2) on loopback.

:func:`start_registry` writes the daemon's config under ``DEIS_HOME/registry`` and starts it;
``deisctl`` keeps the pid and stops it with :func:`deisctl.processes.stop_pid`.
:class:`RegistryClient` speaks the registry's HTTP API for tag listing and deletion (garbage
collection of old images). Deleting a manifest frees the tag; ``docker-registry
garbage-collect`` (run while the registry is stopped) reclaims the blobs.
"""
from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

from builder.errors import RegistryError
from deisctl.processes import ProcessError, port_answers, spawn, wait_for

log = logging.getLogger(__name__)

MANIFEST_TYPES = ", ".join([
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
])


def render_config(storage_dir: Path, port: int) -> str:
    """The registry's YAML config: filesystem storage, deletes enabled, loopback only."""
    return (
        "version: 0.1\n"
        "log:\n"
        "  level: warn\n"
        "  accesslog:\n"
        "    disabled: true\n"
        "storage:\n"
        "  filesystem:\n"
        f"    rootdirectory: {storage_dir}\n"
        "  delete:\n"
        "    enabled: true\n"
        "  maintenance:\n"
        "    uploadpurging:\n"
        "      enabled: false\n"
        "http:\n"
        f"  addr: 127.0.0.1:{port}\n"
        "  headers:\n"
        "    X-Content-Type-Options: [nosniff]\n"
    )


def write_config(home: Path, port: int) -> Path:
    registry_dir = home / "registry"
    storage = registry_dir / "storage"
    storage.mkdir(parents=True, exist_ok=True)
    config = registry_dir / "config.yml"
    config.write_text(render_config(storage, port))
    return config


def start_registry(settings, timeout: float = 20.0) -> subprocess.Popen:
    """Start ``docker-registry`` for these settings and wait until it answers on its port."""
    binary = shutil.which("docker-registry")
    if binary is None:
        raise RegistryError("docker-registry is not installed (apt-get install docker-registry)")
    if port_answers(settings.registry_port):
        raise RegistryError(f"port {settings.registry_port} is already in use; set DEIS_REGISTRY_PORT")
    config = write_config(settings.home, settings.registry_port)
    proc = spawn([binary, "serve", str(config)], settings.home / "logs" / "registry.log",
                 pidfile=settings.home / "run" / "registry.pid")
    try:
        wait_for(lambda: port_answers(settings.registry_port), timeout, "docker-registry", process=proc)
    except ProcessError as exc:
        raise RegistryError(str(exc)) from exc
    log.info("registry listening on %s (pid %d)", settings.registry, proc.pid)
    return proc


class RegistryClient:
    """The registry's v2 HTTP API, through a ``requests.Session`` passed in."""

    def __init__(self, session, address: str, timeout: float = 30.0):
        self.session = session
        self.base = f"http://{address}/v2"
        self.timeout = timeout

    def _request(self, method: str, path: str, **kwargs):
        import requests

        try:
            response = self.session.request(method, f"{self.base}/{path}", timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise RegistryError(f"registry {self.base} unreachable: {exc}") from exc
        return response

    def tags(self, repository: str) -> list[str]:
        response = self._request("GET", f"{repository}/tags/list")
        if response.status_code == 404:
            return []
        if response.status_code != 200:
            raise RegistryError(f"listing tags of {repository}: HTTP {response.status_code} {response.text}")
        return sorted(response.json().get("tags") or [])

    def digest(self, repository: str, tag: str) -> str | None:
        response = self._request("HEAD", f"{repository}/manifests/{tag}", headers={"Accept": MANIFEST_TYPES})
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise RegistryError(f"looking up {repository}:{tag}: HTTP {response.status_code}")
        return response.headers["Docker-Content-Digest"]

    def delete_tag(self, repository: str, tag: str) -> bool:
        """Delete the manifest ``tag`` points at; False when it was already gone."""
        digest = self.digest(repository, tag)
        if digest is None:
            return False
        response = self._request("DELETE", f"{repository}/manifests/{digest}")
        if response.status_code not in (202, 404):
            raise RegistryError(f"deleting {repository}:{tag}: HTTP {response.status_code} {response.text}")
        return response.status_code == 202

"""The private Docker registry: Debian's ``docker-registry`` (distribution v2) on loopback.

:func:`start_registry` writes the daemon's config under ``DEIS_HOME/registry`` and starts it;
``deisctl`` keeps the pid and stops it with :func:`deiscore.processes.stop_pid`.

Every request needs credentials (htpasswd, bcrypt): the platform's account (``deis``: the builder
and controller push and pull) and the hosts' account (``deis-host``: they pull). Distribution has
no per-user permissions, so the hosts' account is read-only by where the hosts can reach the
registry: only through the cluster's front (:mod:`deisctl.cluster`), which forwards reads only.
The passwords are the platform's secrets (``Settings.registry_auth``, ``registry_host_auth``).
:class:`RegistryClient` speaks the registry's HTTP API for tag listing and deletion (garbage
collection of old images). Deleting a manifest frees the tag; ``docker-registry
garbage-collect`` (run while the registry is stopped) reclaims the blobs.
"""
from __future__ import annotations

import logging
import os
import shutil
import subprocess
from pathlib import Path

import bcrypt
import yaml

from builder.errors import RegistryError
from deiscore.processes import ProcessError, port_answers, spawn, wait_for

log = logging.getLogger(__name__)

MANIFEST_TYPES = ", ".join([
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
])
REALM = "deis-registry"
# The passwords are long random secrets, so bcrypt's cost buys nothing here; the registry checks it on
# every request (a push makes dozens), so it is kept at the cost ``htpasswd -B`` uses by default.
BCRYPT_ROUNDS = 5


def render_htpasswd(accounts: list[dict]) -> str:
    """``user:bcrypt-hash`` lines for ``accounts`` (``{"username", "password"}``, as docker's auth_config)."""
    salt = bcrypt.gensalt(rounds=BCRYPT_ROUNDS)
    return "".join(f"{a['username']}:{bcrypt.hashpw(a['password'].encode(), salt).decode()}\n" for a in accounts)


def render_config(storage_dir: Path, port: int, htpasswd: Path | None) -> str:
    """The registry's YAML config: filesystem storage, deletes enabled, loopback only, and (with
    ``htpasswd``) basic authentication on every request."""
    config = {
        "version": "0.1",
        "log": {"level": "warn", "accesslog": {"disabled": True}},
        "storage": {
            "filesystem": {"rootdirectory": str(storage_dir)},
            "delete": {"enabled": True},
            "maintenance": {"uploadpurging": {"enabled": False}},
        },
        "http": {"addr": f"127.0.0.1:{port}", "headers": {"X-Content-Type-Options": ["nosniff"]}},
    }
    if htpasswd:
        config["auth"] = {"htpasswd": {"realm": REALM, "path": str(htpasswd)}}
    return yaml.safe_dump(config, sort_keys=False)


def write_config(home: Path, port: int, accounts: list[dict]) -> Path:
    """Write ``registry/config.yml`` and ``registry/htpasswd`` (0600) for ``accounts``."""
    registry_dir = home / "registry"
    storage = registry_dir / "storage"
    storage.mkdir(parents=True, exist_ok=True)
    htpasswd = registry_dir / "htpasswd"
    fd = os.open(htpasswd, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(render_htpasswd(accounts))
    config = registry_dir / "config.yml"
    config.write_text(render_config(storage, port, htpasswd))
    return config


def render_front_config(listen: str, upstream_port: int, reader: str, prefix: Path) -> str:
    """nginx in front of the registry for the hosts (``listen`` is ``address:port``): reads only
    (GET, HEAD), and only anonymously (the registry then asks for credentials) or as ``reader``, so
    that no host can push or delete, whatever credentials it holds."""
    return (
        "worker_processes 1;\n"
        "daemon off;\n"
        f"pid {prefix / 'nginx.pid'};\n"
        f"error_log {prefix / 'error.log'} warn;\n"
        "events { worker_connections 256; }\n"
        "http {\n"
        "  access_log off;\n"
        f"  client_body_temp_path {prefix / 'tmp'};\n"
        f"  proxy_temp_path {prefix / 'tmp'};\n"
        f"  map $remote_user $deis_refused {{ default 1; \"\" 0; \"{reader}\" 0; }}\n"
        "  server {\n"
        f"    listen {listen};\n"
        "    location /v2/ {\n"
        "      limit_except GET { deny all; }\n"  # GET includes HEAD
        "      if ($deis_refused) { return 403; }\n"
        f"      proxy_pass http://127.0.0.1:{upstream_port};\n"
        "      proxy_set_header Host $http_host;\n"
        "      proxy_http_version 1.1;\n"
        "      proxy_buffering off;\n"
        "      proxy_read_timeout 900s;\n"
        "    }\n"
        "    location / { return 404; }\n"
        "  }\n"
        "}\n"
    )


def platform_accounts(settings) -> list[dict]:
    """The accounts of the platform's registry: the platform's own and the hosts'."""
    return [settings.registry_auth, settings.registry_host_auth]


def start_registry(settings, timeout: float = 20.0) -> subprocess.Popen:
    """Start ``docker-registry`` for these settings and wait until it answers on its port."""
    binary = shutil.which("docker-registry")
    if binary is None:
        raise RegistryError("docker-registry is not installed (apt-get install docker-registry)")
    if port_answers(settings.registry_port):
        raise RegistryError(f"port {settings.registry_port} is already in use; set DEIS_REGISTRY_PORT")
    config = write_config(settings.home, settings.registry_port, platform_accounts(settings))
    proc = spawn([binary, "serve", str(config)], settings.home / "logs" / "registry.log",
                 pidfile=settings.home / "run" / "registry.pid")
    try:
        wait_for(lambda: port_answers(settings.registry_port), timeout, "docker-registry", process=proc)
    except ProcessError as exc:
        raise RegistryError(str(exc)) from exc
    log.info("registry listening on %s (pid %d)", settings.registry, proc.pid)
    return proc


class RegistryClient:
    """The registry's v2 HTTP API, through a ``requests.Session`` passed in, as the account ``auth``
    (``{"username", "password"}``)."""

    def __init__(self, session, address: str, auth: dict | None = None, timeout: float = 30.0):
        self.session = session
        self.base = f"http://{address}/v2"
        self.auth = (auth["username"], auth["password"]) if auth else None
        self.timeout = timeout

    def _request(self, method: str, path: str, **kwargs):
        import requests

        try:
            response = self.session.request(method, f"{self.base}/{path}", auth=self.auth, timeout=self.timeout,
                                            **kwargs)
        except requests.RequestException as exc:
            raise RegistryError(f"registry {self.base} unreachable: {exc}") from exc
        if response.status_code == 401:
            raise RegistryError(f"registry {self.base} refused the platform's credentials")
        return response

    def tags(self, repository: str) -> list[str]:
        response = self._request("GET", f"{repository}/tags/list")
        if response.status_code == 404:
            return []
        if response.status_code != 200:
            raise RegistryError(f"listing tags of {repository}: HTTP {response.status_code} {response.text}")
        return sorted(response.json().get("tags") or [])

    def digest(self, repository: str, tag: str) -> str | None:
        """The manifest digest ``tag`` (or a digest) of ``repository`` names; None when there is none."""
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

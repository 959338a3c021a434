"""Servers for builds that fetch a custom buildpack. A build container runs on its app's own network,
walled off from this machine's services (:mod:`scheduler.firewall`), so the servers run in containers
on that network: the one place, besides the outside world, that a build reaches."""
from __future__ import annotations

import contextlib
import re
import socket
import subprocess
import time
from pathlib import Path

from builder.jobs import build_network

SERVER_LABELS = {"deis.role": "test-server"}
HTTP_PORT = 8000
# python -m http.server logs each request to stderr as: ADDRESS - - [date] "GET /path HTTP/1.1" 200 -
_REQUEST_LINE = re.compile(r'(\S+) - - \[[^]]*\] "[A-Z]+ (\S+) ')


@contextlib.contextmanager
def app_network_container(docker_client, settings, app: str, command: list[str], volumes: dict | None = None):
    """A container of the stack image running ``command`` on ``app``'s network (created if need be,
    as a build would); yields ``(container, its address, the network's gateway)``."""
    network = build_network(settings, docker_client, app)
    container = docker_client.containers.run(settings.stack_image, command, detach=True, network=network,
                                             volumes=volumes or {}, labels=SERVER_LABELS)
    try:
        container.reload()
        endpoint = container.attrs["NetworkSettings"]["Networks"][network]
        yield container, endpoint["IPAddress"], endpoint["Gateway"]
    finally:
        container.remove(force=True)


@contextlib.contextmanager
def dumb_http_git(work: Path, docker_client, settings, app: str):
    """Serve a bare clone of the working copy ``work`` over git's dumb HTTP protocol on ``app``'s network.

    Yields ``(url, requests, gateway)``: the repository's URL, a list that holds ``(client address,
    path)`` of every request answered once the block is left, and the network's gateway (where this
    machine would come from).
    """
    bare = work.parent / f"{work.name}-served" / "buildpack.git"
    bare.parent.mkdir(parents=True)
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True)
    subprocess.run(["git", f"--git-dir={bare}", "update-server-info"], check=True)
    command = ["python3", "-m", "http.server", str(HTTP_PORT), "--directory", "/srv"]
    volumes = {str(bare.parent): {"bind": "/srv", "mode": "ro"}}
    with app_network_container(docker_client, settings, app, command, volumes) as (container, address, gateway):
        _wait_listening(address, HTTP_PORT)
        requests: list[tuple[str, str]] = []
        try:
            yield f"http://{address}:{HTTP_PORT}/{bare.name}", requests, gateway
        finally:
            log = container.logs(stdout=True, stderr=True).decode("utf-8", "replace")
            requests.extend(m.groups() for m in map(_REQUEST_LINE.match, log.splitlines()) if m)


def _wait_listening(address: str, port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((address, port), 1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)

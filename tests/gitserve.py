"""A git repository served over git's dumb HTTP protocol (static files) on an address of this machine,
for builds that fetch a custom buildpack: containers reach this machine on their bridge's gateway."""
from __future__ import annotations

import contextlib
import functools
import ipaddress
import subprocess
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def bridge_gateway(docker_client) -> str:
    """The address containers on Docker's default bridge (build containers) reach this machine at."""
    config = docker_client.networks.get("bridge").attrs["IPAM"]["Config"][0]
    # The engine leaves Gateway out when it is the subnet's first address, as it is by default.
    return config.get("Gateway") or str(next(ipaddress.ip_network(config["Subnet"]).hosts()))


class _Handler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        self.server.requests.append((self.client_address[0], self.path))


@contextlib.contextmanager
def dumb_http_git(work: Path, address: str):
    """Serve a bare clone of the working copy ``work`` on ``address``:<free port>.

    Yields ``(url, requests)``: the repository's URL and a list the server appends
    ``(client address, path)`` to for every request it answers.
    """
    bare = work.parent / f"{work.name}-served" / "buildpack.git"
    bare.parent.mkdir(parents=True)
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True)
    subprocess.run(["git", f"--git-dir={bare}", "update-server-info"], check=True)
    server = ThreadingHTTPServer((address, 0), functools.partial(_Handler, directory=str(bare.parent)))
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{address}:{server.server_address[1]}/{bare.name}", server.requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join()

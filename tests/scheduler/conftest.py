"""Fixtures for scheduler end-to-end tests: a real nginx router and the local Docker engine."""
from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass

import pytest
import requests

from deiscore.processes import free_port
from router import Router
from scheduler import Host, Scheduler
from tests.scheduler.echoapp import build_echo_image

DOMAIN = "deis.test"


@pytest.fixture(scope="session")
def echo_image(docker_client):
    return build_echo_image(docker_client)


@pytest.fixture
def router(tmp_path):
    router = Router(tmp_path / "router", free_port(), "127.0.0.1", worker_processes=1)
    router.start()
    try:
        yield router
    finally:
        router.stop()


@pytest.fixture
def platform(docker_client):
    """A platform label unique to the test; every container and network carrying it is removed afterwards."""
    label = f"deis-test-{secrets.token_hex(4)}"
    try:
        yield label
    finally:
        for container in docker_client.containers.list(all=True, filters={"label": f"deis.platform={label}"}):
            container.remove(force=True)
        for network in docker_client.networks.list(filters={"label": f"deis.platform={label}"}):
            network.remove()


@pytest.fixture
def scheduler(docker_client, router, platform, tmp_path):
    return Scheduler([Host("local", docker_client, "127.0.0.1", platform=platform)], router, tmp_path / "state",
                     DOMAIN, health_timeout=8, drain_seconds=0.5, stop_timeout=3)


def get(router, app: str, path: str = "/", session=None, timeout: float = 5) -> requests.Response:
    return (session or requests).get(f"http://127.0.0.1:{router.port}{path}", headers={"Host": f"{app}.{DOMAIN}"},
                                     timeout=timeout)


@dataclass
class LoadTotals:
    ok: int = 0
    failed: int = 0
    bodies: set = None


class Load:
    """Requests through the router in a background thread (keep-alive session), bounded in time."""

    def __init__(self, router, app: str, max_seconds: float = 60):
        self.router, self.app, self.max_seconds = router, app, max_seconds
        self.totals = LoadTotals(bodies=set())
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        session = requests.Session()
        deadline = time.monotonic() + self.max_seconds
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                response = get(self.router, self.app, session=session)
                if response.status_code == 200:
                    self.totals.ok += 1
                    self.totals.bodies.add(response.text)
                else:
                    self.totals.failed += 1
                    self.errors.append(f"{response.status_code} {response.text[:80]}")
            except requests.RequestException as exc:
                self.totals.failed += 1
                self.errors.append(str(exc))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

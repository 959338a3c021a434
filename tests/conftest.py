"""Fixtures that start real services on free ports under a temp dir and stop them by PID."""
from __future__ import annotations

import os
import secrets
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from controller import db
from deiscore import settings
from deisctl import redis_server
from deiscore.processes import free_port, port_answers, spawn, stop_pid, wait_for

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A real redis-server on a free loopback port, started as the platform starts its own: with a
    generated password (the URL carries it)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed (apt-get install redis-server)")
    workdir = tmp_path_factory.mktemp("redis")
    port, password = free_port(), secrets.token_urlsafe(32)
    config = redis_server.write_config(workdir / "redis.conf", port, password, persistent=False)
    proc = spawn(redis_server.argv(binary), workdir / "redis.log", cwd=workdir, stdin=config)
    try:
        wait_for(lambda: port_answers(port), 10, "redis-server", process=proc)
        yield f"redis://:{password}@127.0.0.1:{port}/0"
    finally:
        stop_pid(proc.pid)


@pytest.fixture(scope="session")
def docker_client():
    """The real Docker Engine of this machine."""
    import docker

    client = docker.from_env()
    try:
        client.ping()
    except Exception as exc:  # noqa: BLE001 - say clearly why every docker test fails
        pytest.fail(f"Docker Engine does not answer ({exc}); start dockerd (see .ci/run)")
    return client


@dataclass
class Controller:
    """A live controller served by gunicorn, and handy API helpers for tests."""

    url: str
    home: Path
    env: dict
    builder_secret: str
    tokens: dict = field(default_factory=dict)

    def api(self, token: str | None = None) -> requests.Session:
        session = requests.Session()
        if token:
            session.headers["Authorization"] = f"token {token}"
        return session

    def register(self, username: str, password: str = "s3cret-pass", email: str | None = None) -> str:
        r = requests.post(f"{self.url}/v1/auth/register",
                          json={"username": username, "password": password,
                                "email": email or f"{username}@example.com"}, timeout=10)
        assert r.status_code == 201, r.text
        r = requests.post(f"{self.url}/v1/auth/login", json={"username": username, "password": password},
                          timeout=10)
        assert r.status_code == 200, r.text
        self.tokens[username] = r.json()["token"]
        return self.tokens[username]


def start_controller(home: Path, extra_env: dict | None = None, workers: int = 2):
    """Migrate the database as ``deisctl up`` does, start gunicorn serving the controller; return
    (Controller, Popen)."""
    port = free_port()
    secret = secrets.token_urlsafe(16)
    env = {
        **os.environ,
        "DEIS_HOME": str(home),
        "DEIS_CONTROLLER_PORT": str(port),
        "DEIS_BUILDER_SECRET": secret,
        "DEIS_SCHEDULER": "off",  # releases as records only; end-to-end run tests pass "local"
        **(extra_env or {}),
    }
    db.upgrade(settings.load(env).database_url)
    proc = spawn([sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}",
                  "--access-logfile", "-", "controller.wsgi:application"],
                 home / "controller.log", env=env, cwd=REPO_ROOT)
    url = f"http://127.0.0.1:{port}"

    def healthy():
        try:
            return requests.get(f"{url}/healthz", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    try:
        wait_for(healthy, 30, "controller", process=proc)
    except Exception:
        print((home / "controller.log").read_text(), file=sys.stderr)
        stop_pid(proc.pid)
        raise
    deis_env = {k: v for k, v in env.items() if k.startswith("DEIS_")}
    return Controller(url=url, home=home, env=deis_env, builder_secret=secret), proc


@pytest.fixture
def controller(tmp_path):
    """A fresh controller (own SQLite database) for one test."""
    home = tmp_path / "deis-home"
    home.mkdir()
    ctl, proc = start_controller(home)
    try:
        yield ctl
    finally:
        stop_pid(proc.pid)


@pytest.fixture(scope="module")
def shared_controller(tmp_path_factory):
    """One controller per test module, for tests that create their own uniquely named state."""
    home = tmp_path_factory.mktemp("deis-home")
    ctl, proc = start_controller(home)
    try:
        yield ctl
    finally:
        stop_pid(proc.pid)

"""deisctl up/down/status start the real platform processes on free ports under a temp DEIS_HOME."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from deiscore import settings
from deiscore.processes import free_port

DEISCTL = [sys.executable, "-c", "from deisctl.cli import main; main()"]


def run(env, *args):
    return subprocess.run([*DEISCTL, *args], env=env, capture_output=True, text=True, timeout=120)


PORTS = ("DEIS_CONTROLLER_PORT", "DEIS_REDIS_PORT", "DEIS_REGISTRY_PORT", "DEIS_BUILDER_PORT", "DEIS_ROUTER_PORT")


def own_ports(env: dict, home: Path) -> dict:
    return {**env, "DEIS_HOME": str(home), **{name: str(free_port()) for name in PORTS}}


@pytest.fixture
def platform_env(tmp_path):
    env = own_ports(os.environ, tmp_path / "home")
    for name in ("DEIS_BUILDER_SECRET", "DEIS_REDIS_URL", "DEIS_CONTROLLER_URL", "DEIS_DATABASE_URL"):
        env.pop(name, None)
    yield env
    run(env, "down")


def test_settings_defaults_and_overrides(tmp_path):
    s = settings.load({"DEIS_HOME": str(tmp_path)})
    assert s.controller_port == 8000 and s.builder_port == 2222 and s.router_port == 80
    assert s.registry_port == 5000 and s.domain == "deis.localhost"
    assert s.database_url == f"sqlite:///{tmp_path / 'controller.db'}"
    s = settings.load({"DEIS_HOME": str(tmp_path), "DEIS_CONTROLLER_PORT": "9000", "DEIS_DOMAIN": "example.org"})
    assert s.controller_port == 9000 and s.controller_url == "http://127.0.0.1:9000"
    with pytest.raises(ValueError, match="DEIS_ROUTER_PORT must be an integer"):
        settings.load({"DEIS_ROUTER_PORT": "eighty"})


def test_builder_secret_is_created_once_with_mode_0600(tmp_path):
    s = settings.load({"DEIS_HOME": str(tmp_path)})
    first = s.builder_secret
    assert first == s.builder_secret
    assert (tmp_path / "builder-secret").stat().st_mode & 0o777 == 0o600


def test_up_is_idempotent_status_reports_and_down_stops(platform_env):
    up = run(platform_env, "up")
    assert up.returncode == 0, up.stdout + up.stderr
    for name in ("redis", "registry", "router", "controller", "builder", "worker", "reconciler"):
        assert f"{name:<12} started" in up.stdout, up.stdout
    url = f"http://127.0.0.1:{platform_env['DEIS_CONTROLLER_PORT']}"
    assert requests.get(f"{url}/healthz", timeout=5).json() == {"status": "ok"}
    pids = {line.split()[0]: line.split()[-1].rstrip(")") for line in up.stdout.splitlines() if "started" in line}

    again = run(platform_env, "up")
    assert again.returncode == 0
    assert "controller   already running" in again.stdout
    for name, pid in pids.items():
        assert f"pid {pid}" in again.stdout, f"{name} was restarted"

    status = run(platform_env, "status")
    assert status.returncode == 0
    assert [line.split()[:2] for line in status.stdout.splitlines()] == [[n, "up"] for n in pids]
    assert (Path(platform_env["DEIS_HOME"]) / "logs" / "controller.log").exists()

    down = run(platform_env, "down")
    assert down.returncode == 0 and "controller   stopped" in down.stdout
    status = run(platform_env, "status")
    assert status.returncode == 1
    assert "controller   down" in status.stdout
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/healthz", timeout=2)


def test_two_platforms_side_by_side(platform_env, tmp_path):
    other = own_ports(platform_env, tmp_path / "other")
    try:
        assert run(platform_env, "up").returncode == 0
        assert run(other, "up").returncode == 0
        for env in (platform_env, other):
            url = f"http://127.0.0.1:{env['DEIS_CONTROLLER_PORT']}"
            r = requests.post(f"{url}/v1/auth/register", json={"username": "first", "password": "password1"})
            assert r.json()["is_admin"] is True  # each platform has its own state
    finally:
        run(other, "down")

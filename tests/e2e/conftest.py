"""The whole platform, started the way an operator starts it: ``deisctl up`` on free ports under a
temp ``DEIS_HOME``; driven the way a user drives it: the real ``deis`` CLI, ``git push`` over OpenSSH,
and HTTP requests through the router.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from deiscore.processes import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = REPO_ROOT / "examples"
PORTS = ("DEIS_CONTROLLER_PORT", "DEIS_REDIS_PORT", "DEIS_REGISTRY_PORT", "DEIS_BUILDER_PORT", "DEIS_ROUTER_PORT")
INHERITED = ("DEIS_BUILDER_SECRET", "DEIS_REDIS_URL", "DEIS_CONTROLLER_URL", "DEIS_DATABASE_URL",
             "DEIS_SCHEDULER", "DEIS_DOMAIN", "DEIS_PROFILE_DIR")


@dataclass
class Run:
    returncode: int
    output: str

    def ok(self) -> "Run":
        assert self.returncode == 0, self.output
        return self


@dataclass
class LivePlatform:
    home: Path
    env: dict
    workdir: Path
    key: Path

    @property
    def controller_url(self) -> str:
        return f"http://127.0.0.1:{self.env['DEIS_CONTROLLER_PORT']}"

    @property
    def router_port(self) -> int:
        return int(self.env["DEIS_ROUTER_PORT"])

    @property
    def domain(self) -> str:
        return self.env.get("DEIS_DOMAIN", "deis.localhost")

    def deisctl(self, *args: str, timeout: float = 300) -> Run:
        return _run([sys.executable, "-c", "from deisctl.cli import main; main()", *args], self.env, timeout)

    def deis(self, *args: str, cwd: Path | None = None, timeout: float = 300) -> Run:
        """The real ``deis`` CLI, with this platform's profile (the user's own is never touched)."""
        return _run([sys.executable, "-c", "from client.cli import main; main()", *args], self.env, timeout, cwd)

    def checkout(self, example: str) -> Path:
        """A git working copy (one commit) of an example app."""
        work = self.workdir / "src" / uuid.uuid4().hex[:8]
        shutil.copytree(EXAMPLES / example, work)
        git(work, "init", "-q", "-b", "master")
        commit(work, "initial")
        return work

    def create_app(self, work: Path, name: str | None = None) -> str:
        """``deis create`` inside the working copy (adds the ``deis`` remote); return the app name."""
        name = name or f"e2e-{uuid.uuid4().hex[:8]}"
        self.deis("create", name, cwd=work).ok()
        return name

    def push(self, work: Path, *extra: str, timeout: float = 300) -> Run:
        return _run(["git", "-C", str(work), "push", *extra, "deis", "master"], self.env, timeout)

    def get(self, app: str, path: str = "/", timeout: float = 5, **kwargs) -> requests.Response:
        """A request through the router, addressed to ``<app>.<domain>``."""
        return requests.get(f"http://127.0.0.1:{self.router_port}{path}",
                            headers={"Host": f"{app}.{self.domain}"}, timeout=timeout, **kwargs)

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
                         for p in sorted((self.home / "logs").glob("*.log")))


class Load:
    """GET requests through the router on a keep-alive session, in a thread, bounded in time."""

    def __init__(self, platform, app, seconds=300):
        self.platform, self.app, self.seconds = platform, app, seconds
        self.ok, self.failed, self.errors, self.bodies = 0, 0, [], set()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        session, deadline = requests.Session(), time.monotonic() + self.seconds
        while not self.stop.is_set() and time.monotonic() < deadline:
            try:
                r = session.get(
                    f"http://127.0.0.1:{self.platform.router_port}/",
                    headers={"Host": f"{self.app}.{self.platform.domain}"}, timeout=5)
                if r.status_code == 200:
                    self.ok += 1
                    self.bodies.add(r.text)
                else:
                    self.failed += 1
                    self.errors.append(f"{r.status_code} {r.text[:80]}")
            except requests.RequestException as exc:
                self.failed += 1
                self.errors.append(str(exc))

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def git(work: Path, *args: str) -> str:
    proc = subprocess.run(["git", "-C", str(work), *args], check=True, stdout=subprocess.PIPE, text=True)
    return proc.stdout.strip()


def commit(work: Path, message: str) -> str:
    git(work, "add", "-A")
    git(work, "-c", "user.name=Test", "-c", "user.email=test@example.com", "commit", "-q", "--allow-empty",
        "-m", message)
    return git(work, "rev-parse", "HEAD")


def _run(argv: list[str], env: dict, timeout: float, cwd: Path | None = None) -> Run:
    proc = subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)
    return Run(proc.returncode, proc.stdout)


def remove_platform_containers(home: Path) -> None:
    """Remove the app containers and networks this platform started (and only those: they carry its label)."""
    import docker

    from scheduler.containers import LABEL_PLATFORM
    from scheduler.scheduler import platform_id

    client = docker.from_env()
    for container in client.containers.list(all=True, filters={"label": f"{LABEL_PLATFORM}={platform_id(home)}"}):
        container.remove(force=True)
    for network in client.networks.list(filters={"label": f"{LABEL_PLATFORM}={platform_id(home)}"}):
        network.remove()


@contextlib.contextmanager
def running_platform(root: Path, extra_env: dict | None = None):
    """``deisctl up`` of a whole platform (redis, registry, router, controller, builder, worker,
    reconciler) under ``root``, an admin user logged in with the ``deis`` CLI and an SSH key added;
    ``deisctl down`` and its app containers removed afterwards."""
    home, workdir = root / "home", root / "work"
    workdir.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k not in INHERITED}
    env.update({name: str(free_port()) for name in PORTS})
    key = workdir / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "e2e", "-f", str(key)], check=True)
    env.update({
        "DEIS_HOME": str(home),
        "DEIS_PROFILE_DIR": str(workdir / "profile"),
        "PYTHONPATH": str(REPO_ROOT),
        "GIT_SSH_COMMAND": (f"ssh -i {key} -o IdentitiesOnly=yes -o StrictHostKeyChecking=no "
                            f"-o UserKnownHostsFile={workdir / 'known_hosts'} -o LogLevel=ERROR"),
        "GIT_TERMINAL_PROMPT": "0",
        **(extra_env or {}),
    })
    platform = LivePlatform(home=home, env=env, workdir=workdir, key=key)
    try:
        platform.deisctl("up").ok()
        platform.deis("register", platform.controller_url, "--username", "admin", "--password", "admin-pass-1",
                      "--email", "admin@example.com").ok()
        platform.deis("keys:add", f"{key}.pub").ok()
        yield platform
    finally:
        down = platform.deisctl("down")
        remove_platform_containers(home)
        assert down.returncode == 0, down.output


def wait_until(check, timeout: float, interval: float = 0.2):
    """``check()``'s first truthy result within ``timeout`` seconds, else its last one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(interval)
    return check()


@contextlib.contextmanager
def running_cluster(root: Path, subnet: str, hosts: int):
    """A platform whose apps run only on ``hosts`` namespace hosts (``deisctl cluster up``) of its own
    ``subnet`` (apart from the other cluster tests', so that they can run at once)."""
    with running_platform(root, {"DEIS_LOCAL_HOST": "off", "DEIS_CLUSTER_SUBNET": subnet}) as platform:
        try:
            up = platform.deisctl("cluster", "up", "--hosts", str(hosts)).ok()
            assert up.output.count("registered") == hosts, up.output
            yield platform
        finally:
            platform.deisctl("cluster", "down")


@pytest.fixture(scope="module")
def live_platform(tmp_path_factory):
    with running_platform(tmp_path_factory.mktemp("live")) as platform:
        yield platform


@pytest.fixture(scope="session")
def apps_platform(tmp_path_factory):
    """One platform shared by the modules that only push apps and look at them (the languages, buildpack
    choice, Dockerfile parity): their apps are independent of each other, and one registry receives the
    stack's runtimes layer once. Such a module overrides ``live_platform`` with it."""
    with running_platform(tmp_path_factory.mktemp("apps")) as platform:
        yield platform

"""Fixtures for the builder: a private registry, a build worker and the builder's SSH server,
all real processes on free ports, one set per test module, talking to the module's controller.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from deiscore.processes import free_port, port_answers, spawn, stop_pid, wait_for
from deiscore.settings import load

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = REPO_ROOT / "examples"
KEEP_IMAGES = 2  # images per app the registry keeps in these tests


@dataclass
class PushResult:
    returncode: int
    output: str

    @property
    def remote(self) -> str:
        """Only what the builder said (the ``remote:`` lines), prefixes removed."""
        return "\n".join(line[len("remote: "):].rstrip() for line in self.output.splitlines()
                         if line.startswith("remote: "))


@dataclass
class Platform:
    controller: object
    env: dict
    home: Path
    builder_port: int
    registry: str
    workdir: Path
    registry_auth: dict  # the platform's registry account

    def registry_client(self):
        import requests

        from builder.registry import RegistryClient

        return RegistryClient(requests.Session(), self.registry, self.registry_auth)

    def new_user(self, name: str | None = None):
        """Register a user with a fresh ed25519 key added to the controller; return (name, token, key path)."""
        name = name or f"u{uuid.uuid4().hex[:8]}"
        token = self.controller.register(name)
        key = self.make_key(name)
        r = self.controller.api(token).post(f"{self.controller.url}/v1/keys",
                                            json={"id": name, "public": key.with_suffix(".pub").read_text()},
                                            timeout=10)
        assert r.status_code == 201, r.text
        return name, token, key

    def make_key(self, name: str) -> Path:
        key = self.workdir / "keys" / name
        key.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)], check=True)
        return key

    def create_app(self, token: str, name: str | None = None) -> str:
        name = name or f"app-{uuid.uuid4().hex[:8]}"
        r = self.controller.api(token).post(f"{self.controller.url}/v1/apps", json={"id": name}, timeout=10)
        assert r.status_code == 201, r.text
        return name

    def releases(self, token: str, app: str) -> list[dict]:
        r = self.controller.api(token).get(f"{self.controller.url}/v1/apps/{app}/releases", timeout=10)
        assert r.status_code == 200, r.text
        data = r.json()
        return data.get("results", data) if isinstance(data, dict) else data

    def checkout(self, example: str | None, name: str | None = None) -> Path:
        """A fresh git working copy (one commit) of an example app, or an empty one."""
        work = self.workdir / "src" / (name or uuid.uuid4().hex[:8])
        if example:
            shutil.copytree(EXAMPLES / example, work)
        else:
            work.mkdir(parents=True)
        git(work, "init", "-q", "-b", "master")
        commit(work, "initial")
        return work

    def remote(self, app: str) -> str:
        return f"ssh://git@127.0.0.1:{self.builder_port}/{app}.git"

    def push(self, work: Path, key: Path, app: str, refspec: str = "master", *extra: str,
             timeout: float = 300) -> PushResult:
        return self._git(key, ["-C", str(work), "push", *extra, self.remote(app), refspec], timeout)

    def clone(self, key: Path, app: str, dest: Path) -> PushResult:
        return self._git(key, ["clone", "-q", self.remote(app), str(dest)], 60)

    def _git(self, key: Path, args: list[str], timeout: float) -> PushResult:
        """The real git and OpenSSH clients, with ``key`` only."""
        ssh = (f"ssh -i {key} -o IdentitiesOnly=yes -o StrictHostKeyChecking=no "
               f"-o UserKnownHostsFile={self.workdir / 'known_hosts'} -o LogLevel=ERROR")
        env = {**os.environ, "GIT_SSH_COMMAND": ssh, "GIT_TERMINAL_PROMPT": "0"}
        proc = subprocess.run(["git", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                              timeout=timeout)
        return PushResult(proc.returncode, proc.stdout)

    def repo_ref(self, app: str, ref: str = "refs/heads/master") -> str | None:
        repo = self.home / "repos" / f"{app}.git"
        proc = subprocess.run(["git", f"--git-dir={repo}", "rev-parse", "--verify", "-q", ref],
                              stdout=subprocess.PIPE, text=True)
        return proc.stdout.strip() or None

    def releases_versions(self, token: str, app: str) -> list[int]:
        return sorted(r["version"] for r in self.releases(token, app))

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-4000:]}" for p in sorted((self.home / "logs").glob("*.log")))


def remove_images(docker_client, registry: str) -> None:
    """Remove the local images a platform's builds tagged ``<registry>/<app>:<sha>``."""
    import docker.errors

    for image in docker_client.images.list():
        for tag in image.tags:
            if tag.startswith(registry + "/"):
                try:
                    docker_client.images.remove(tag)
                except docker.errors.DockerException:
                    pass  # in use by a container another fixture still runs


def git(work: Path, *args: str) -> str:
    proc = subprocess.run(["git", "-C", str(work), *args], check=True, stdout=subprocess.PIPE, text=True)
    return proc.stdout.strip()


def commit(work: Path, message: str) -> str:
    git(work, "add", "-A")
    git(work, "-c", "user.name=Test", "-c", "user.email=test@example.com", "commit", "-q",
        "--allow-empty", "-m", message)
    return git(work, "rev-parse", "HEAD")


@pytest.fixture(scope="module")
def platform(shared_controller, redis_url, docker_client, tmp_path_factory):
    """Registry + worker + builder SSH server on free ports, wired to the module's controller."""
    from builder.registry import start_registry
    from builder.stack import ensure_stack_images

    home = tmp_path_factory.mktemp("builder-home")
    builder_port = free_port()
    env = {
        **os.environ, **shared_controller.env,
        "DEIS_HOME": str(home),
        "DEIS_REDIS_URL": redis_url,
        "DEIS_BUILDER_PORT": str(builder_port),
        "DEIS_REGISTRY_PORT": str(free_port()),
        "DEIS_CONTROLLER_URL": shared_controller.url,
        "DEIS_BUILDER_KEEP_IMAGES": str(KEEP_IMAGES),
        "PYTHONPATH": str(REPO_ROOT),
    }
    settings = load(env)
    ensure_stack_images(docker_client, settings)
    registry = start_registry(settings)
    procs = [registry]
    try:
        procs.append(spawn([sys.executable, "-m", "builder.worker"], home / "logs" / "worker.log",
                           env=env, cwd=REPO_ROOT))
        server = spawn([sys.executable, "-m", "builder.server"], home / "logs" / "builder.log",
                       env=env, cwd=REPO_ROOT)
        procs.append(server)
        wait_for(lambda: port_answers(builder_port), 30, "builder", process=server)
        yield Platform(controller=shared_controller, env=env, home=home, builder_port=builder_port,
                       registry=settings.registry, workdir=tmp_path_factory.mktemp("builder-work"),
                       registry_auth=settings.registry_auth)
    finally:
        for proc in reversed(procs):
            stop_pid(proc.pid)
        remove_images(docker_client, settings.registry)
        remove_networks(docker_client, home)


def remove_networks(docker_client, home) -> None:
    """The app networks the builds of this platform joined (they carry its label)."""
    from scheduler.containers import LABEL_PLATFORM
    from scheduler.scheduler import platform_id

    for network in docker_client.networks.list(filters={"label": f"{LABEL_PLATFORM}={platform_id(home)}"}):
        network.remove()


@pytest.fixture(scope="module")
def owner(platform):
    """A user with a registered key: (name, token, private key path)."""
    return platform.new_user()


@pytest.fixture(scope="session")
def stack(docker_client):
    """(runtimes run image, build image) of the stack: DEIS_STACK_* as given, else the default ones, made
    from the stack's cached rootfs if missing."""
    from builder.stack import ensure_stack_images

    settings = load(os.environ)
    ensure_stack_images(docker_client, settings)
    return settings.stack_runtimes_image, settings.stack_build_image


@pytest.fixture(scope="session")
def build_image(stack):
    return stack[1]


@pytest.fixture(scope="session")
def run_image(stack):
    return stack[0]

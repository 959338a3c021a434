"""Services for the builder benchmark, started as the builder's tests start them.

:func:`builder_platform` runs Redis, a controller (gunicorn), the private registry, a build
worker and the builder's SSH server on free loopback ports under a temp ``DEIS_HOME`` and
yields the same :class:`tests.builder.conftest.Platform` the end-to-end tests use.
:func:`native_sshd` runs OpenSSH's own ``/usr/sbin/sshd`` with its own config, host key and
authorized_keys, so ``git push`` can reach the native ``git-receive-pack`` for comparison.
Everything is stopped by PID.
"""
from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from deisctl import redis_server  # noqa: E402
from deiscore.processes import free_port, port_answers, spawn, stop_pid, wait_for  # noqa: E402
from deiscore.settings import load  # noqa: E402
from tests.builder.conftest import Platform, remove_images  # noqa: E402
from tests.conftest import start_controller  # noqa: E402


@dataclass
class Running:
    platform: Platform
    builder_pid: int
    worker_pid: int


@contextlib.contextmanager
def builder_platform(workdir: Path, docker_client):
    """Redis, controller, registry, worker and builder; yields :class:`Running`."""
    from builder.registry import start_registry
    from builder.stack import ensure_stack_images

    procs = []
    registry = None
    try:
        redis_port = free_port()
        redis_dir = workdir / "redis"
        redis_dir.mkdir(parents=True)
        redis_password = secrets.token_urlsafe(32)
        config = redis_server.write_config(redis_dir / "redis.conf", redis_port, redis_password, persistent=False)
        redis = spawn(redis_server.argv(shutil.which("redis-server")), redis_dir / "redis.log", cwd=redis_dir,
                      stdin=config)
        procs.append(redis)
        wait_for(lambda: port_answers(redis_port), 10, "redis-server", process=redis)

        controller_home = workdir / "controller"
        controller_home.mkdir()
        controller, controller_proc = start_controller(controller_home)
        procs.append(controller_proc)

        home = workdir / "builder-home"
        builder_port = free_port()
        env = {
            **os.environ, **controller.env,
            "DEIS_HOME": str(home),
            "DEIS_REDIS_URL": f"redis://:{redis_password}@127.0.0.1:{redis_port}/0",
            "DEIS_BUILDER_PORT": str(builder_port),
            "DEIS_REGISTRY_PORT": str(free_port()),
            "DEIS_CONTROLLER_URL": controller.url,
            "PYTHONPATH": str(REPO_ROOT),
        }
        settings = load(env)
        registry = settings.registry
        ensure_stack_images(docker_client, settings)
        procs.append(start_registry(settings))
        worker = spawn([sys.executable, "-m", "builder.worker"], home / "logs" / "worker.log",
                       env=env, cwd=REPO_ROOT)
        procs.append(worker)
        server = spawn([sys.executable, "-m", "builder.server"], home / "logs" / "builder.log",
                       env=env, cwd=REPO_ROOT)
        procs.append(server)
        wait_for(lambda: port_answers(builder_port), 30, "builder", process=server)
        work = workdir / "work"
        work.mkdir()
        platform = Platform(controller=controller, env=env, home=home, builder_port=builder_port,
                            registry=settings.registry, workdir=work)
        yield Running(platform=platform, builder_pid=server.pid, worker_pid=worker.pid)
    finally:
        for proc in reversed(procs):
            stop_pid(proc.pid)
        if registry:
            remove_images(docker_client, registry)


SSHD_CONFIG = """\
Port {port}
ListenAddress 127.0.0.1
HostKey {host_key}
PidFile {pidfile}
AuthorizedKeysFile {authorized_keys}
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
AllowUsers {user}
"""


@dataclass
class NativeSSHD:
    port: int
    user: str
    key: Path

    def url(self, bare_repo: Path) -> str:
        return f"ssh://{self.user}@127.0.0.1:{self.port}{bare_repo}"


@contextlib.contextmanager
def native_sshd(workdir: Path, client_key: Path):
    """OpenSSH's sshd on a free loopback port, letting ``client_key`` in as the current user."""
    import getpass

    workdir.mkdir(parents=True, exist_ok=True)
    host_key = workdir / "ssh_host_ed25519_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(host_key)], check=True)
    authorized = workdir / "authorized_keys"
    authorized.write_text(client_key.with_suffix(".pub").read_text())
    authorized.chmod(0o600)
    port = free_port()
    user = getpass.getuser()
    config = workdir / "sshd_config"
    config.write_text(SSHD_CONFIG.format(port=port, host_key=host_key, pidfile=workdir / "sshd.pid",
                                         authorized_keys=authorized, user=user))
    subprocess.run(["/usr/sbin/sshd", "-t", "-f", str(config)], check=True)
    # -D: stay in the foreground, so the PID we hold is the listener's.
    proc = spawn(["/usr/sbin/sshd", "-D", "-e", "-f", str(config)], workdir / "sshd.log")
    try:
        wait_for(lambda: port_answers(port), 10, "sshd", process=proc)
        yield NativeSSHD(port=port, user=user, key=client_key)
    finally:
        stop_pid(proc.pid)

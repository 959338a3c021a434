"""The platform's processes on this machine, in start order, and how to tell each one answers.

Each component is a long-running process that ``deisctl`` starts with an argument list, keeps a
pid file for and stops by that pid. ``prepare`` writes what the process needs before it starts
(the registry's and the router's configuration files). A component with a ``user`` runs as that
system account when ``deisctl`` runs as root, started in its own directory (``workdir``, 0700,
owned by the account), since it cannot traverse the platform home (0700, root's); what it must
read but not own (a configuration with a secret) it gets on ``stdin``.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import requests

from deisctl import redis_server
from deiscore.processes import PLATFORM_USER, parent_pid, pid_alive, port_answers, read_pid
from deiscore.settings import Settings


@dataclass(frozen=True)
class Component:
    name: str
    argv: Callable[[Settings], list[str]]
    answers: Callable[[Settings], bool]
    prepare: Callable[[Settings], None] | None = None
    ready_timeout: float = 30
    enabled: Callable[[Settings], bool] = lambda s: True
    user: str | None = None  # system account to run as (when deisctl is root)
    workdir: Callable[[Settings], Path] | None = None  # where it starts
    stdin: Callable[[Settings], Path] | None = None  # a file it reads on stdin (opened by deisctl)

    def pidfile(self, s: Settings):
        return s.home / "run" / f"{self.name}.pid"


def _python(module: str, *args: str) -> Callable[[Settings], list[str]]:
    return lambda s: [sys.executable, "-m", module, *args]


def _port(attribute: str) -> Callable[[Settings], bool]:
    return lambda s: port_answers(getattr(s, attribute))


def _running(name: str) -> Callable[[Settings], bool]:
    """For processes that serve no port: alive is all there is to ask."""
    def answers(s: Settings) -> bool:
        pid = read_pid(s.home / "run" / f"{name}.pid")
        return pid is not None and pid_alive(pid)
    return answers


def _worker_answers(name: str) -> Callable[[Settings], bool]:
    """An rq worker (builds) or a worker of a pool (deploys) that this component started has registered
    itself with Redis (so it takes jobs)."""
    def answers(s: Settings) -> bool:
        from redis import Redis
        from rq import Worker

        pid = read_pid(s.home / "run" / f"{name}.pid")
        if pid is None:
            return False
        try:
            workers = Worker.all(connection=Redis.from_url(s.redis_url))
        except Exception:  # noqa: BLE001 - Redis down means the worker does not answer either
            return False
        return any(w.pid == pid or parent_pid(w.pid) == pid for w in workers)
    return answers


def _redis_config(s: Settings) -> Path:
    return s.home / "redis.conf"  # outside Redis's own directory: its password, for root alone


def _redis_prepare(s: Settings) -> None:
    redis_server.write_config(_redis_config(s), s.redis_port, s.redis_password)


def _registry_prepare(s: Settings) -> None:
    from builder.registry import platform_accounts, write_config

    write_config(s.home, s.registry_port, platform_accounts(s))


def _registry_argv(s: Settings) -> list[str]:
    return ["docker-registry", "serve", str(s.home / "registry" / "config.yml")]


def _controller_argv(s: Settings) -> list[str]:
    # Threads, so that long requests (logs -f, run) never take every worker: 16 at once (deploys are
    # jobs of the deployer, off the request; the long timeout is for `deis run`).
    # Four processes of four rather than two of eight: fewer threads per GIL shorten the latency tail.
    return [sys.executable, "-m", "gunicorn", "--worker-class", "gthread", "--workers", "4", "--threads", "4",
            "--bind", f"0.0.0.0:{s.controller_port}",
            "--access-logfile", "-", "--timeout", "600", "controller.wsgi:application"]


def _controller_answers(s: Settings) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{s.controller_port}/healthz", timeout=1).status_code == 200
    except requests.RequestException:
        return False


COMPONENTS: list[Component] = [
    Component("redis", lambda s: redis_server.argv(), _port("redis_port"), prepare=_redis_prepare,
              user=PLATFORM_USER, workdir=lambda s: s.home / "redis", stdin=_redis_config),
    Component("registry", _registry_argv, _port("registry_port"), prepare=_registry_prepare),
    Component("router", _python("router"), _port("router_port")),
    Component("controller", _controller_argv, _controller_answers),
    Component("builder", _python("builder.server"), _port("builder_port")),
    Component("worker", _python("builder.worker"), _worker_answers("worker")),
    Component("deployer", _python("controller.worker"), _worker_answers("deployer"),
              enabled=lambda s: s.scheduler != "off"),
    # app.json's cron jobs, as one-off containers of each app's serving release
    Component("cron", _python("controller.crond"), _running("cron"), enabled=lambda s: s.scheduler != "off"),
    # Swarm reconciles its services itself; the loop runs for the local scheduler only.
    Component("reconciler", _python("controller.reconcile", "--interval", "2"),
              _running("reconciler"), enabled=lambda s: s.scheduler == "local"),
]

"""The platform's processes on this machine, in start order, and how to tell each one answers."""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Callable

import requests

from deisctl.processes import port_answers
from deisctl.settings import Settings


@dataclass(frozen=True)
class Component:
    name: str
    argv: Callable[[Settings], list[str]]
    answers: Callable[[Settings], bool]
    ready_timeout: float = 30


def _controller_argv(s: Settings) -> list[str]:
    return [sys.executable, "-m", "gunicorn", "--workers", "4", "--bind", f"0.0.0.0:{s.controller_port}",
            "--access-logfile", "-",
            "--timeout", "600", "controller.wsgi:application"]


def _controller_answers(s: Settings) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{s.controller_port}/healthz", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def _redis_argv(s: Settings) -> list[str]:
    data = s.home / "redis"
    data.mkdir(parents=True, exist_ok=True)
    return ["redis-server", "--port", str(s.redis_port), "--bind", "127.0.0.1", "--dir", str(data),
            "--appendonly", "yes", "--save", ""]


COMPONENTS: list[Component] = [
    Component("redis", _redis_argv, lambda s: port_answers(s.redis_port)),
    Component("controller", _controller_argv, _controller_answers),
]

"""One-off processes (``deis run``): a container of the current release with its config, output
streamed to a callback, exit code returned, container removed afterwards."""
from __future__ import annotations

import logging
import shlex
import threading
import uuid
from typing import Callable, Sequence

from scheduler.containers import DEFAULT_HARDENING, Hardening, plan_oneoff
from scheduler.errors import InvalidSpec
from scheduler.hosts import Host
from scheduler.spec import ReleaseSpec

log = logging.getLogger(__name__)

TIMEOUT_EXIT_CODE = 124  # what coreutils' timeout(1) reports
OnStart = Callable[[Callable[[], None]], None]  # given a function that kills the one-off
BeforeRemove = Callable[[Host, str, int], None]  # given the host, the container's id and its exit code


def command_text(command: str | Sequence[str]) -> str:
    """``deis run -- python manage.py migrate`` arrives as a list: quote it into one command line."""
    text = command if isinstance(command, str) else shlex.join(command)
    if not text.strip():
        raise InvalidSpec("command", command, "a one-off command cannot be empty")
    return text


def run_oneoff(host: Host, spec: ReleaseSpec, command: str | Sequence[str], output: Callable[[bytes], None],
               timeout: float | None = None, hardening: Hardening = DEFAULT_HARDENING,
               on_start: OnStart | None = None, before_remove: BeforeRemove | None = None) -> int:
    """Run ``command`` in a new container of ``spec`` on ``host``; return its exit code.

    ``output`` receives raw stdout/stderr chunks as they come. After ``timeout`` seconds the
    container is killed and the exit code is 124. It runs hardened like the app's processes.
    ``on_start(kill)`` is called once the container runs; ``kill()`` ends it (SIGKILL).
    ``before_remove(host, container_id, exit_code)`` is called once it has exited, before it is
    removed (a predeploy script's changes to the filesystem are committed there).
    """
    plan = plan_oneoff(spec, command_text(command), host.platform, uuid.uuid4().hex[:8], hardening)
    container = host.run(plan)
    if on_start is not None:
        on_start(lambda: host.kill(container.id))
    timed_out = threading.Event()
    timer = None
    if timeout is not None:
        def expire():
            timed_out.set()
            host.kill(container.id)
        timer = threading.Timer(timeout, expire)
        timer.daemon = True
        timer.start()
    try:
        stream = host.follow_logs(container.id, timestamps=False)
        try:
            for chunk in stream:
                output(chunk)
        finally:
            stream.close()
        code = host.wait(container.id)
        if timed_out.is_set():
            code = TIMEOUT_EXIT_CODE
        if before_remove is not None:
            before_remove(host, container.id, code)
    finally:
        if timer is not None:
            timer.cancel()
        host.remove(container.id)
    log.info("one-off %s exited with %d", plan.name, code)
    return code

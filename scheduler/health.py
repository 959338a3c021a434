"""Is a new container ready? Port probe, then the app's HTTP checks; does a new process stay up?

One code path sends every HTTP check (:func:`http_get`): the HEALTHCHECK_* config check
(:func:`wait_healthy`), app.json's startup/readiness checks at the cutover (:func:`run_check`) and its
liveness checks in the reconcile loop (:func:`attempt`). :func:`wait_uptime` is the start check.
"""
from __future__ import annotations

import http.client
import socket
import time
from typing import Callable

from scheduler.errors import SchedulerError
from scheduler.spec import Check, HealthCheck

# Docker's userland proxy accepts on the published port even when nothing listens inside the
# container, then closes at once; a connection that stays open this long reached the app.
PROBE_SETTLE = 0.1
PORT_POLL_INTERVAL = 0.05
ALIVE_CHECK_INTERVAL = 0.25
MAX_BODY = 1 << 20  # bytes of an answer searched for a check's content


class Unhealthy(SchedulerError):
    """A container did not become healthy; ``reason`` says what was seen last."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


def port_accepts(address: str, settle: float = PROBE_SETTLE) -> bool:
    """True when ``host:port`` accepts a connection and keeps it open (or sends a greeting)."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=1.0) as sock:
            sock.settimeout(settle)
            try:
                return sock.recv(1) != b""
            except socket.timeout:
                return True
    except OSError:
        return False


def http_get(address: str, hostname: str, path: str, timeout: float) -> tuple[int, bytes]:
    """``GET path`` from ``host:port`` with ``Host: hostname``: the status and the first
    :data:`MAX_BODY` bytes of the body. Raises ``OSError`` or ``http.client.HTTPException``."""
    host, _, port = address.rpartition(":")
    conn = http.client.HTTPConnection(host.strip("[]"), int(port), timeout=timeout)
    try:
        conn.request("GET", path, headers={"Host": hostname, "User-Agent": "deis-healthcheck"})
        response = conn.getresponse()
        return response.status, response.read(MAX_BODY)
    finally:
        conn.close()


def http_check(address: str, hostname: str, check: HealthCheck) -> tuple[bool, str]:
    """Send ``GET check.path`` with ``Host: hostname``; healthy when the status matches."""
    try:
        status, _ = http_get(address, hostname, check.path, check.timeout)
    except (OSError, http.client.HTTPException) as exc:
        return False, f"GET {check.path} failed: {exc or type(exc).__name__}"
    if status != check.status:
        return False, f"GET {check.path} answered {status}, expected {check.status}"
    return True, f"GET {check.path} answered {status}"


def attempt(address: str | None, hostname: str, check: Check) -> tuple[bool, str]:
    """One try of an app.json path check, as Dokku's checker judges it: any 2xx or 3xx answer (a
    redirect is not followed) whose body contains ``check.content``, within ``check.timeout``."""
    if address is None:
        return False, "the container has no address"
    try:
        status, body = http_get(address, hostname, check.path, check.timeout)
    except (OSError, http.client.HTTPException) as exc:
        return False, f"GET {check.path} failed: {exc or type(exc).__name__}"
    if not 200 <= status < 400:
        return False, f"GET {check.path} answered {status}"
    if check.content is not None and check.content.encode() not in body:
        return False, f"GET {check.path} answered {status} but {check.content!r} was not in the body"
    return True, f"GET {check.path} answered {status}"


def run_check(address: Callable[[], str | None], hostname: str, check: Check, ptype: str, started: float,
              alive: Callable[[], tuple[bool, str]]) -> str:
    """Run an app.json path check on a new container, as Dokku does: the first try ``initial_delay``
    seconds after ``started`` (``time.monotonic()`` when the container started), then up to
    ``attempts`` tries ``wait`` seconds apart. Returns the last observation; raises :class:`Unhealthy`
    naming the check ("web check 'root': GET / answered 503 (attempt 3 of 3)"), or saying the
    container stopped meanwhile."""
    _sleep_alive(started + check.initial_delay - time.monotonic(), alive)
    for number in range(1, check.attempts + 1):
        ok, observation = attempt(address(), hostname, check)
        if ok:
            return observation
        if number < check.attempts:
            _sleep_alive(check.wait, alive)
    raise Unhealthy(f"{ptype} check {check.name!r}: {observation} (attempt {number} of {check.attempts})")


def wait_uptime(seconds: float, started: float, alive: Callable[[], tuple[bool, str]]) -> None:
    """The start check: return once the container has been up ``seconds`` since ``started``
    (``time.monotonic()``); :class:`Unhealthy` ("exited with code 1 within 3s of starting") if it stops."""
    deadline = started + seconds
    while True:
        running, description = alive()
        if not running:
            raise Unhealthy(f"{description} within {seconds:g}s of starting")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        time.sleep(min(ALIVE_CHECK_INTERVAL, remaining))


def _sleep_alive(seconds: float, alive: Callable[[], tuple[bool, str]]) -> None:
    """Sleep ``seconds``, polling ``alive()``: a container that stops meanwhile fails at once."""
    deadline = time.monotonic() + seconds
    while True:
        running, description = alive()
        if not running:
            raise Unhealthy(f"container {description}")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        time.sleep(min(ALIVE_CHECK_INTERVAL, remaining))


def wait_healthy(address: Callable[[], str | None], hostname: str, check: HealthCheck | None, timeout: float,
                 alive: Callable[[], tuple[bool, str]], port: int | None = None) -> float:
    """Wait until the container behind ``address()`` is healthy; return the seconds it took.

    ``alive()`` returns (running, description) and is polled so a crashed container fails fast.
    ``port``: the container port the app should listen on, named when nothing accepted there.
    Raises :class:`Unhealthy` with the last observation.
    """
    started = time.monotonic()
    deadline = started + timeout
    last = f"port {port} did not accept connections" if port else "port did not accept connections"
    next_alive = 0.0
    port_ok = False
    while time.monotonic() < deadline:
        now = time.monotonic()
        if now >= next_alive:
            running, description = alive()
            if not running:
                raise Unhealthy(f"container {description}")
            next_alive = now + ALIVE_CHECK_INTERVAL
        target = address()
        if target is not None and not port_ok:
            port_ok = port_accepts(target)
            if port_ok and check is not None and check.initial_delay:
                time.sleep(min(check.initial_delay, max(0.0, deadline - time.monotonic())))
        if port_ok:
            if check is None:
                return time.monotonic() - started
            ok, last = http_check(target, hostname, check)
            if ok:
                return time.monotonic() - started
            time.sleep(check.interval)
        else:
            time.sleep(PORT_POLL_INTERVAL)
    raise Unhealthy(f"not healthy after {timeout:g}s: {last}")

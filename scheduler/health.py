"""Is a new web container ready for traffic? Port probe, then the app's optional HTTP check."""
from __future__ import annotations

import http.client
import socket
import time
from typing import Callable

from scheduler.errors import SchedulerError
from scheduler.spec import HealthCheck

# Docker's userland proxy accepts on the published port even when nothing listens inside the
# container, then closes at once; a connection that stays open this long reached the app.
PROBE_SETTLE = 0.1
PORT_POLL_INTERVAL = 0.05
ALIVE_CHECK_INTERVAL = 0.25


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


def http_check(address: str, hostname: str, check: HealthCheck) -> tuple[bool, str]:
    """Send ``GET check.path`` with ``Host: hostname``; healthy when the status matches."""
    host, _, port = address.rpartition(":")
    conn = http.client.HTTPConnection(host.strip("[]"), int(port), timeout=check.timeout)
    try:
        conn.request("GET", check.path, headers={"Host": hostname, "User-Agent": "deis-healthcheck"})
        response = conn.getresponse()
        response.read()
    except (OSError, http.client.HTTPException) as exc:
        return False, f"GET {check.path} failed: {exc or type(exc).__name__}"
    finally:
        conn.close()
    if response.status != check.status:
        return False, f"GET {check.path} answered {response.status}, expected {check.status}"
    return True, f"GET {check.path} answered {response.status}"


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

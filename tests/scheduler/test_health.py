"""Health checks against a tiny real HTTP server on loopback: the port probe, app.json's path checks
(status, content, attempts, wait, timeout, initial delay) and the start check's uptime."""
from __future__ import annotations

import http.server
import threading
import time

import pytest

from deiscore.processes import free_port
from scheduler.health import Unhealthy, attempt, run_check, wait_healthy, wait_uptime
from scheduler.spec import Check, HealthCheck


class Script:
    """What the server answers: one (status, body, delay) per request in turn, the last one repeated."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.requests: list[tuple[float, str, str]] = []  # (monotonic time, path, Host header)

    def next(self, path: str, host: str):
        self.requests.append((time.monotonic(), path, host))
        return self.answers[min(len(self.requests), len(self.answers)) - 1]


@pytest.fixture
def server():
    scripts = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            status, body, delay = scripts["current"].next(self.path, self.headers["Host"])
            time.sleep(delay)
            data = body.encode()
            try:
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass  # the checker gave up (timeout)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()

    def serve(*answers) -> tuple[str, Script]:
        scripts["current"] = Script(*answers)
        return f"127.0.0.1:{httpd.server_address[1]}", scripts["current"]
    try:
        yield serve
    finally:
        httpd.shutdown()
        httpd.server_close()


def running():
    return True, "running"


def test_a_port_that_never_accepts_is_named():
    closed = f"127.0.0.1:{free_port()}"
    with pytest.raises(Unhealthy, match=r"not healthy after 0.3s: port 8080 did not accept connections"):
        wait_healthy(lambda: closed, "app.test", None, 0.3, running, port=8080)


def test_config_check_wants_its_status_and_sends_the_apps_host(server):
    address, script = server((500, "no", 0), (204, "", 0))
    check = HealthCheck(path="/healthz", status=204, interval=0.05)
    assert wait_healthy(lambda: address, "shop.deis.test", check, 5, running) < 5
    assert [(path, host) for _, path, host in script.requests] == [("/healthz", "shop.deis.test")] * 2


def test_content_that_never_matches_fails_after_every_attempt(server):
    address, script = server((200, "starting up", 0))
    check = Check(name="root", path="/", content="ready", attempts=3, wait=0.2)
    began = time.monotonic()
    with pytest.raises(Unhealthy) as info:
        run_check(lambda: address, "shop.deis.test", check, "web", began, running)
    assert info.value.reason == "web check 'root': GET / answered 200 but 'ready' was not in the body (attempt 3 of 3)"
    times = [t for t, _, _ in script.requests]
    assert len(times) == 3 and all(b - a >= 0.2 for a, b in zip(times, times[1:]))  # wait between attempts
    assert time.monotonic() - began < 1.5


def test_a_later_attempt_that_matches_passes(server):
    address, script = server((503, "down", 0), (200, "still booting", 0), (200, "<p>ready</p>", 0))
    check = Check(name="root", path="/status", content="ready", attempts=3, wait=0.05)
    assert run_check(lambda: address, "shop.deis.test", check, "web", time.monotonic(), running) == \
        "GET /status answered 200"
    assert len(script.requests) == 3 and {host for _, _, host in script.requests} == {"shop.deis.test"}


def test_one_attempt_judges_like_dokku(server):
    check = Check(path="/", attempts=1)
    for status, healthy in ((200, True), (204, True), (302, True), (404, False), (500, False)):
        address, _ = server((status, "", 0))
        ok, seen = attempt(address, "h.test", check)
        assert ok is healthy and seen == f"GET / answered {status}"
    assert attempt(None, "h.test", check) == (False, "the container has no address")
    closed = f"127.0.0.1:{free_port()}"
    ok, seen = attempt(closed, "h.test", check)
    assert not ok and seen.startswith("GET / failed: ") and "refused" in seen.lower()


def test_each_attempt_has_its_timeout(server):
    address, script = server((200, "slow", 1.0))
    check = Check(name="slow", path="/", attempts=2, wait=0, timeout=0.2)
    began = time.monotonic()
    with pytest.raises(Unhealthy, match=r"^web check 'slow': GET / failed: timed out \(attempt 2 of 2\)$"):
        run_check(lambda: address, "h.test", check, "web", began, running)
    assert len(script.requests) == 2 and time.monotonic() - began < 1.0


def test_the_first_attempt_waits_for_the_initial_delay_after_the_start(server):
    address, script = server((200, "ok", 0))
    started = time.monotonic()
    run_check(lambda: address, "h.test", Check(path="/", initial_delay=0.4), "web", started, running)
    assert script.requests[0][0] - started >= 0.4
    # the delay counts from the container's start: one started long enough ago is checked at once
    address, script = server((200, "ok", 0))
    before = time.monotonic()
    run_check(lambda: address, "h.test", Check(path="/", initial_delay=0.4), "web", before - 1, running)
    assert script.requests[0][0] - before < 0.3


def test_a_container_that_stops_between_attempts_fails_at_once(server):
    address, script = server((500, "", 0))
    deadline = time.monotonic() + 0.3

    def alive():
        return (True, "running") if time.monotonic() < deadline else (False, "exited with code 3")
    with pytest.raises(Unhealthy, match=r"^container exited with code 3$"):
        run_check(lambda: address, "h.test", Check(path="/", attempts=5, wait=2), "web", time.monotonic(), alive)
    assert time.monotonic() - deadline < 0.5 and len(script.requests) == 1


def test_the_start_check_wants_the_process_up_for_its_uptime():
    began = time.monotonic()
    wait_uptime(0.5, began, running)
    assert 0.5 <= time.monotonic() - began < 0.9
    exits_at = time.monotonic() + 0.2

    def alive():
        return (True, "running") if time.monotonic() < exits_at else (False, "exited with code 1")
    with pytest.raises(Unhealthy, match=r"^exited with code 1 within 3s of starting$"):
        wait_uptime(3, time.monotonic(), alive)
    assert time.monotonic() - exits_at < 0.5
    with pytest.raises(Unhealthy, match="exited with code 0 within 3s"):  # a process type must keep running
        wait_uptime(3, time.monotonic(), lambda: (False, "exited with code 0"))

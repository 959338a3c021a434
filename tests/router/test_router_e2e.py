"""The router with a real nginx on a free port, in front of in-process upstream servers."""
from __future__ import annotations

import http.server
import json
import socket
import threading
import time

import pytest
import requests

from deiscore.processes import free_port, port_answers, spawn, stop_pid, wait_for
from router import ConfigRejected, InvalidRoute, Router

pytestmark = pytest.mark.slow


class Upstream:
    """A loopback HTTP server answering its name and the request headers; WebSocket upgrades are echoed."""

    def __init__(self, name: str):
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                if self.headers.get("Upgrade", "").lower() == "websocket":
                    self.send_response(101)
                    self.send_header("Upgrade", "websocket")
                    self.send_header("Connection", "Upgrade")
                    self.end_headers()
                    self.wfile.flush()
                    self.wfile.write(self.rfile.read(5))  # echo one frame-sized chunk
                    self.close_connection = True
                    return
                body = json.dumps({"name": outer.name, "headers": dict(self.headers)}).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = json.dumps({"name": outer.name, "received": len(self.rfile.read(length))}).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.name = name
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def router(tmp_path):
    router = Router(tmp_path / "router", free_port(), "127.0.0.1", worker_processes=1)
    router.start()
    yield router
    router.stop()


@pytest.fixture
def upstreams():
    servers = [Upstream("one"), Upstream("two")]
    yield servers
    for server in servers:
        server.close()


def get(router, host, path="/", **kwargs):
    return requests.get(f"http://127.0.0.1:{router.port}{path}", headers={"Host": host, **kwargs}, timeout=5)


def test_routes_by_host_round_robin_with_forwarded_headers(router, upstreams):
    router.set_app_routes("shop", ["shop.deis.test", "www.shop.test"], [u.address for u in upstreams])
    names = {get(router, "shop.deis.test").json()["name"] for _ in range(6)}
    assert names == {"one", "two"}
    headers = get(router, "www.shop.test").json()["headers"]
    assert headers["Host"] == "www.shop.test"
    assert headers["X-Forwarded-For"] == "127.0.0.1"
    assert headers["X-Forwarded-Proto"] == "http"
    assert headers["X-Forwarded-Port"] == str(router.port)
    assert headers["X-Real-IP"] == "127.0.0.1"
    assert get(router, "www.shop.test", **{"X-Forwarded-Proto": "https"}).json()["headers"]["X-Forwarded-Proto"] == "https"


def test_unknown_host_404_and_no_upstreams_503(router):
    assert get(router, "nobody.deis.test").status_code == 404
    router.set_app_routes("idle", ["idle.deis.test"], [])
    response = get(router, "idle.deis.test")
    assert response.status_code == 503 and "idle has no running web processes" in response.text


def test_passive_failover_to_the_next_upstream(router, upstreams):
    dead = f"127.0.0.1:{free_port()}"
    router.set_app_routes("shop", ["shop.deis.test"], [dead, upstreams[0].address])
    assert all(get(router, "shop.deis.test").status_code == 200 for _ in range(10))


def test_a_sync_from_a_listing_older_than_a_death_leaves_the_dead_upstream_out(router, upstreams):
    one, two = upstreams[0].address, upstreams[1].address
    router.set_app_routes("shop", ["shop.deis.test"], [one, two])
    listed_at = time.monotonic()  # a listing made while both were alive...
    router.remove_upstreams("shop", [two])  # ...then `two` died (the death watch)
    router.set_app_routes("shop", ["shop.deis.test"], [one, two], listed_at=listed_at)  # the stale sync
    assert router.route("shop").upstreams == (one,)
    # a listing made after the death is believed: a new container may have the address now
    router.set_app_routes("shop", ["shop.deis.test"], [one, two], listed_at=time.monotonic())
    assert router.route("shop").upstreams == (one, two)


def test_rejected_config_is_never_loaded(router, upstreams):
    router.set_app_routes("good", ["good.deis.test"], [upstreams[0].address])
    before = (router.prefix / "nginx.conf").read_text()
    with pytest.raises(ConfigRejected) as info:
        router.set_app_routes("bad", ["bad.deis.test"], ["no-such-host.invalid:80"])
    assert "host not found" in info.value.nginx_output
    with pytest.raises(InvalidRoute):
        router.set_app_routes("bad", ["bad.deis.test"], [upstreams[0].address], {"read_timeout": "1s; evil"})
    assert (router.prefix / "nginx.conf").read_text() == before
    assert [r.app for r in router.routes()] == ["good"]
    assert get(router, "good.deis.test").json()["name"] == "one"
    assert get(router, "bad.deis.test").status_code == 404


def test_body_size_setting(router, upstreams):
    router.set_app_routes("shop", ["shop.deis.test"], [upstreams[0].address], {"max_body_size": "1k"})
    response = requests.post(f"http://127.0.0.1:{router.port}/", data=b"x" * 4096,
                             headers={"Host": "shop.deis.test"}, timeout=5)
    assert response.status_code == 413
    router.set_app_routes("shop", ["shop.deis.test"], [upstreams[0].address], {"max_body_size": "8m"})
    big = requests.post(f"http://127.0.0.1:{router.port}/", data=b"x" * (3 * 1024 ** 2),
                        headers={"Host": "shop.deis.test"}, timeout=10)  # streamed: no temp files needed
    assert big.status_code == 200 and big.json()["received"] == 3 * 1024 ** 2


def test_reloads_under_keepalive_load_fail_no_request(router, upstreams):
    """Every route change reloads the routing tier; clients keep their connections to the edge."""
    router.set_app_routes("shop", ["shop.deis.test"], [upstreams[0].address])
    edge_pid = router.pid()
    stop, totals, errors = threading.Event(), {"ok": 0}, []

    def load():
        session = requests.Session()
        while not stop.is_set():
            try:
                response = session.get(f"http://127.0.0.1:{router.port}/", headers={"Host": "shop.deis.test"},
                                       timeout=5)
                assert response.status_code == 200, response.status_code
                totals["ok"] += 1
            except (requests.RequestException, AssertionError) as exc:
                errors.append(repr(exc))

    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        for i in range(30):
            router.set_app_routes("shop", ["shop.deis.test"], [upstreams[i % 2].address])
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    print(f"30 reloads under load: {totals['ok']} ok, {len(errors)} failed")
    assert errors == [] and totals["ok"] > 30
    assert router.pid() == edge_pid  # the edge was never restarted


def test_serve_runs_both_masters_in_the_foreground(tmp_path, upstreams):
    port = free_port()
    served = Router(tmp_path / "router", port, "127.0.0.1", worker_processes=1)
    served.set_app_routes("shop", ["shop.deis.test"], [upstreams[0].address])
    stop = threading.Event()
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("code", served.serve(stop, poll=0.1)))
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while served.pid() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert get(served, "shop.deis.test").json()["name"] == "one"
    finally:
        stop.set()
        thread.join(timeout=15)
    assert result == {"code": 0} and served.pid() is None
    assert not (tmp_path / "router" / "sock" / "routing.sock").exists()


def test_websocket_upgrade_passes(router, upstreams):
    router.set_app_routes("ws", ["ws.deis.test"], [upstreams[0].address])
    with socket.create_connection(("127.0.0.1", router.port), timeout=5) as sock:
        sock.sendall(b"GET /socket HTTP/1.1\r\nHost: ws.deis.test\r\nUpgrade: websocket\r\n"
                     b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: x\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(1024)
        assert head.startswith(b"HTTP/1.1 101")
        sock.sendall(b"hello")
        echoed = head.split(b"\r\n\r\n", 1)[1]
        while len(echoed) < 5:
            echoed += sock.recv(1024)
        assert echoed == b"hello"


def test_state_survives_restart_and_concurrent_updates(router, upstreams):
    def add(i):
        Router(router.prefix, router.port, "127.0.0.1").set_app_routes(f"app{i}", [f"app{i}.deis.test"],
                                                                      [upstreams[i % 2].address])

    threads = [threading.Thread(target=add, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(router.routes()) == 8
    assert router.set_app_routes("app1", ["app1.deis.test"], [upstreams[1].address]) is False  # unchanged
    router.stop()
    assert router.pid() is None
    router.start()
    assert all(get(router, f"app{i}.deis.test").status_code == 200 for i in range(8))
    assert router.remove_app("app3") and get(router, "app3.deis.test").status_code == 404


def test_nginx_started_directly_serves_without_an_edge(tmp_path, upstreams):
    """What ``nginx -p PREFIX -c PREFIX/nginx.conf`` runs when the router's edge was never configured."""
    direct = Router(tmp_path / "router", free_port(), "127.0.0.1", worker_processes=1)
    direct.set_app_routes("shop", ["shop.deis.test"], [upstreams[0].address])
    assert not direct.has_edge
    proc = spawn(["nginx", "-p", f"{direct.prefix}/", "-c", str(direct.prefix / "nginx.conf"), "-g", "daemon off;"],
                 direct.prefix / "logs" / "master.log")
    try:
        wait_for(lambda: port_answers(direct.port), 10, "nginx", process=proc)
        headers = get(direct, "shop.deis.test").json()["headers"]
        assert headers["X-Forwarded-Port"] == str(direct.port) and headers["X-Forwarded-For"] == "127.0.0.1"
        direct.set_app_routes("shop", ["shop.deis.test"], [upstreams[1].address])  # reloads that master
        assert get(direct, "shop.deis.test").json()["name"] == "two"
    finally:
        stop_pid(proc.pid)


def test_longest_app_name_and_domain_route_and_later_updates_apply(router, upstreams):
    from deiscore.validation import APP_NAME_MAX
    from tests.router.test_nginxconf import longest_domain

    app = "x" * APP_NAME_MAX
    names = [f"{app}.deis.test", longest_domain()]
    router.set_app_routes(app, names, [upstreams[0].address])
    router.set_app_routes("shop", ["shop.deis.test"], [upstreams[1].address])
    assert all(get(router, name).json()["name"] == "one" for name in names)
    assert get(router, "shop.deis.test").json()["name"] == "two"
    router.set_app_routes(app, names, [upstreams[1].address])  # the issue: every later update was refused
    assert all(get(router, name).json()["name"] == "two" for name in names)


def test_remove_upstreams_takes_out_only_those(router, upstreams):
    dead = f"127.0.0.1:{free_port()}"
    router.set_app_routes("shop", ["shop.deis.test"], [dead, upstreams[0].address], {"read_timeout": "30s"})
    assert router.remove_upstreams("shop", [dead, "127.0.0.1:1"]) is True
    route = router.route("shop")
    assert route.upstreams == (upstreams[0].address,) and route.settings.read_timeout == "30s"
    assert router.remove_upstreams("shop", [dead]) is False  # nothing to do: no reload
    assert router.remove_upstreams("nobody", [dead]) is False
    assert get(router, "shop.deis.test").json()["name"] == "one"
    assert router.remove_upstreams("shop", [upstreams[0].address])
    assert get(router, "shop.deis.test").status_code == 503

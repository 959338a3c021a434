"""The death watch: with real Docker containers behind a real nginx router, a container killed with
``docker kill`` leaves the router on the engine's event, long before a reconcile round; with an
in-memory host and router, which events count and when the engine is asked."""
from __future__ import annotations

import secrets
import statistics
import time

import pytest

from scheduler import Host, ReleaseSpec
from scheduler.containers import Container
from scheduler.deathwatch import DeathWatch
from tests.scheduler.conftest import get

APP = f"watch{secrets.token_hex(3)}"


def release(image, version=1, scale=2):
    return ReleaseSpec(app=APP, version=version, image=image, kind="image", config={"MSG": "hello"},
                       scale={"cmd": scale}, healthcheck={"path": "/healthz", "interval": 0.1})


class Timed:
    """The router, recording when each ``remove_upstreams`` returned: nginx runs the new configuration."""

    def __init__(self, router):
        self.router, self.removed = router, []

    def __getattr__(self, name):
        return getattr(self.router, name)

    def remove_upstreams(self, app, upstreams):
        changed = self.router.remove_upstreams(app, upstreams)
        if changed:
            self.removed.append((time.monotonic(), set(upstreams)))
        return changed


def wait_for(check, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.002)
    return check()


@pytest.mark.slow
def test_killed_container_leaves_the_router_on_its_die_event(scheduler, router, echo_image, docker_client):
    scheduler.deploy(release(echo_image, scale=3))
    timed = Timed(router)
    host = scheduler.hosts["local"]
    latencies = []
    with DeathWatch(lambda: scheduler.hosts, timed) as watch:
        assert wait_for(lambda: watch.subscribed() == {"local"})
        for _ in range(3):
            victim = next(c for c in scheduler.containers(APP) if c.running)
            assert victim.address in router.route(APP).upstreams
            began = time.monotonic()
            docker_client.api.kill(victim.id)
            assert wait_for(lambda: any(victim.address in gone for _, gone in timed.removed), timeout=5), \
                f"{victim.address} still routed: {router.route(APP).upstreams}"
            done = next(t for t, gone in timed.removed if victim.address in gone)
            latencies.append((done - began) * 1000)
            # The others keep serving; nothing else was taken out.
            assert victim.address not in router.route(APP).upstreams
            assert set(router.route(APP).upstreams) == {c.address for c in host.containers(APP) if c.running}
            assert get(router, APP).text == "hello v1"
            scheduler.remove([c for c in host.containers(APP) if not c.running])
            scheduler.deploy(release(echo_image, scale=3))  # back to three (the reconcile loop's work)
            timed.removed.clear()
    print(f"docker kill -> route gone (nginx reloaded): {', '.join(f'{ms:.0f}' for ms in latencies)} ms, "
          f"median {statistics.median(latencies):.0f} ms")
    assert statistics.median(latencies) < 500  # about 30-60 ms on an idle machine


@pytest.mark.slow
def test_scheduler_own_stops_change_nothing_and_oneoffs_are_ignored(scheduler, router, echo_image):
    timed = Timed(router)
    with DeathWatch(lambda: scheduler.hosts, timed) as watch:
        assert wait_for(lambda: watch.subscribed() == {"local"})
        scheduler.deploy(release(echo_image, scale=2))
        scheduler.deploy(release(echo_image, version=2, scale=1))  # the old ones stop after the cutover
        output = []
        assert scheduler.run(release(echo_image, version=2, scale=1), "true", output.append) == 0
        time.sleep(0.5)
    assert timed.removed == []
    assert len(router.route(APP).upstreams) == 1 and get(router, APP).text == "hello v2"


class FlakyEngine:
    """A Docker client whose event stream fails the first ``failures`` times."""

    def __init__(self, client, failures):
        self._client, self.failures = client, failures
        self.api = self

    def events(self, **kwargs):
        if self.failures:
            self.failures -= 1
            raise ConnectionError("engine restarting")
        return self._client.api.events(**kwargs)

    def __getattr__(self, name):
        return getattr(self._client.api, name)


@pytest.mark.slow
def test_subscribes_again_after_errors_and_follows_hosts_as_they_come_and_go(
        scheduler, router, echo_image, docker_client, platform):
    scheduler.deploy(release(echo_image, scale=2))
    flaky = Host("flaky", FlakyEngine(docker_client, failures=2), "127.0.0.1", platform)
    hosts = {}
    with DeathWatch(lambda: dict(hosts), router, refresh=0.1) as watch:
        assert watch.subscribed() == set()
        hosts["flaky"] = flaky
        assert wait_for(lambda: watch.subscribed() == {"flaky"}, timeout=5)  # after two failed attempts
        victim = scheduler.containers(APP)[0]
        docker_client.api.kill(victim.id)
        assert wait_for(lambda: victim.address not in router.route(APP).upstreams, timeout=5)
        del hosts["flaky"]
        assert wait_for(lambda: watch.subscribed() == set(), timeout=5)
        # Not watched any more: a death waits for the reconcile loop.
        other = next(c for c in scheduler.containers(APP) if c.running)
        docker_client.api.kill(other.id)
        time.sleep(0.5)
        assert other.address in router.route(APP).upstreams


@pytest.mark.slow
def test_sweep_on_subscribe_takes_out_what_died_unwatched(scheduler, router, echo_image, docker_client):
    scheduler.deploy(release(echo_image, scale=2))
    victim = scheduler.containers(APP)[0]
    docker_client.api.kill(victim.id)
    time.sleep(0.2)
    assert victim.address in router.route(APP).upstreams
    with DeathWatch(lambda: scheduler.hosts, router):
        assert wait_for(lambda: victim.address not in router.route(APP).upstreams, timeout=5)
    assert len(router.route(APP).upstreams) == 1


class MemoryRouter:
    def __init__(self, upstreams):
        self.upstreams = {app: list(u) for app, u in upstreams.items()}

    def route(self, app):
        return next((r for r in self.routes() if r.app == app), None)

    def routes(self):
        from router.routes import make_route
        return [make_route(app, [f"{app}.deis.test"], u) for app, u in self.upstreams.items()]

    def remove_upstreams(self, app, gone):
        before = list(self.upstreams[app])
        self.upstreams[app] = [u for u in before if u not in set(gone)]
        return self.upstreams[app] != before


class MemoryHost:
    """A host whose containers are plain data; counts listings (engine round trips)."""

    def __init__(self, name, address, containers):
        self.name, self.address, self.via_bridge, self.platform = name, address, False, "test"
        self.running = {c[0]: c for c in containers}  # id -> (id, app, port)
        self.listings = 0

    def containers(self, app=None):
        self.listings += 1
        return [Container(id=i, name=i, host=self.name, app=a, version=1, type="web", num=1, status="running",
                          address=f"{self.address}:{port}") for i, a, port in self.running.values()
                if app is None or a == app]


def event(action, container, app, **attributes):
    return {"Action": action, "id": container, "timeNano": time.time_ns(),
            "Actor": {"Attributes": {"deis.app": app, "deis.type": "web", "name": container, **attributes}}}


def test_deaths_of_known_containers_cost_no_engine_call_and_only_stop_signals_count():
    h1 = MemoryHost("h1", "10.0.0.11", [("a1", "alice", 20001), ("a2", "alice", 20002), ("b1", "bob", 20003)])
    h2 = MemoryHost("h2", "10.0.0.12", [("a3", "alice", 20001)])
    router = MemoryRouter({"alice": ["10.0.0.11:20001", "10.0.0.11:20002", "10.0.0.12:20001"],
                           "bob": ["10.0.0.11:20003"]})
    watch = DeathWatch(lambda: {"h1": h1, "h2": h2}, router)
    watch._sync = lambda: None  # no event streams: events are handed in below
    watch._addresses = frozenset({"10.0.0.11", "10.0.0.12"})
    assert watch.sweep(h1) == [] and h1.listings == 1  # learns what runs

    assert watch.handle(h1, [event("kill", "a1", "alice", signal="1"),  # SIGHUP: a reload, not an end
                             event("die", "r1", "alice", **{"deis.type": "run"}),  # a one-off
                             event("exec_start", "a2", "alice")]) == []
    del h1.running["a1"]
    assert watch.handle(h1, [event("kill", "a1", "alice", signal="9"), event("die", "a1", "alice")]) \
        == ["10.0.0.11:20001"]
    assert h1.listings == 1  # its address was known: no engine call
    assert router.upstreams == {"alice": ["10.0.0.11:20002", "10.0.0.12:20001"], "bob": ["10.0.0.11:20003"]}

    # A container started after the last listing: its start teaches its address...
    h1.running["a4"] = ("a4", "alice", 20004)
    router.upstreams["alice"].append("10.0.0.11:20004")
    watch.handle(h1, [event("start", "a4", "alice")])
    assert h1.listings == 2
    assert watch.handle(h1, [event("die", "a4", "alice")]) == ["10.0.0.11:20004"] and h1.listings == 2
    # ...and one never seen is found by a listing that counts it as gone even while the engine lists it.
    h1.running["a5"] = ("a5", "alice", 20005)
    router.upstreams["alice"].append("10.0.0.11:20005")
    assert watch.handle(h1, [event("kill", "a5", "alice", signal="15")]) == ["10.0.0.11:20005"]
    assert h1.listings == 3
    # The same port on another host is another container.
    assert router.upstreams["alice"] == ["10.0.0.11:20002", "10.0.0.12:20001"]

"""Routing that cannot cross apps, proven the way the defect was found: alice's app under continuous
requests through the router, ``docker kill`` of one of its containers, then ``deis scale web=8`` of
bob's app (whose new containers are the next to get addresses), several times; every response is
counted and none may be bob's page. On this machine's engine and across a namespace cluster. Also:
the longest app name and domain the API accepts deploy and route."""
from __future__ import annotations

import json
import subprocess
import threading
import time
import uuid
from collections import Counter

import pytest
import requests

from tests.e2e.conftest import running_cluster, wait_until

pytestmark = pytest.mark.slow

ROUNDS = 3
CLUSTER_SUBNET = "10.213.77.0/24"


class Answers:
    """GET / through the router for one app on keep-alive sessions, each response classified by whose
    page it is; bounded in time."""

    def __init__(self, platform, app: str, apps: list[str], clients: int = 2, max_seconds: float = 400):
        self.platform, self.app, self.apps, self.max_seconds = platform, app, apps, max_seconds
        self.counts: Counter = Counter()
        self.samples: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(clients)]

    def _run(self):
        session = requests.Session()
        url = f"http://127.0.0.1:{self.platform.router_port}/"
        headers = {"Host": f"{self.app}.{self.platform.domain}"}
        deadline = time.monotonic() + self.max_seconds
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                response = session.get(url, headers=headers, timeout=10)
                owner = next((a for a in self.apps if response.text.startswith(f"Hello from {a} ")), None)
                kind = (owner if response.status_code == 200 and owner else f"HTTP {response.status_code}")
                text = response.text[:100]
            except requests.RequestException as exc:
                kind, text = "error", repr(exc)[:100]
            with self._lock:
                self.counts[kind] += 1
                if kind != self.app and len(self.samples) < 10:
                    self.samples.append(f"{kind}: {text}")

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def wrong(self) -> int:
        return sum(n for kind, n in self.counts.items() if kind in self.apps and kind != self.app)

    def __enter__(self):
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for thread in self._threads:
            thread.join()


def deploy(platform, name: str) -> None:
    work = platform.checkout("python-web")
    platform.create_app(work, name)
    push = platform.push(work)
    assert push.returncode == 0, push.output + platform.logs()


def routed(platform, app: str) -> tuple[str, ...]:
    """The app's upstreams in the router's persisted routes (written just before nginx reloads)."""
    data = json.loads((platform.home / "router" / "routes.json").read_text())
    return next((tuple(r["upstreams"]) for r in data["routes"] if r["app"] == app), ())


def web_containers(engine: str, platform_label: str, app: str) -> list[str]:
    out = subprocess.run(["docker", "-H", engine, "ps", "-q", "--no-trunc", "--filter", f"label=deis.app={app}",
                          "--filter", f"label=deis.platform={platform_label}", "--filter", "label=deis.type=web"],
                         capture_output=True, text=True, check=True)
    return out.stdout.split()


def crash_and_reuse(platform, engines: list[str], alice: str, bob: str) -> dict:
    """The reproduction: ``ROUNDS`` times, under load on both apps, kill one of alice's web containers
    (on the engines in turn), scale bob to 8 at once, wait until alice has 2 again, scale bob to 1."""
    from scheduler.scheduler import platform_id

    label = platform_id(platform.home)
    platform.deis("scale", "web=2", "-a", alice).ok()
    platform.deis("scale", "web=1", "-a", bob).ok()
    removed_ms, apps = [], [alice, bob]
    with Answers(platform, alice, apps) as for_alice, Answers(platform, bob, apps, clients=1) as for_bob:
        time.sleep(1)
        for round_ in range(ROUNDS):
            engine, victim = next((e, ids[0]) for e in engines[round_ % len(engines):] + engines
                                  if (ids := web_containers(e, label, alice)))
            before = routed(platform, alice)
            assert len(before) == 2, before
            began = time.monotonic()
            subprocess.run(["docker", "-H", engine, "kill", victim], check=True, capture_output=True)
            gone = wait_until(lambda: len(routed(platform, alice)) < 2, timeout=10, interval=0.001)
            removed_ms.append((time.monotonic() - began) * 1000 if gone else None)
            platform.deis("scale", "web=8", "-a", bob).ok()
            assert wait_until(lambda: len(routed(platform, alice)) == 2, timeout=60), routed(platform, alice)
            platform.deis("scale", "web=1", "-a", bob).ok()
        time.sleep(1)
    return {"alice": for_alice, "bob": for_bob, "removed_ms": removed_ms}


def report(platform, where: str, result: dict, alice: str, bob: str) -> None:
    for_alice, for_bob = result["alice"], result["bob"]
    removed = ", ".join("not seen" if ms is None else f"{ms:.0f}" for ms in result["removed_ms"])
    print(f"{where}: docker kill -> route without it (routes.json): {removed} ms")
    log = (platform.home / "logs" / "reconciler.log").read_text(errors="replace").splitlines()
    print("\n".join(line for line in log if f" of {alice} taken out" in line or "death watch" in line))
    print(f"{where}: {for_alice.total} answers for alice: {dict(for_alice.counts)}; "
          f"{for_bob.total} answers for bob: {dict(for_bob.counts)}")
    for sample in for_alice.samples + for_bob.samples:
        print(f"{where}: not the app's own page: {sample}")
    assert for_alice.wrong() == 0, f"alice got bob's page: {for_alice.samples}"
    assert for_bob.wrong() == 0, f"bob got alice's page: {for_bob.samples}"
    assert for_alice.counts[alice] > 100 and for_bob.counts[bob] > 50


def test_crash_and_reuse_on_one_host_never_answers_from_another_app(live_platform):
    suffix = uuid.uuid4().hex[:4]  # container names are global to the engine
    alice, bob = f"alice-{suffix}", f"bob-{suffix}"
    deploy(live_platform, alice)
    deploy(live_platform, bob)
    result = crash_and_reuse(live_platform, ["unix:///var/run/docker.sock"], alice, bob)
    report(live_platform, "one host", result, alice, bob)
    assert all(ms is not None and ms < 2000 for ms in result["removed_ms"]), result["removed_ms"]


def test_longest_app_name_and_domain_deploy_and_route(live_platform):
    from deiscore.validation import APP_NAME_MAX
    from tests.router.test_nginxconf import longest_domain

    app = f"long-{uuid.uuid4().hex[:6]}-".ljust(APP_NAME_MAX, "x")
    domain = longest_domain("example")
    assert len(app) == APP_NAME_MAX and len(domain) == 253
    deploy(live_platform, app)
    live_platform.deis("domains:add", domain, "-a", app).ok()

    def answer(hostname: str) -> requests.Response:
        return requests.get(f"http://127.0.0.1:{live_platform.router_port}/", headers={"Host": hostname},
                            timeout=10)
    # A domain is routed by the reconcile loop's next round (or the app's next deploy).
    wait_until(lambda: answer(domain).status_code == 200, timeout=30)
    for hostname in (f"{app}.{live_platform.domain}", domain):
        response = answer(hostname)
        assert response.status_code == 200 and response.text.startswith(f"Hello from {app} "), \
            (hostname, response.status_code, response.text[:200])
    # Later route changes of that app still apply (a long domain used to break every one of them).
    live_platform.deis("scale", "web=2", "-a", app).ok()
    assert len(routed(live_platform, app)) == 2


@pytest.fixture(scope="module")
def cluster_platform(tmp_path_factory):
    with running_cluster(tmp_path_factory.mktemp("isolation-cluster"), CLUSTER_SUBNET, hosts=2) as p:
        yield p


def test_crash_and_reuse_across_the_cluster_never_answers_from_another_app(cluster_platform):
    from deisctl import cluster

    suffix = uuid.uuid4().hex[:4]
    alice, bob = f"alice-{suffix}", f"bob-{suffix}"
    deploy(cluster_platform, alice)
    deploy(cluster_platform, bob)
    _, hosts = cluster.load(cluster_platform.home)
    engines = [f"unix://{h.run}/docker.sock" for h in hosts]
    result = crash_and_reuse(cluster_platform, engines, alice, bob)
    report(cluster_platform, "cluster of 2", result, alice, bob)

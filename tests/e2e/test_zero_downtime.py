"""Zero downtime: continuous requests through the router while the app is pushed again, configured,
rolled back, scaled 1->3->1 and restarted; not one request may fail."""
from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
import requests

from tests.e2e.conftest import commit

pytestmark = pytest.mark.slow


class Load:
    """Keep-alive clients sending GET / through the router until stopped (at most ``max_seconds``)."""

    def __init__(self, platform, app: str, clients: int = 4, max_seconds: float = 600):
        self.platform, self.app, self.max_seconds = platform, app, max_seconds
        self.ok = 0
        self.failed: list[str] = []
        self.bodies: Counter = Counter()
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
                error = None if response.status_code == 200 else f"{response.status_code} {response.text[:100]}"
            except requests.RequestException as exc:
                error, response = repr(exc), None
            with self._lock:
                if error is None:
                    self.ok += 1
                    self.bodies[response.text.split(" (release ")[1].rstrip(")\n")] += 1
                else:
                    self.failed.append(error)

    def __enter__(self):
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for thread in self._threads:
            thread.join()


def test_no_failed_request_during_push_config_rollback_scale_and_restart(live_platform):
    work = live_platform.checkout("python-env")
    app = live_platform.create_app(work)
    push = live_platform.push(work)
    assert push.returncode == 0, push.output + live_platform.logs()
    assert live_platform.get(app).status_code == 200

    steps = {
        "git push": lambda: (commit(work, "second"), live_platform.push(work)),
        "config:set": lambda: live_platform.deis("config:set", "GREETING=Hi", cwd=work),
        "rollback": lambda: live_platform.deis("rollback", cwd=work),
        "scale web=3": lambda: live_platform.deis("scale", "web=3", cwd=work),
        "scale web=1": lambda: live_platform.deis("scale", "web=1", cwd=work),
        "ps:restart": lambda: live_platform.deis("ps:restart", cwd=work),
    }
    totals = []
    with Load(live_platform, app) as load:
        time.sleep(0.5)
        for name, step in steps.items():
            before, began = load.ok, time.monotonic()
            result = step()
            result = result[-1] if isinstance(result, tuple) else result
            assert result.returncode == 0, f"{name}: {result.output}"
            time.sleep(0.5)
            totals.append(f"{name}: {load.ok - before} ok in {time.monotonic() - began:.1f}s")
    print("\n".join(totals))
    print(f"total: {load.ok} ok, {len(load.failed)} failed; answers per release: {dict(sorted(load.bodies.items()))}")
    edge = (live_platform.home / "router" / "edge" / "nginx.conf").exists()
    hint = "" if edge else " (the router runs without its edge: deisctl should start it with `python -m router`)"
    assert load.failed == [], f"{load.failed[:5]}{hint}"
    assert set(load.bodies) == {"v2", "v3", "v4", "v5"}  # push, push, config:set, rollback
    assert live_platform.get(app).text == f"Hello from {app} (release v5)\n"

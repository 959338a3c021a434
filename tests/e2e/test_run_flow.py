"""Running releases end to end: a pushed app through the router, config:set, rollback, scale, health
checks, a killed container, ps/logs/run and a platform restart, all through ``deisctl up``, ``git push``
and the ``deis`` CLI. The tests share one platform and run in file order (the restart comes last)."""
from __future__ import annotations

import time

import docker
import pytest
import requests

pytestmark = pytest.mark.slow


def processes(platform, work, app: str) -> list[tuple[str, str, str]]:
    """(name, state, release) rows of ``deis ps`` once old containers are drained: commands return when
    traffic is on the new release, and the old ones stop a few seconds later, in the background."""
    def rows():
        output = platform.deis("ps", cwd=work).ok().output
        found = [tuple(line.split()[:3]) for line in output.splitlines() if line.startswith(f"{app}_v")]
        return None if any(state == "draining" for _, state, _ in found) else found

    found = eventually(rows, 30)
    assert found is not None, "old containers still draining after 30 s"
    return found


def eventually(check, timeout: float, interval: float = 0.25):
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
        except Exception:  # noqa: BLE001 - keep polling until the deadline
            result = None
        if result or time.monotonic() >= deadline:
            return result
        time.sleep(interval)


@pytest.fixture(scope="module")
def pushed(live_platform):
    """The python-env example pushed to a new app: (working copy, app name)."""
    work = live_platform.checkout("python-env")
    app = live_platform.create_app(work)
    push = live_platform.push(work)
    assert push.returncode == 0, push.output + live_platform.logs()
    assert f"{app} v2 deployed" in push.output
    return work, app


def test_config_rollback_and_scale(live_platform, pushed):
    work, app = pushed
    assert live_platform.get(app).text == f"Hello from {app} (release v2)\n"

    out = live_platform.deis("config:set", "GREETING=Bonjour", "SECRET=a=b c", cwd=work).ok().output
    assert f"done, {app} v3" in out
    assert live_platform.get(app).text == f"Bonjour from {app} (release v3)\n"
    assert live_platform.get(app, "/env/SECRET").text == "a=b c"

    builds = live_platform.deis("builds", cwd=work).ok().output
    out = live_platform.deis("rollback", "v2", cwd=work).ok().output
    assert f"done, {app} v4" in out
    assert live_platform.get(app).text == f"Hello from {app} (release v4)\n"  # v2's config, v2's build
    assert live_platform.deis("builds", cwd=work).ok().output == builds  # no rebuild
    assert "rolled back to v2" in live_platform.deis("releases", cwd=work).ok().output

    live_platform.deis("scale", "web=3", cwd=work).ok()
    assert processes(live_platform, work, app) == [(f"{app}_v4.web.{n}", "up", "v4") for n in (1, 2, 3)]
    hostnames = {live_platform.get(app, "/env/HOSTNAME").text for _ in range(12)}
    assert len(hostnames) == 3  # round robin over the three containers

    live_platform.deis("scale", "web=0", cwd=work).ok()
    assert processes(live_platform, work, app) == []
    unavailable = live_platform.get(app)
    assert unavailable.status_code == 503 and f"Application {app} has no running web processes" in unavailable.text

    live_platform.deis("scale", "web=1", cwd=work).ok()
    assert live_platform.get(app).text == f"Hello from {app} (release v4)\n"


def test_router_settings_through_config(live_platform, pushed):
    work, app = pushed
    bad = live_platform.deis("config:set", "ROUTER_READ_TIMEOUT=1s; evil", cwd=work)
    assert bad.returncode != 0 and "invalid ROUTER_READ_TIMEOUT" in bad.output, bad.output

    def post(size: int) -> int:
        return requests.post(f"http://127.0.0.1:{live_platform.router_port}/", data=b"x" * size, timeout=10,
                             headers={"Host": f"{app}.{live_platform.domain}"}).status_code

    live_platform.deis("config:set", "ROUTER_MAX_BODY_SIZE=1k", "ROUTER_READ_TIMEOUT=30", cwd=work).ok()
    assert post(4096) == 413
    assert post(512) == 501  # reached the app, which answers GET only
    live_platform.deis("config:unset", "ROUTER_MAX_BODY_SIZE", "ROUTER_READ_TIMEOUT", cwd=work).ok()
    assert post(4096) == 501
    assert live_platform.get(app).status_code == 200


def test_failing_health_check_keeps_the_previous_release(live_platform, pushed):
    work, app = pushed
    live_platform.deis("healthchecks:set", "--path", "/healthz", "--interval", "0.2", "--timeout", "1",
                       cwd=work).ok()
    before = live_platform.get(app).text
    started = time.monotonic()
    failed = live_platform.deis("config:set", "HEALTHZ_STATUS=500", cwd=work)
    print(failed.output, f"({time.monotonic() - started:.1f}s)")
    assert failed.returncode != 0
    assert "deploy failed" in failed.output and "answered 500, expected 200" in failed.output
    assert '"GET /healthz HTTP/1.1" 500' in failed.output  # the new container's last log lines
    assert live_platform.get(app).text == before
    release = before.rsplit("(release ", 1)[1].rstrip(")\n")
    assert processes(live_platform, work, app) == [(f"{app}_{release}.web.1", "up", release)]

    live_platform.deis("config:unset", "HEALTHZ_STATUS", cwd=work).ok()  # the next change deploys again
    assert live_platform.get(app).status_code == 200 and live_platform.get(app).text != before


def test_killed_web_container_is_replaced_within_10s(live_platform, pushed):
    work, app = pushed
    [(name, _, _)] = processes(live_platform, work, app)
    client = docker.from_env()
    old_id = client.containers.get(name).id
    killed = time.monotonic()
    client.containers.get(name).kill()

    def replaced():
        container = client.containers.get(name)
        return container.id != old_id and container.status == "running" and live_platform.get(app).status_code == 200

    assert eventually(replaced, 10), live_platform.logs()
    print(f"replaced in {time.monotonic() - killed:.1f}s")
    ps = live_platform.deis("ps", cwd=work).ok().output
    assert ps.splitlines()[-1].split()[-1] == "1", ps  # RESTARTS
    logs = live_platform.deis("logs", "-n", "200", cwd=work).ok().output
    assert "web.1 (v" in logs and "exited with code 137; restart 1" in logs, logs


def test_ps_logs_and_run(live_platform, pushed):
    work, app = pushed
    [(name, state, release)] = processes(live_platform, work, app)
    assert state == "up" and name == f"{app}_{release}.web.1"
    live_platform.get(app, "/env/GREETING")
    logs = live_platform.deis("logs", cwd=work).ok().output
    assert f"{app}[web.1]: listening on 5000" in logs
    assert '"GET /env/GREETING HTTP/1.1" 200' in logs  # the app's own output
    assert f"{app}[deis-controller]: release {release} created" in logs  # platform events
    assert f"deploy of {release} finished" in logs
    assert len(live_platform.deis("logs", "-n", "3", cwd=work).ok().output.splitlines()) == 3

    run = live_platform.deis("run", "--", "echo run:$GREETING:$DEIS_APP; exit 3", cwd=work)
    assert run.returncode == 3, run.output
    assert f"run::{app}" in run.output, run.output  # the current release's config: no GREETING since v4
    assert live_platform.deis("run", "--", "true", cwd=work).returncode == 0
    assert processes(live_platform, work, app) == [(name, "up", release)]  # one-off containers are gone


def test_platform_restart_keeps_apps_running(live_platform, pushed):
    work, app = pushed
    client = docker.from_env()
    before = {c.name: c.id for c in client.containers.list(filters={"label": f"deis.app={app}"})}
    live_platform.deisctl("down").ok()
    assert {c.name: c.id for c in client.containers.list(filters={"label": f"deis.app={app}"})} == before
    live_platform.deisctl("up").ok()
    assert live_platform.get(app).status_code == 200
    time.sleep(6)  # a full reconcile round: nothing is started twice or stopped
    assert {c.name: c.id for c in client.containers.list(filters={"label": f"deis.app={app}"})} == before
    assert [row[1] for row in processes(live_platform, work, app)] == ["up"]

"""A Node.js app, end to end: git push over OpenSSH to the real builder, the stack's build image installs
its dependencies from the npm registry with npm ci, its web and worker processes run on the run image as
the run user; the web answers through the router, the worker's lines reach deis logs. A second push with
the same lockfile reuses the cached node_modules; without a Procfile, npm start is the web process; a push
whose package.json is malformed is rejected and the release before it keeps serving."""
from __future__ import annotations

import time

import pytest

from tests.e2e.conftest import commit, wait_until

pytestmark = pytest.mark.slow

@pytest.fixture(scope="module")
def live_platform(apps_platform):
    return apps_platform  # one platform for the app-pushing modules (tests/e2e/conftest.py)


def timed_push(platform, work):
    started = time.monotonic()
    push = platform.push(work)
    return push, time.monotonic() - started


def ps_lines(platform, app: str, work) -> list[list[str]]:
    ps = platform.deis("ps", cwd=work).ok().output
    return [line.split()[:3] for line in ps.splitlines() if line.startswith(app)]


def logs_with(platform, work, text: str) -> str:
    """deis logs once it shows ``text`` (within 30 s), else its last output."""
    def check():
        out = platform.deis("logs", cwd=work).ok().output
        return out if text in out else ""
    return wait_until(check, 30) or platform.deis("logs", cwd=work).output


def test_express_app_web_and_worker_run_a_second_push_reuses_node_modules_and_a_bad_package_json_is_rejected(
        live_platform):
    work = live_platform.checkout("node-express")
    app = live_platform.create_app(work)
    push, cold = timed_push(live_platform, work)
    assert push.returncode == 0, push.output + live_platform.logs()
    assert "-----> Node.js app detected" in push.output
    assert "-----> Installing dependencies with npm (npm ci)" in push.output
    assert f"{app} v2 deployed" in push.output
    assert live_platform.get(app).text == f"Hello from Node.js {app}\n"

    live_platform.deis("scale", "worker=1", cwd=work).ok()
    expected = [[f"{app}_v2.web.1", "up", "v2"], [f"{app}_v2.worker.1", "up", "v2"]]
    assert wait_until(lambda: sorted(ps_lines(live_platform, app, work)) == expected, 30), \
        ps_lines(live_platform, app, work)
    logs = logs_with(live_platform, work, f"worker {app} tick 2")
    assert f"worker {app} tick 2" in logs, logs

    # Only the code changes: the lockfile is the same, nothing is installed or downloaded.
    web = work / "web.js"
    web.write_text(web.read_text().replace("Hello from Node.js", "Hello again from Node.js"))
    commit(work, "greeting")
    push, warm = timed_push(live_platform, work)
    assert push.returncode == 0 and f"{app} v3 deployed" in push.output, push.output
    assert "-----> package-lock.json unchanged: reusing cached node_modules" in push.output, push.output
    assert "Installing dependencies" not in push.output
    assert live_platform.get(app).text == f"Hello again from Node.js {app}\n"
    assert wait_until(lambda: [f"{app}_v3.worker.1", "up", "v3"] in ps_lines(live_platform, app, work), 30), \
        ps_lines(live_platform, app, work)
    print(f"node-express push: cold {cold:.1f} s, warm {warm:.1f} s", push.output, sep="\n")

    (work / "package.json").write_text('{\n  "name": "node-express",\n  "scripts": {"start": "node web.js"}\n')
    commit(work, "break package.json")
    push = live_platform.push(work)
    assert push.returncode != 0, push.output
    assert "remote:  !     package.json is not valid JSON: Unexpected end of JSON input (line 4, column 1)" \
        in push.output, push.output
    assert live_platform.get(app).text == f"Hello again from Node.js {app}\n"
    releases = live_platform.deis("releases", cwd=work).ok().output
    assert "v3" in releases and "v4" not in releases, releases


def test_without_a_procfile_npm_start_is_the_web_process(live_platform):
    work = live_platform.checkout("node-express")
    (work / "Procfile").unlink()
    commit(work, "no Procfile")
    app = live_platform.create_app(work)
    push, seconds = timed_push(live_platform, work)
    assert push.returncode == 0, push.output + live_platform.logs()
    assert "-----> Node.js app detected" in push.output
    print(f"node-express without Procfile push: {seconds:.1f} s")
    assert live_platform.get(app).text == f"Hello from Node.js {app}\n"
    assert ps_lines(live_platform, app, work) == [[f"{app}_v2.web.1", "up", "v2"]]
    logs = logs_with(live_platform, work, "> node web.js")
    assert "> node web.js" in logs, logs  # npm start ran scripts.start

"""Deploys as jobs, end to end: release statuses, the first push that fails, live progress, --no-wait,
and a deploy worker killed in the middle of a deploy under continuous requests."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from deiscore.processes import read_pid
from tests.e2e.conftest import Load, commit, wait_until

pytestmark = pytest.mark.slow


def releases(platform, work) -> dict[int, str]:
    """``deis releases`` as {version: STATUS column}."""
    rows = platform.deis("releases", cwd=work).ok().output.splitlines()[2:]
    return {int(row.split()[0][1:]): row.split()[3] for row in rows}


def test_a_failed_release_is_marked_and_the_one_before_stays_current(live_platform):
    work = live_platform.checkout("python-env")
    app = live_platform.create_app(work)
    live_platform.push(work).ok()  # v2
    failed = live_platform.deis("healthchecks:set", "--path", "/healthz", "--status", "204", "--timeout", "1",
                                "--interval", "0.2", cwd=work)
    assert failed.returncode != 0 and "deploy failed" in failed.output, failed.output
    assert "answered 200, expected 204" in failed.output
    info = live_platform.deis("info", cwd=work).ok().output
    assert "release:  v2" in info and "newest:   v3 failed: " in info, info
    table = live_platform.deis("releases", cwd=work).ok().output
    v3 = next(line for line in table.splitlines() if line.startswith("v3 "))
    assert "failed (" in v3 and "expected 204" in v3, table
    assert live_platform.get(app).text.endswith("(release v2)\n")

    # the next change builds on v3 (its health check is the app's now) and undoes it: v4 deploys
    live_platform.deis("healthchecks:unset", cwd=work).ok()
    assert releases(live_platform, work)[4] == "succeeded"
    assert "release:  v4" in live_platform.deis("info", cwd=work).ok().output
    assert live_platform.get(app).text.endswith("(release v4)\n")

    # --no-wait returns at once; the release is queued or deploying meanwhile, and ends succeeded
    started = time.monotonic()
    queued = live_platform.deis("config:set", "QUICK=1", "--no-wait", cwd=work).ok().output
    assert "queued" in queued and time.monotonic() - started < 5
    assert wait_until(lambda: releases(live_platform, work)[5] == "succeeded", 60)


def test_a_first_push_that_fails_says_nothing_serves_yet(live_platform):
    work = live_platform.checkout("python-env")
    (work / "Procfile").write_text("web: python -c 'import sys; sys.exit(3)'\n")
    commit(work, "a web process that exits at once")
    app = live_platform.create_app(work)
    push = live_platform.push(work)
    assert push.returncode != 0, push.output
    assert "Deploy failed" in push.output and "Nothing of this app is serving yet." in push.output, push.output
    assert "keeps serving" not in push.output
    info = live_platform.deis("info", cwd=work).ok().output
    assert "release:  v1" in info and "newest:   v2 failed: " in info, info  # v1: the app's creation, no build
    assert live_platform.get(app).status_code in (404, 502, 503)


def test_the_cli_shows_deploy_steps_live_and_returns_once_traffic_switched(live_platform):
    work = live_platform.checkout("python-env")
    app = live_platform.create_app(work)
    live_platform.push(work).ok()
    proc = subprocess.Popen([sys.executable, "-c", "from client.cli import main; main()", "config:set", "STEP=1"],
                            cwd=work, env=live_platform.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    seen = []  # (seconds since start, line)
    started = time.monotonic()
    for line in proc.stdout:
        seen.append((time.monotonic() - started, line.rstrip()))
    assert proc.wait(60) == 0, seen
    steps = [line for _, line in seen]
    assert any("starting 1" in line for line in steps) and any(line.startswith("router:") for line in steps), steps
    # the first step arrived well before the command ended: streamed, not printed at the end
    first_step = next(t for t, line in seen if "starting 1" in line)
    assert seen[-1][0] - first_step > 0.2, seen
    assert not any("stopped" in line for line in steps), steps  # old containers stop after it returned
    assert live_platform.get(app, "/env/STEP").text == "1"


def test_a_deploy_worker_killed_mid_deploy_leaves_no_half_state(live_platform):
    work = live_platform.checkout("python-env")
    app = live_platform.create_app(work)
    live_platform.push(work).ok()  # v2
    pidfile = live_platform.home / "run" / "deployer.pid"
    with Load(live_platform, app, seconds=240) as load:
        time.sleep(1)
        proc = subprocess.Popen([sys.executable, "-c", "from client.cli import main; main()", "config:set", "K=1"],
                                cwd=work, env=live_platform.env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        output = []
        for line in proc.stdout:
            output.append(line)
            if "starting 1" in line:  # the new container is starting: the router is not switched yet
                os.killpg(read_pid(pidfile), signal.SIGKILL)
                break
        output.append(proc.stdout.read())
        assert proc.wait(120) != 0, output
        assert "deploy failed" in "".join(output) and "interrupted" in "".join(output), output
        status = releases(live_platform, work)[3]
        assert status == "failed", status
        assert live_platform.get(app).text.endswith("(release v2)\n")
        # the reconcile loop removes what the dead deploy started; the platform's next `up` brings back
        # the worker, and the next change deploys
        assert wait_until(lambda: [line.split()[0] for line in live_platform.deis("ps", cwd=work).ok().output
                                   .splitlines() if line.startswith(app)] == [f"{app}_v2.web.1"], 60)
        live_platform.deisctl("up").ok()
        live_platform.deis("config:set", "K=2", cwd=work).ok()
        assert live_platform.get(app).text.endswith("(release v4)\n")
        time.sleep(1)
    print(f"{load.ok} requests, {load.failed} failed: {load.errors[:5]}")
    assert load.ok > 50 and load.failed == 0, load.errors[:5]

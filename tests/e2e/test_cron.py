"""Cron jobs of app.json end to end: an every-minute job of a pushed app runs once per minute boundary,
across a redeploy (the run after it is of the new release) and a restart of the cron component (which
stops its runs in progress); cron:list and cron:run; a schedule that does not parse rejects the push.
One platform; 2 to 3 minutes (two minute boundaries)."""
from __future__ import annotations

import json
import os
import re
import signal
from datetime import datetime, timedelta, timezone

import pytest

from deiscore.appjson import cron_id
from deiscore.processes import pid_alive, read_pid
from tests.e2e.conftest import commit, wait_until

pytestmark = pytest.mark.slow

COMMAND = "echo cron-tick $DEIS_RELEASE"
JOB = cron_id(COMMAND, "* * * * *")
LONG = cron_id("sleep 300", "* * * * *")  # still running when the component restarts
STARTED = re.compile(r"^\S+ (?P<app>[\w-]+)\[cron\.(?P<job>\w+)\]: run (?P<run>\w+) started on v(?P<version>\d+) "
                     r"\((?P<reason>[^)]*)\)")


def now() -> datetime:
    return datetime.now(timezone.utc)


def cron_lines(platform, work, job: str = JOB) -> list[str]:
    # `deis logs` may answer "try again" (503) when it lists a one-off container that Docker is removing
    # at that moment ("dead or marked for removal"): a cron run ending. Asked again, it answers.
    logs = wait_until(lambda: (run := platform.deis("logs", "-n", "2000", cwd=work)).returncode == 0 and run, 10)
    assert logs, "deis logs kept failing"
    return [line for line in logs.output.splitlines() if f"[cron.{job}]" in line]


def runs(platform, work) -> list[dict]:
    return [m.groupdict() for m in map(STARTED.match, cron_lines(platform, work)) if m]


def ticks(found: list[dict]) -> list[str]:
    return [r["reason"].rsplit("tick ", 1)[1] for r in found if "tick " in r["reason"]]


def boundaries(start: datetime, end: datetime) -> list[str]:
    """Minute boundaries in (start, end], as the component names ticks."""
    first = start.replace(second=0, microsecond=0) + timedelta(minutes=1)
    found = []
    while first <= end:
        found.append(first.strftime("%Y-%m-%dT%H:%M:%SZ"))
        first += timedelta(minutes=1)
    return found


def diagnosis(platform, work) -> str:
    log = platform.home / "logs" / "cron.log"
    return "\n".join(cron_lines(platform, work)) + "\n--- cron.log\n" + (
        log.read_text(errors="replace")[-4000:] if log.exists() else "(none)")


def wait_for_tick(platform, work, tick: str) -> dict | None:
    """The run of ``tick``, waiting until 20 s after it."""
    timeout = (datetime.fromisoformat(tick.replace("Z", "+00:00")) - now()).total_seconds() + 20
    return wait_until(lambda: next((r for r in runs(platform, work) if f"tick {tick}" in r["reason"]), None),
                      timeout, interval=1)


def test_cron_jobs_run_once_per_tick_across_a_redeploy_and_a_restart(live_platform):
    platform = live_platform
    work = platform.checkout("python-web")
    (work / "app.json").write_text(json.dumps({"cron": [
        {"command": COMMAND, "schedule": "* * * * *"},
        {"command": "sleep 300", "schedule": "* * * * *", "concurrency_policy": "replace"}]}))
    commit(work, "cron")
    app = platform.create_app(work)
    pushed_at = now()
    push = platform.push(work)
    assert push.returncode == 0, push.output + platform.logs()
    serving_at = now()

    # A schedule that does not parse refuses the push, and nothing is released (meanwhile the clock runs).
    bad = platform.checkout("python-web")
    (bad / "app.json").write_text(json.dumps({"cron": [{"command": "echo hi", "schedule": "every minute"}]}))
    commit(bad, "bad cron")
    bad_app = platform.create_app(bad)
    refused = platform.push(bad)
    assert refused.returncode != 0, refused.output
    assert "cron schedule 'every minute' does not parse" in refused.output, refused.output
    releases = json.loads(platform.deis("releases", "--json", cwd=bad).ok().output)
    assert [r["version"] for r in releases] == [1], releases

    listed = json.loads(platform.deis("cron:list", "--json", cwd=work).ok().output)
    assert [(j["id"], j["command"], j["schedule"], j["concurrency_policy"]) for j in listed] == [
        (JOB, COMMAND, "* * * * *", "allow"), (LONG, "sleep 300", "* * * * *", "replace")]
    next_run = datetime.fromisoformat(listed[0]["next_run"].replace("Z", "+00:00"))
    assert now() < next_run <= now() + timedelta(minutes=1) and next_run.second == 0

    # The first boundary after the push runs on v2.
    first = boundaries(serving_at, serving_at + timedelta(minutes=1))[0]
    run = wait_for_tick(platform, work, first)
    assert run and run["version"] == "2", diagnosis(platform, work)

    # Redeploy (v3) and restart the cron component before the next boundary.
    assert f"done, {app} v3" in platform.deis("config:set", "X=1", cwd=work).ok().output
    redeployed_at = now()
    pidfile = platform.home / "run" / "cron.pid"
    pid = read_pid(pidfile)
    os.kill(pid, signal.SIGTERM)
    assert wait_until(lambda: not pid_alive(pid), 15), "the cron component did not stop"
    platform.deisctl("up").ok()
    assert read_pid(pidfile) not in (None, pid)
    # the run in progress was stopped with its component, not left behind
    long_lines = "\n".join(cron_lines(platform, work, LONG))
    assert "stopped: the cron component is stopping" in long_lines and "exited with code 137" in long_lines, \
        long_lines
    second = boundaries(redeployed_at, redeployed_at + timedelta(minutes=1))[0]
    run = wait_for_tick(platform, work, second)
    assert run and run["version"] == "3", diagnosis(platform, work)
    assert wait_until(lambda: any(line.endswith("cron-tick v3") for line in cron_lines(platform, work)), 15)

    # Exactly one run per boundary crossed since the push: none twice, none missing.
    ended_at = now()
    found = ticks(runs(platform, work))
    assert len(found) == len(set(found)), found
    assert set(boundaries(serving_at, ended_at - timedelta(seconds=1))) <= set(found), (found, serving_at, ended_at)
    assert set(found) <= set(boundaries(pushed_at, ended_at)), (found, pushed_at, ended_at)
    lines = cron_lines(platform, work)
    assert sum(line.endswith(("cron-tick v2", "cron-tick v3")) for line in lines) >= len(found), lines

    # cron:list: the last run exited 0; cron:run runs it now and says how it ended.
    def listed_exit_0():
        out = platform.deis("cron", cwd=work).ok().output
        return out if re.search(rf"^{JOB}\s.*\s0$", out, re.M) else None

    table = wait_until(listed_exit_0, 15, interval=1)
    assert table and "ID" in table and "NEXT RUN" in table and "LAST EXIT" in table and COMMAND in table, table
    manual = platform.deis("cron:run", JOB, cwd=work)
    assert manual.returncode == 0 and "exited with code 0" in manual.output, manual.output
    assert any("run by deis cron:run" in r["reason"] and r["version"] == "3" for r in runs(platform, work))

    unknown = platform.deis("cron:run", "0000000000", cwd=work)
    assert unknown.returncode != 0 and f"no cron job '0000000000' in {app} v3 (jobs: {', '.join(sorted([JOB, LONG]))})" in unknown.output, \
        unknown.output
    none = platform.deis("cron:run", JOB, "-a", bad_app)
    assert none.returncode != 0 and "has no build serving yet" in none.output, none.output
    final = ticks(runs(platform, work))
    assert len(final) == len(set(final)), final

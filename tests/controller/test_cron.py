"""Cron jobs of app.json: due ticks and the missed-tick rule (pure), claims and runs in progress on a real
Redis, and rounds of the cron component over a real database with the scheduler's in-memory twin."""
from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from redis import Redis

from controller import cron, db
from controller.crond import Crond, LineWriter
from controller.events import EventLog
from controller.models import App, Build, Config, Release, User
from controller.scheduling import Deployer
from deiscore import appjson
from deisctl.components import COMPONENTS
from deiscore import settings as platform_settings
from scheduler.memory import MemoryScheduler

T0 = datetime(2026, 12, 4, 12, 0, 0, tzinfo=timezone.utc)


def at(minutes: float = 0, seconds: float = 0) -> datetime:
    return T0 + timedelta(minutes=minutes, seconds=seconds)


# -- pure: when ----------------------------------------------------------------------------------------

def test_the_newest_tick_at_or_before_now_and_the_next_one():
    assert cron.previous_tick("* * * * *", at(0)) == at(0)  # a tick on the second counts as now
    assert cron.previous_tick("* * * * *", at(0, 59.9)) == at(0)
    assert cron.previous_tick("*/5 * * * *", at(7)) == at(5)
    assert cron.next_tick("* * * * *", at(0)) == at(1)
    assert cron.next_tick("@daily", at(0)) == datetime(2026, 12, 5, tzinfo=timezone.utc)
    # SQLite's naive datetimes are UTC
    assert cron.previous_tick("* * * * *", at(0, 30).replace(tzinfo=None)) == at(0)


def test_due_runs_the_newest_tick_once():
    assert cron.due("* * * * *", since=at(-1), now=at(0, 0.4)) == cron.Due(at(0), True, 0)
    assert cron.due("* * * * *", since=at(0), now=at(0, 30)) == cron.Due(None, False, 0)  # handled already
    assert cron.due("* * * * *", since=at(0), now=at(1, 0.5)) == cron.Due(at(1), True, 0)
    assert cron.due("0 * * * *", since=at(0), now=at(59)) == cron.Due(None, False, 0)


def test_missed_ticks_are_skipped_never_replayed_as_a_burst():
    # down for 10 minutes: the 9 ticks before the newest are missed; the newest runs, being 20 s late
    assert cron.due("* * * * *", since=at(0), now=at(10, 20)) == cron.Due(at(10), True, 9)
    # the newest is later than the deadline too: nothing runs
    assert cron.due("* * * * *", since=at(0), now=at(10, 45), deadline=30) == cron.Due(at(10), False, 9)
    assert cron.due("0 * * * *", since=at(0), now=at(121, 1)) == cron.Due(at(120), False, 1)
    # a month away is not walked tick by tick
    late = cron.due("* * * * *", since=at(0), now=at(60 * 24 * 30))
    assert late.run and late.missed == cron.MAX_MISSED_COUNT


@pytest.mark.parametrize("policy, running, action", [
    ("allow", 0, "start"), ("allow", 2, "start"), ("forbid", 0, "start"), ("forbid", 1, "skip"),
    ("replace", 0, "start"), ("replace", 1, "replace")])
def test_concurrency_policy(policy, running, action):
    assert cron.decide(policy, running) == action


def test_output_is_logged_line_by_line():
    lines = []
    out = LineWriter(lines.append)
    out(b"one\ntw")
    out(b"o\r\nthr")
    assert lines == ["one", "two"]
    out(b"\xff")
    out.close()
    assert lines == ["one", "two", "thr\ufffd"]


def test_entry_point_imports_and_refuses_to_run_without_a_scheduler(tmp_path):
    import os
    import subprocess
    import sys

    def crond(*args, env=None):
        return subprocess.run([sys.executable, "-m", "controller.crond", *args], env={**os.environ, **(env or {})},
                              cwd=Path(__file__).resolve().parents[2], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=60)

    assert "--interval" in crond("--help").stdout
    off = crond(env={"DEIS_HOME": str(tmp_path), "DEIS_SCHEDULER": "off"})
    assert off.returncode == 2 and "DEIS_SCHEDULER=off" in off.stdout, off.stdout


def test_deisctl_starts_the_cron_component_after_the_deployer_unless_the_scheduler_is_off():
    names = [c.name for c in COMPONENTS]
    component = COMPONENTS[names.index("cron")]
    assert names.index("cron") > names.index("deployer")
    assert component.argv(platform_settings.load({"DEIS_HOME": "/nonexistent"}))[1:] == ["-m", "controller.crond"]
    assert not component.enabled(platform_settings.load({"DEIS_HOME": "/x", "DEIS_SCHEDULER": "off"}))
    assert component.enabled(platform_settings.load({"DEIS_HOME": "/x", "DEIS_SCHEDULER": "local"}))


# -- Redis: claims and runs in progress ------------------------------------------------------------------

@pytest.fixture
def redis(redis_url):
    client = Redis.from_url(redis_url.rsplit("/", 1)[0] + "/3")  # a database of its own, emptied per test
    client.flushdb()
    yield client
    client.flushdb()


def test_a_tick_is_claimed_once_whoever_asks(redis):
    first, second = cron.CronStore(redis), cron.CronStore(Redis(connection_pool=redis.connection_pool))
    winners = []
    threads = [threading.Thread(target=lambda s=s: winners.append(s.claim("app", "abc", at(1))))
               for s in [first, second] * 8]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(winners) == [False] * 15 + [True]
    assert first.claim("app", "abc", at(2)) and first.claim("other", "abc", at(1))
    assert 0 < redis.ttl(f"{cron.PREFIX}tick:app:abc:{int(at(1).timestamp())}") <= cron.CLAIM_TTL


def test_runs_in_progress_lapse_without_a_heartbeat(redis):
    store = cron.CronStore(redis)
    store.started("app", "job", "r1", 3, at(0))
    assert store.running("app", "job") == ["r1"]
    later = cron.RUNNING_TTL + 1
    assert store.running("app", "job", now=time.time() + later) == []  # its component died: not running
    store.started("app", "job", "r2", 4, at(1))
    store.finished("app", "job", "r1", 0, 1.0)  # an older run ending does not overwrite the newer record
    assert store.record("app", "job")["last_run"] == "r2"
    assert store.record("app", "job")["last_exit_code"] is None
    store.finished("app", "job", "r2", 3, 2.5)
    record = store.record("app", "job")
    assert (record["last_exit_code"], record["last_duration"], record["last_release"]) == (3, 2.5, 4)
    assert record["last_start"] == "2026-12-04T12:01:00Z" and record["last_finished"]
    assert store.running("app", "job") == []


def test_records_of_a_destroyed_app_of_the_same_name_are_not_the_new_ones(redis):
    store = cron.CronStore(redis)
    store.handled("reborn", "job", at(0))
    store.started("reborn", "job", "old", 7, at(0, 1))
    assert store.record("reborn", "job", since=at(1)) == {}  # the app was created after them
    assert store.record("reborn", "job", since=at(-1))["last_run"] == "old"


# -- rounds of the component: a real database, real Redis, the scheduler's twin ---------------------------

class Platform:
    def __init__(self, tmp_path, redis):
        url = f"sqlite:///{tmp_path / 'controller.db'}"
        db.upgrade(url)
        self.sessions = db.make_sessionmaker(db.make_engine(url))
        self.scheduler = MemoryScheduler()
        self.events = EventLog(tmp_path / "events")
        self.store = cron.CronStore(redis)
        with self.sessions() as session:
            user = User(username="ada", password_hash="x")
            session.add(user)
            session.flush()
            self.user_id = user.id
            session.commit()

    def crond(self, **options) -> Crond:
        return Crond(self.sessions, self.store, Deployer(self.scheduler, self.events), **options)

    def release(self, app_name: str, jobs: list[dict], created: datetime, status: str = "succeeded") -> int:
        """A new release of ``app_name`` whose build's app.json has ``jobs``; return its version."""
        manifest = appjson.normalize({"cron": jobs})
        with self.sessions() as session:
            app = session.query(App).filter_by(name=app_name).one_or_none()
            if app is None:
                app = App(name=app_name, owner_id=self.user_id, structure={"web": 1})
                session.add(app)
                session.flush()
            config = Config(app_id=app.id, owner_id=self.user_id, values={})
            build = Build(app_id=app.id, image="registry.example.com/a:1", kind="image", procfile={"web": "serve"},
                          app_json=manifest)
            session.add_all([config, build])
            session.flush()
            version = session.query(Release).filter_by(app_id=app.id).count() + 1
            session.add(Release(app_id=app.id, version=version, build_id=build.id, config_id=config.id,
                                status=status, created=created))
            session.commit()
            return version

    def runs(self) -> list[tuple]:
        return [(app, version) for op, app, version in self.scheduler.calls if op == "run"]

    def cron_lines(self, app: str) -> list[str]:
        return [line.split("]: ", 1)[1] for line in self.events.tail(app, None) if "[cron." in line]


def wait_runs(crond: Crond, timeout: float = 5) -> None:

    deadline = time.monotonic() + timeout
    while crond.runs and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not crond.runs


EVERY_MINUTE = {"command": "echo tick", "schedule": "* * * * *"}
JOB_ID = appjson.cron_id("echo tick", "* * * * *")


def test_each_tick_runs_once_across_restarts_and_deploys(tmp_path, redis):
    platform = Platform(tmp_path, redis)
    platform.scheduler.run_result = (b"tick\n", 0)
    platform.release("clock", [EVERY_MINUTE], created=at(-0.5))
    first = platform.crond()
    assert first.round(at(0, 0.5)) and first.round(at(0, 1.5)) == []  # the tick of 12:00, once
    wait_runs(first)
    restarted = platform.crond()  # a new process: the claim and the record are in Redis
    assert restarted.round(at(0, 2)) == []
    platform.release("clock", [EVERY_MINUTE], created=at(0, 30))  # a redeploy keeps the job (same id)
    assert len(restarted.round(at(1, 0.2))) == 1
    wait_runs(restarted)
    assert len(first.round(at(1, 0.9))) == 0  # the first process again: the claim holds
    assert platform.runs() == [("clock", "echo tick")] * 2
    record = platform.store.record("clock", JOB_ID)
    assert (record["last_release"], record["last_exit_code"], record["last_tick"]) == (2, 0, "2026-12-04T12:01:00Z")
    lines = platform.cron_lines("clock")
    assert lines[0].startswith("run ") and "started on v1 (schedule * * * * *, tick 2026-12-04T12:00:00Z)" in lines[0]
    assert lines[1] == "tick" and " exited with code 0 after " in lines[2]
    assert "started on v2" in lines[3]


def test_a_new_job_owes_no_tick_from_before_its_release_and_missed_ticks_are_said(tmp_path, redis):
    platform = Platform(tmp_path, redis)
    platform.release("late", [EVERY_MINUTE], created=at(0, 10))
    crond = platform.crond()
    assert crond.round(at(0, 20)) == []  # 12:00 came before the release
    assert len(crond.round(at(1, 0))) == 1
    wait_runs(crond)
    # the component was down from 12:01 to 12:05:30: three ticks missed, the one of 12:05 runs
    assert len(crond.round(at(5, 30))) == 1
    wait_runs(crond)
    # down again, and back later than the deadline after the newest tick: nothing runs, all is said
    assert platform.crond(deadline=30).round(at(9, 40)) == []
    assert len(platform.runs()) == 2
    said = [line for line in platform.cron_lines("late") if line.startswith("skipped")]
    assert said == ["skipped 3 run(s) missed after 2026-12-04T12:01:00Z: more than 60 s late "
                    "(the cron component was down, or the job was not in the serving release)",
                    "skipped 4 run(s) missed after 2026-12-04T12:05:00Z: more than 30 s late "
                    "(the cron component was down, or the job was not in the serving release)"]


def test_apps_without_a_serving_release_run_nothing(tmp_path, redis):
    platform = Platform(tmp_path, redis)
    platform.release("pending", [EVERY_MINUTE], created=at(-1), status="deploying")
    assert platform.crond().round(at(0, 1)) == []


class BlockingScheduler(MemoryScheduler):
    """The twin, with runs that last until killed (as a real container would)."""

    def run(self, spec, command, output, timeout=None, on_start=None, before_remove=None):
        self._call("run", spec.app, command)
        done = threading.Event()
        if on_start is not None:
            on_start(done.set)
        done.wait(10)
        return 137


@pytest.mark.parametrize("policy", ["allow", "forbid", "replace"])
def test_a_tick_while_the_previous_run_is_running(tmp_path, redis, policy):
    platform = Platform(tmp_path, redis)
    platform.scheduler = BlockingScheduler()
    platform.release("busy", [{**EVERY_MINUTE, "concurrency_policy": policy}], created=at(-1))
    crond = platform.crond()
    (first,) = crond.round(at(0, 1))

    deadline = time.monotonic() + 5
    while crond.runs[first]["kill"] is None and time.monotonic() < deadline:  # the container runs
        time.sleep(0.01)
    second = crond.round(at(1, 1))
    running = platform.store.running("busy", JOB_ID)
    if policy == "allow":
        assert len(second) == 1 and sorted(running) == sorted([first, *second])
    elif policy == "forbid":
        assert second == [] and running == [first]
        assert f"skipped (schedule * * * * *, tick 2026-12-04T12:01:00Z): run {first} is still running " \
               "(concurrency_policy forbid)" in platform.cron_lines("busy")
    else:
        assert len(second) == 1
        deadline = time.monotonic() + 5
        while first in crond.runs and time.monotonic() < deadline:  # killed: its thread ends
            time.sleep(0.01)
        assert platform.store.running("busy", JOB_ID) == second
        assert f"run {first} stopped: replaced by a new run (concurrency_policy replace)" in platform.cron_lines("busy")
    crond.shutdown()
    assert not crond.runs and platform.store.running("busy", JOB_ID) == []


def test_forbid_sees_a_run_of_an_earlier_process_until_its_heartbeat_lapses(tmp_path, redis):
    platform = Platform(tmp_path, redis)
    platform.release("solo", [{**EVERY_MINUTE, "concurrency_policy": "forbid"}], created=at(-1))
    platform.store.started("solo", JOB_ID, "elsewhere", 1, at(-0.5))  # a run of a process that died
    crond = platform.crond()
    assert crond.round(at(0, 1)) == []
    redis.zadd(f"{cron.PREFIX}running:solo:{JOB_ID}", {"elsewhere": 1})  # its heartbeat lapsed
    assert len(crond.round(at(1, 1))) == 1
    wait_runs(crond)


def test_a_queued_manual_run_starts_whatever_the_policy(tmp_path, redis):
    platform = Platform(tmp_path, redis)
    platform.scheduler.run_result = (b"", 3)
    platform.release("hand", [{**EVERY_MINUTE, "concurrency_policy": "forbid"}], created=at(-1))
    platform.store.started("hand", JOB_ID, "busy", 1, at(-0.5))
    run = platform.store.request_run("hand", JOB_ID)
    gone = platform.store.request_run("hand", "0000000000")
    redis.rpush(f"{cron.PREFIX}requests", json.dumps({"app": "hand", "job": JOB_ID, "run": "stale",
                                                       "asked": time.time() - 61}))
    crond = platform.crond()
    assert crond.take_requests(0.5) == [run]
    wait_runs(crond)
    record = platform.store.record("hand", JOB_ID)
    assert record["last_run"] == run and record["last_exit_code"] == 3
    assert f"run {gone} not started: no such job in the serving release (deployed since it was asked for)" \
        in platform.cron_lines("hand")
    assert "run stale not started: asked 61 s ago (more than 60 s)" in platform.cron_lines("hand")


# -- the API's answers to bad input (a controller without a scheduler: nothing reaches Redis) ---------------

def test_cron_api_refuses_unknown_jobs_and_apps_without_a_release(controller):
    from tests.controller.helpers import assert_error, new_app, new_user, pull

    _, api = new_user(controller)
    app = new_app(controller, api)
    url = f"{controller.url}/v1/apps/{app}/cron"
    assert api.get(url).json() == {"count": 0, "release": 1, "results": []}  # v1: no build
    assert_error(api.post(f"{url}/{JOB_ID}/run"), 409, f"{app} has no build serving yet")
    pull(controller, api, app)
    assert api.get(url).json()["results"] == []
    for bad in ("0123456789", "nope", "..%2F..%2Fx", "a" * 300, "%00"):
        assert_error(api.post(f"{url}/{bad}/run"), 404, "no cron job", "jobs: none: app.json has no cron section")
    _, stranger = new_user(controller, "other")
    assert_error(stranger.get(url), 404)
    assert_error(stranger.post(f"{url}/{JOB_ID}/run"), 404)

"""Cron jobs of app.json: when they are due, their records in Redis, and ``/v1/apps/<app>/cron``.

The jobs are the ``cron`` section of the serving release's build (:mod:`deiscore.appjson`), keyed by
their id (a hash of command and schedule), so a redeploy that keeps a job keeps its schedule and its
records. ``python -m controller.crond`` (:mod:`controller.crond`) starts them; this module holds what
it decides with (pure functions of schedules and times) and what it shares through Redis with the API:

- a tick (app, job, time) is claimed with ``SET NX`` before its run starts, so no tick runs twice, also
  across restarts of the component or two of them running at once;
- a tick missed by more than :data:`MISSED_DEADLINE` seconds (the component was down, or the app had no
  serving release then) is skipped and said so in the app's log, never replayed (Kubernetes'
  ``startingDeadlineSeconds``); of several unhandled ticks only the newest may run: never a burst;
- runs in progress are members of a sorted set scored by their expiry, renewed by the component's
  heartbeat, so ``forbid`` works across restarts: a run whose component died stops counting after
  :data:`RUNNING_TTL` seconds;
- ``POST .../cron/<id>/run`` queues a run for the component (which alone holds the runs' kill handles,
  for ``replace``); a manual run starts whatever the policy, as ``kubectl create job --from=cronjob``.
"""
from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from flask import Blueprint, current_app

from controller import releases
from controller.access import app_for_user, session
from controller.errors import APIError, Conflict, NotFound

MISSED_DEADLINE = 60.0  # seconds after its time a tick may still start; later it is skipped
RUNNING_TTL = 20.0  # seconds a run counts as running without a heartbeat (the component beats every tick)
CLAIM_TTL = 24 * 3600  # seconds a tick's claim is kept: far longer than the deadline it could be run within
ALIVE_TTL = 10  # seconds the component's own heartbeat lasts
MAX_MISSED_COUNT = 1000  # counting missed ticks stops here (a month of every-minute ticks is not walked)
JOB_ID = re.compile(r"[0-9a-f]{10}")  # deiscore.appjson.cron_id
PREFIX = "deis:cron:"

bp = Blueprint("cron", __name__)


# -- when (pure) -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Due:
    """What a job's schedule asks for at ``now``, given the newest tick already handled."""

    tick: datetime | None  # the newest tick not handled yet (None: nothing new)
    run: bool  # start it: it is within the deadline (else it is skipped as missed)
    missed: int  # older unhandled ticks, skipped (at most MAX_MISSED_COUNT)


def utc(moment: datetime) -> datetime:
    """An aware UTC datetime (SQLite hands back naive ones)."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def previous_tick(schedule: str, now: datetime) -> datetime:
    """The newest tick at or before ``now`` (croniter's get_prev is strictly before: ask from a second on)."""
    from croniter import croniter

    start = utc(now).replace(microsecond=0) + timedelta(seconds=1)
    return utc(croniter(schedule, start).get_prev(datetime))


def next_tick(schedule: str, now: datetime) -> datetime:
    """The first tick after ``now``."""
    from croniter import croniter

    return utc(croniter(schedule, utc(now)).get_next(datetime))


def due(schedule: str, since: datetime, now: datetime, deadline: float = MISSED_DEADLINE) -> Due:
    """The tick to handle at ``now`` among those after ``since`` (the newest tick already handled, or the
    moment the job began to count); only the newest may run, and only within ``deadline`` seconds."""
    from croniter import croniter

    since, now = utc(since), utc(now)
    newest = previous_tick(schedule, now)
    if newest <= since:
        return Due(None, False, 0)
    missed, ticks = 0, croniter(schedule, since)
    while missed < MAX_MISSED_COUNT and utc(ticks.get_next(datetime)) < newest:
        missed += 1
    return Due(newest, (now - newest).total_seconds() <= deadline, missed)


def decide(policy: str, running: int) -> str:
    """What a due tick does while ``running`` runs of its job are in progress: ``start``, ``skip``
    (forbid) or ``replace`` (stop them, then start)."""
    if running and policy == "forbid":
        return "skip"
    if running and policy == "replace":
        return "replace"
    return "start"


def jobs_of(release) -> list[dict]:
    """The cron jobs of ``release``'s build (none without a build or an app.json)."""
    if release is None or release.build is None or not release.build.app_json:
        return []
    return list(release.build.app_json.get("cron") or [])


def iso(moment: datetime | None) -> str | None:
    return utc(moment).isoformat().replace("+00:00", "Z") if moment is not None else None


def parse_iso(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


# -- records (Redis) --------------------------------------------------------------------------------------

class CronStore:
    """Claims, runs in progress, per-job records and queued manual runs, in Redis (client passed in)."""

    def __init__(self, redis):
        self.redis = redis

    @staticmethod
    def _job(app: str, job: str) -> str:
        return f"{PREFIX}job:{app}:{job}"

    def claim(self, app: str, job: str, tick: datetime) -> bool:
        """True for the one caller that may run ``tick`` of the job."""
        key = f"{PREFIX}tick:{app}:{job}:{int(utc(tick).timestamp())}"
        return bool(self.redis.set(key, str(time.time()), nx=True, ex=CLAIM_TTL))

    def record(self, app: str, job: str, since: datetime | None = None) -> dict:
        """last_tick, last_start, last_release, last_run, last_exit_code, last_duration, last_finished
        (what is known; the exit code is null when the run could not start). ``since``: the app's
        creation; older records are of a destroyed app of the same name, and none of this one's."""
        raw = self.redis.hgetall(self._job(app, job))
        record = {k.decode(): json.loads(v) for k, v in raw.items()}
        latest = max(filter(None, (parse_iso(record.get("last_tick")), parse_iso(record.get("last_start")))),
                     default=None)
        if since is not None and latest is not None and latest < utc(since):
            return {}
        return record

    def handled(self, app: str, job: str, tick: datetime) -> None:
        self.redis.hset(self._job(app, job), "last_tick", json.dumps(iso(tick)))

    def running(self, app: str, job: str, now: float | None = None) -> list[str]:
        """Ids of the job's runs in progress (whose heartbeat has not lapsed)."""
        key = f"{PREFIX}running:{app}:{job}"
        now = time.time() if now is None else now
        self.redis.zremrangebyscore(key, "-inf", now)
        return [member.decode() for member in self.redis.zrangebyscore(key, now, "+inf")]

    def beat(self, app: str, job: str, run: str) -> None:
        key = f"{PREFIX}running:{app}:{job}"
        self.redis.zadd(key, {run: time.time() + RUNNING_TTL})
        self.redis.expire(key, int(RUNNING_TTL) * 2)

    def started(self, app: str, job: str, run: str, version: int, at: datetime) -> None:
        self.beat(app, job, run)
        self.redis.hset(self._job(app, job), mapping={
            "last_start": json.dumps(iso(at)), "last_release": json.dumps(version), "last_run": json.dumps(run),
            "last_exit_code": json.dumps(None), "last_duration": json.dumps(None), "last_finished": json.dumps(None)})

    def finished(self, app: str, job: str, run: str, exit_code: int | None, duration: float) -> None:
        self.redis.zrem(f"{PREFIX}running:{app}:{job}", run)
        if json.loads(self.redis.hget(self._job(app, job), "last_run") or b"null") == run:
            # a run replaced by a newer one does not overwrite the newer one's record
            self.redis.hset(self._job(app, job), mapping={
                "last_exit_code": json.dumps(exit_code), "last_duration": json.dumps(round(duration, 3)),
                "last_finished": json.dumps(iso(datetime.now(timezone.utc)))})

    def request_run(self, app: str, job: str) -> str:
        run = uuid.uuid4().hex[:12]
        self.redis.rpush(f"{PREFIX}requests", json.dumps({"app": app, "job": job, "run": run, "asked": time.time()}))
        return run

    def next_request(self, timeout: float) -> dict | None:
        """The oldest queued manual run, waiting up to ``timeout`` seconds for one."""
        found = self.redis.blpop([f"{PREFIX}requests"], timeout=max(timeout, 0.01))
        return json.loads(found[1]) if found else None

    def alive(self, pid: int) -> None:
        self.redis.set(f"{PREFIX}alive", pid, ex=ALIVE_TTL)

    def is_alive(self) -> bool:
        return bool(self.redis.exists(f"{PREFIX}alive"))


# -- API ----------------------------------------------------------------------------------------------------

class Unavailable(APIError):
    status = 503


def _store() -> CronStore:
    if current_app.config["DEIS"].scheduler == "off":
        raise Conflict("this controller runs without a scheduler (DEIS_SCHEDULER=off): no cron jobs run")
    if "deis_cron" not in current_app.extensions:
        from redis import Redis

        current_app.extensions["deis_cron"] = CronStore(Redis.from_url(current_app.config["DEIS"].redis_url))
    return current_app.extensions["deis_cron"]


@bp.get("/apps/<name>/cron")
def list_jobs(name):
    """The serving release's cron jobs: schedule, next run (UTC) and how the last run went."""
    app = app_for_user(name)
    release = releases.serving(session(), app)
    jobs = jobs_of(release)
    store = _store() if jobs else None
    now = datetime.now(timezone.utc)
    results = []
    for job in jobs:
        record = store.record(app.name, job["id"], since=app.created)
        results.append({**job, "next_run": iso(next_tick(job["schedule"], now)),
                        "last_run": record.get("last_start"), "last_run_id": record.get("last_run"),
                        "last_release": record.get("last_release"),
                        "last_exit_code": record.get("last_exit_code"),
                        "last_duration": record.get("last_duration"), "last_finished": record.get("last_finished"),
                        "running": len(store.running(app.name, job["id"]))})
    return {"count": len(results), "release": release.version if release else None, "results": results}


@bp.post("/apps/<name>/cron/<path:job_id>/run")
def run_job(name, job_id):
    """Queue a run of the job now, for the cron component; its output goes to ``deis logs``."""
    app = app_for_user(name)
    release = releases.serving(session(), app)
    if release is None or release.build is None:
        raise Conflict(f"{app.name} has no build serving yet: push code or pull an image first")
    jobs = {job["id"]: job for job in jobs_of(release)}
    if not JOB_ID.fullmatch(job_id) or job_id not in jobs:
        known = ", ".join(sorted(jobs)) or "none: app.json has no cron section"
        raise NotFound(f"no cron job {job_id!r} in {app.name} v{release.version} (jobs: {known})")
    store = _store()
    if not store.is_alive():
        raise Unavailable("the cron component is not running (deisctl up starts it); nothing was queued")
    run = store.request_run(app.name, job_id)
    return {"job": job_id, "run": run, "release": release.version, "command": jobs[job_id]["command"]}, 202

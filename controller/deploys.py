"""Deploys: jobs that bring a release (or a new scale, or a restart) onto the hosts, off the request.

The release service (:func:`controller.releases.make_release`) writes a release as ``queued`` and
submits its deploy; scale and restart submit one too. A deploy worker (``python -m
controller.worker``, an rq worker of the ``deploys`` queue) runs it: the release becomes
``deploying``, then ``succeeded`` the moment the router serves it (the old containers drain and stop
after that, while whoever waits has its answer), or ``failed`` with the reason, the previous release
serving on. A queued deploy that a newer release has overtaken is ``superseded`` and skipped. Deploys
of one app run one at a time (the scheduler's app lock).

Each deploy writes a job log (:mod:`deiscore.joblog`) that the CLI and ``git push`` follow live:
its step lines, ``live`` once traffic is on the new release, ``end`` with the outcome. A running
deploy keeps a heartbeat key; a deploy whose worker died (no heartbeat, no longer queued) is
resolved by :func:`recover`: succeeded when the scheduler had switched to it, failed otherwise.
"""
from __future__ import annotations

import functools
import logging
import math
import time
import uuid
from dataclasses import dataclass
from datetime import timezone

from flask import Blueprint, current_app, request
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from controller import release_phase
from controller.access import app_for_user, session
from controller.db import begin_write
from controller.errors import BadRequest, NotFound
from controller.models import App, Release, now
from deiscore import joblog
from deiscore import jobs as platform_jobs

log = logging.getLogger(__name__)
bp = Blueprint("deploys", __name__)

QUEUE = "deploys"
JOB_TIMEOUT = 1800
ACTIVE = ("queued", "deploying")
MAX_WAIT = 5.0  # seconds one GET of a deploy's log waits for news
POLL = 0.02


log_key = joblog.deploy_key


# -- the API side: submit, follow ---------------------------------------------------------------


class Deploys:
    """The deploys queue, as the API and the reconcile loop use it."""

    def __init__(self, redis):
        self.redis = redis
        self.queue = platform_jobs.queue(redis, QUEUE)

    def submit(self, app: str, kind: str, version: int | None = None, target: str | None = None,
               deploy_id: str | None = None) -> dict:
        deploy_id = deploy_id or uuid.uuid4().hex
        job = {"id": deploy_id, "app": app, "kind": kind, "version": version, "target": target}
        self.queue.enqueue(run, job, job_id=deploy_id, job_timeout=JOB_TIMEOUT, result_ttl=3600,
                           failure_ttl=86400, description=f"{kind} {app}" + (f" v{version}" if version else ""))
        return {"id": deploy_id, "app": app, "kind": kind, "release": version}

    def events(self, app: str, deploy_id: str, start: int) -> list[dict]:
        return joblog.read(self.redis, log_key(app, deploy_id), start)

    def alive(self, deploy_id: str) -> bool:
        return platform_jobs.alive(self.redis, deploy_id)

    def end(self, app: str, deploy_id: str, ok: bool, error: str | None = None) -> None:
        joblog.JobLog(self.redis, log_key(app, deploy_id)).end(ok, error=error)


def _deploys() -> Deploys | None:
    return current_app.extensions.get("deis_deploys")


def submit(app: App, kind: str, release: Release | None = None, target: str | None = None) -> dict | None:
    """Queue a deploy of ``app`` after its change is committed; what the command shows (None: nothing
    runs, e.g. a controller without a scheduler)."""
    deploys = _deploys()
    if deploys is None:
        return None
    if release is not None:
        return deploys.submit(app.name, kind, release.version, deploy_id=release.deploy_id)
    return deploys.submit(app.name, kind, target=target)


@bp.get("/apps/<name>/deploys/<deploy_id>")
def follow(name, deploy_id):
    """The deploy's log from ``?since=N`` (an event index), waiting up to ``?wait=S`` seconds for news:
    ``{"events": [...], "next": N}``. Ends with an ``end`` event, made up here when the deploy's
    worker died without writing one."""
    app = app_for_user(name)
    deploys = _deploys()
    if deploys is None or not (deploy_id.isascii() and deploy_id.isalnum()) or len(deploy_id) > 64:
        raise NotFound(f"deploy {deploy_id!r} of {app.name} not found")
    since, wait = request.args.get("since", "0"), request.args.get("wait", "0")
    if not (since.isascii() and since.isdecimal() and len(since) <= 9):
        raise BadRequest(f"invalid since {since!r}: an event index, a whole number >= 0")
    try:
        wait = float(wait)
    except ValueError:
        wait = math.nan
    if not 0 <= wait <= MAX_WAIT:  # also refuses nan
        raise BadRequest(f"invalid wait {request.args.get('wait')!r}: seconds, from 0 to {MAX_WAIT:g}")
    start = int(since)
    session().close()  # no database connection is held while waiting
    deadline = time.monotonic() + wait
    while True:
        events = deploys.events(app.name, deploy_id, start)
        if events or time.monotonic() >= deadline:
            break
        time.sleep(POLL)
    if not events and not deploys.alive(deploy_id):
        release = session().scalar(select(Release).where(Release.app_id == app.id,
                                                         Release.deploy_id == deploy_id))
        if release is not None and release.status in ACTIVE:
            recover(session(), deployer(), deploys, app, release)
        events = deploys.events(app.name, deploy_id, start)
        if not events:
            events = [{"end": True, "ok": False, "error": "this deploy is gone (its log expired or it never ran)"}]
    return {"events": events, "next": start + len(events)}


def deployer():
    return current_app.extensions.get("deis_deployer")


def forget_builds(app: str, app_id: str) -> None:
    """Have the builder remove what it kept of a destroyed app (repository, build cache, slugs)."""
    queue = _deploys()
    if queue is not None:
        from builder.jobs import enqueue_forget

        enqueue_forget(queue.redis, app, app_id)


# -- statuses ---------------------------------------------------------------------------------


def set_status(db: Session, release_id: int, status: str, detail: str | None = None) -> None:
    """Record a deploy's outcome, in a transaction of its own."""
    db.rollback()
    begin_write(db)
    db.execute(update(Release).where(Release.id == release_id).values(status=status, status_detail=detail))
    db.commit()


def recover(db: Session, deployer, deploys: Deploys, app: App, release: Release) -> str:
    """Resolve the deploy of ``release`` whose worker stopped: succeeded if the scheduler had switched
    the router to it, failed otherwise (the release before keeps serving). Returns the status."""
    deployed = deployer.deployed_version(app.name) if deployer is not None else None
    if deployed is not None and deployed >= release.version:
        set_status(db, release.id, "succeeded")
        deploys.end(app.name, release.deploy_id, True)
        return "succeeded"
    detail = "the deploy was interrupted (its worker stopped); the release before keeps serving"
    set_status(db, release.id, "failed", detail)
    deploys.end(app.name, release.deploy_id, False, detail)
    return "failed"


def recover_interrupted(db: Session, deployer, deploys: Deploys) -> list[str]:
    """Every release left queued or deploying by a worker that died; for the reconcile loop."""
    rows = db.execute(select(Release, App).join(App, Release.app_id == App.id)
                      .where(Release.status.in_(ACTIVE), Release.deploy_id.is_not(None))).all()
    db.rollback()
    resolved = []
    for release, app in rows:
        if not _just_made(release) and not deploys.alive(release.deploy_id):
            resolved.append(f"{app.name} v{release.version}: {recover(db, deployer, deploys, app, release)}")
    return resolved


def _just_made(release: Release) -> bool:
    """Whether the release is so new that its deploy job may not be queued yet: make_release commits the
    release before it queues the job (seen: a reconcile round in between failed a deploy that then ran)."""
    created = release.created if release.created.tzinfo else release.created.replace(tzinfo=timezone.utc)
    return (now() - created).total_seconds() < platform_jobs.STARTING_GRACE


# -- the worker side ----------------------------------------------------------------------------


@dataclass
class Runner:
    """What a deploy worker needs: database sessions, the deployer (scheduler + events), Redis."""

    sessions: object
    deployer: object
    redis: object

    def run(self, job: dict) -> dict:
        app_name, deploy_id = job["app"], job["id"]
        out = joblog.JobLog(self.redis, log_key(app_name, deploy_id))
        with platform_jobs.heartbeat(self.redis, deploy_id), self.sessions() as db:
            app = db.scalar(select(App).where(App.name == app_name))
            if app is None:
                out.end(False, error=f"app {app_name} no longer exists")
                return {"ok": False}
            if job["kind"] == "release":
                ok, detail = self._release(db, app, job["version"], out)
            else:
                ok, detail = self._converge(db, app, job, out)
            out.end(ok, error=None if ok else detail, result={"detail": detail})
            return {"ok": ok, "detail": detail}

    def _release(self, db: Session, app: App, version: int, out) -> tuple[bool, str]:
        release = db.scalar(select(Release).where(Release.app_id == app.id, Release.version == version))
        if release is None or release.status not in ACTIVE:
            return True, f"v{version} is {release.status if release else 'gone'}: nothing to do"
        newer = db.scalar(select(Release.version).where(
            Release.app_id == app.id, Release.version > version,
            Release.status.in_(("queued", "deploying", "succeeded"))).order_by(Release.version.desc()).limit(1))
        if newer is not None:
            self._set(release, "superseded", f"v{newer} came before it was deployed")
            out.line(f"v{version} is superseded by v{newer}: skipped")
            return True, f"superseded by v{newer}"
        from controller.releases import serving as serving_release

        self._set(release, "deploying")
        serving = serving_release(db, app)
        try:
            release_phase.before_cutover(self.deployer, db, app, release, serving, out.line)
        except release_phase.PhaseFailed as exc:
            self._set(release, "failed", str(exc))
            return False, str(exc)
        live = []
        postdeploy = release_phase.needed(release, serving) and release_phase.steps(release)[1]

        def on_live():
            if not live:
                live.append(True)
                self._set(release, "succeeded")
                if not postdeploy:  # else whoever follows waits for the postdeploy's output too
                    out.live()

        outcome = self.deployer.deploy(db, app, release, out.line, on_live)
        if outcome.status == "succeeded":
            on_live()
            problem = release_phase.after_cutover(self.deployer, db, app, release, serving, out.line)
            if problem:
                out.line(f"warning: {problem}")
        elif not live:  # once traffic is on it, a later hitch (stopping old containers) fails nothing
            self._set(release, outcome.status, outcome.detail)
        return outcome.status != "failed", outcome.detail

    def _set(self, release: Release, status: str, detail: str | None = None) -> None:
        with self.sessions() as db:
            set_status(db, release.id, status, detail)

    def _converge(self, db: Session, app: App, job: dict, out) -> tuple[bool, str]:
        from controller.releases import serving

        release = serving(db, app)
        if release is None or release.build is None:
            return True, f"{app.name} has no running release: nothing to {job['kind']}"
        if job["kind"] == "scale":
            outcome = self.deployer.scale(db, app, release, out.line, out.live)
        else:
            outcome = self.deployer.restart(db, app, release, job["target"], out.line, out.live)
        return outcome.status != "failed", outcome.detail


@functools.cache
def _runner() -> Runner:
    """The worker process's runner, built from the platform's settings on its first job."""
    from redis import Redis

    from controller import db
    from controller.app import make_deployer
    from deiscore.settings import load

    settings = load()
    return Runner(db.make_sessionmaker(db.make_engine(settings.database_url)),
                  make_deployer(settings, background_drain=True),
                  Redis.from_url(settings.redis_url))


def run(job: dict) -> dict:
    """The rq entry point of a deploy."""
    return _runner().run(job)

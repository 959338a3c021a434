"""Releases: numbered, immutable (build, config) pairs; v1 on app creation, one more per change.

Every change that makes a release (a build, config, limits, tags, health checks, a rollback) goes
through :func:`make_release`: the caller parses its request into a pure change of a :class:`Draft`,
and the service merges it, checks it, fit-checks it on the hosts, writes the release and queues its
deploy. What the next change builds on is the newest release, whether its deploy succeeded or not
(Heroku's model: config is the app's, a failed deploy does not undo it); what serves is the newest
release whose deploy succeeded (:func:`serving`).
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, replace
from typing import Callable

from flask import Blueprint
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session, joinedload

from controller import deploys, scheduling
from controller.access import app_for_user, current_user, optional_body, page_limit, session
from controller.errors import BadRequest, Conflict, NotFound
from controller.models import App, Build, Config, Release, User, iso

bp = Blueprint("releases", __name__)
VERSION = re.compile(r"v?([1-9][0-9]{0,8})")


def _names(keys) -> str:
    return ", ".join(sorted(keys))


def config_summary(old: dict, new: dict) -> str:
    """Describe a config change the way ``deis releases`` shows it: 'added A, changed B, removed C'."""
    added = new.keys() - old.keys()
    removed = old.keys() - new.keys()
    changed = {k for k in new.keys() & old.keys() if new[k] != old[k]}
    parts = [f"{verb} {_names(keys)}" for verb, keys in
             (("added", added), ("changed", changed), ("removed", removed)) if keys]
    return ", ".join(parts)


def limits_summary(kind: str, old: dict, new: dict) -> str:
    changed = {k for k in old.keys() | new.keys() if old.get(k) != new.get(k)}
    return f"changed {kind} limits for {_names(changed)}" if changed else ""


def build_summary(build: Build) -> str:
    return f"deployed {build.sha[:7]}" if build.sha else f"deployed {build.image}"


@dataclass(frozen=True)
class Draft:
    """A release before it is written: its build and its config's parts. Changes map a draft to a draft."""

    build: Build | None
    values: dict
    memory: dict
    cpu: dict
    tags: dict

    @classmethod
    def of(cls, release: Release) -> "Draft":
        config = release.config
        return cls(release.build, dict(config.values), dict(config.memory), dict(config.cpu), dict(config.tags or {}))

    def change(self, **fields) -> "Draft":
        return replace(self, **fields)


Change = Callable[[Draft], Draft]


def describe(old: Draft, new: Draft) -> str:
    """What a change did, the way ``deis releases`` shows it; empty when nothing changed."""
    parts = []
    if new.build is not old.build and new.build is not None:
        parts.append(build_summary(new.build))
    parts.append(config_summary(old.values, new.values))
    parts.append(limits_summary("memory", old.memory, new.memory))
    parts.append(limits_summary("cpu", old.cpu, new.cpu))
    tags = config_summary(old.tags, new.tags)
    parts.append(f"tags: {tags}" if tags else "")
    return "; ".join(filter(None, parts))


def make_release(db: Session, app: App, user: User | None, change: Change, *, summary: str | None = None,
                 structure: dict | None = None) -> Release:
    """The one way a release is made: merge ``change`` into the newest release, check the result, refuse
    it (409, nothing written) when its processes do not fit on the hosts, write vN+1, commit, and queue
    its deploy (``release.deploy``: what the command follows). ``app`` was loaded with its row lock
    (``app_for_user(name, lock=True)``), which serializes the app's changes. ``structure`` is a new
    scale, set with the release (a build's process types)."""
    current = latest(db, app)
    base = Draft.of(current)
    draft = change(base)
    summary = summary or describe(base, draft)
    if not summary:
        raise BadRequest("nothing changed: the app already has these values")
    scheduling.check_healthcheck(draft.values)
    config = current.config
    if (draft.values, draft.memory, draft.cpu, draft.tags) != (base.values, base.memory, base.cpu, base.tags):
        config = Config(app_id=app.id, owner_id=user.id if user else None, values=draft.values,
                        memory=draft.memory, cpu=draft.cpu, tags=draft.tags)
    if structure is not None:
        app.structure = structure
    deployer = deploys.deployer()
    deploying = draft.build is not None and deployer is not None
    if deploying:
        deployer.check_fits(scheduling.spec_for(db, app, current.version + 1, draft.build, config))
    if config is not current.config:
        db.add(config)
    if draft.build is not None and draft.build.id is None:
        db.add(draft.build)
    release = create(db, app, user, build=draft.build, config=config, summary=summary)
    release.status = "queued" if deploying else "succeeded"  # nothing to run: current at once
    release.deploy_id = uuid.uuid4().hex if deploying else None
    db.commit()
    if deployer is not None:
        deployer.events.record(app.name, f"release v{release.version} created: {summary}")
    release.deploy = deploys.submit(app, "release", release) if deploying else None
    return release


def parse_version(value) -> int:
    match = VERSION.fullmatch(str(value))
    if not match:
        raise BadRequest(f"invalid release version {value!r}: use vN, e.g. v3")
    return int(match.group(1))


# Hot queries, built once (see controller.access).
_LATEST = (select(Release).where(Release.app_id == bindparam("app_id")).order_by(Release.version.desc()).limit(1)
           .options(joinedload(Release.config), joinedload(Release.build)))
_LAST_VERSION = select(func.max(Release.version)).where(Release.app_id == bindparam("app_id"))
_COUNT = select(func.count()).select_from(Release).where(Release.app_id == bindparam("app_id"))
_LIST = (select(Release.version, Release.summary, Release.created, User.username, Config.uuid,
                Build.uuid, Build.image, Build.sha, Build.kind, Release.status, Release.status_detail)
         .join(Config, Release.config_id == Config.id)
         .outerjoin(User, Release.owner_id == User.id)
         .outerjoin(Build, Release.build_id == Build.id)
         .where(Release.app_id == bindparam("app_id")).order_by(Release.version.desc()).limit(bindparam("limit")))


_SERVING = (select(Release).where(Release.app_id == bindparam("app_id"), Release.status == "succeeded")
            .order_by(Release.version.desc()).limit(1).options(joinedload(Release.config), joinedload(Release.build)))


def latest(db: Session, app: App) -> Release:
    """The app's newest release, what the next change builds on; config and build loaded with it."""
    return db.scalar(_LATEST, {"app_id": app.id})


def serving(db: Session, app: App) -> Release | None:
    """The app's current release: the newest whose deploy succeeded (None while none has)."""
    return db.scalar(_SERVING, {"app_id": app.id})


def create(db: Session, app: App, user: User | None, *, build: Build | None, config: Config,
           summary: str) -> Release:
    """Add release vN+1. The caller holds the app's write lock, so N is read and bumped atomically."""
    version = (db.scalar(_LAST_VERSION, {"app_id": app.id}) or 0) + 1
    release = Release(app_id=app.id, owner=user, version=version, build=build, config=config, summary=summary)
    db.add(release)
    db.flush()
    return release


def by_version(db: Session, app: App, version: int) -> Release:
    release = db.scalar(select(Release).where(Release.app_id == app.id, Release.version == version))
    if release is None:
        raise NotFound(f"release v{version} of {app.name} not found")
    return release


@bp.get("/apps/<name>/releases")
def list_releases(name):
    """Newest first. Plain column rows rather than ORM objects: this list is the hot path."""
    app = app_for_user(name)
    db = session()
    rows = db.execute(_LIST, {"app_id": app.id, "limit": page_limit()})
    results = [{"app": app.name, "version": version, "summary": summary, "owner": owner,
                "build": {"uuid": build, "image": image, "sha": sha, "kind": kind} if build else None,
                "image": image, "config": config, "created": iso(created), "status": status,
                "status_detail": detail}
               for version, summary, created, owner, config, build, image, sha, kind, status, detail in rows]
    count = db.scalar(_COUNT, {"app_id": app.id})
    return {"count": count, "results": results}


@bp.get("/apps/<name>/releases/<version>")
def release_info(name, version):
    app = app_for_user(name)
    release = by_version(session(), app, parse_version(version))
    info = release.to_dict(app.name)
    info["config_values"] = release.config.values
    return info


@bp.post("/apps/<name>/releases/rollback")
def rollback(name):
    """New release copying vN's build and config (default: the release before the newest one)."""
    user = current_user()
    data = optional_body()
    app = app_for_user(name, lock=True)
    db = session()
    if data.get("version") is None:
        current = latest(db, app)
        if current.version <= 1:
            raise Conflict(f"{app.name} has no earlier release to roll back to")
        target = by_version(db, app, current.version - 1)
    else:
        target = by_version(db, app, parse_version(data["version"]))
    if target.build is None:
        raise Conflict(f"cannot roll back to v{target.version}: it has no build (push code or pull an image first)")
    release = make_release(db, app, user, lambda draft: Draft.of(target), summary=f"rolled back to v{target.version}")
    return {**release.to_dict(app.name), "deploy": release.deploy}, 201

"""Releases: numbered, immutable (build, config) pairs; v1 on app creation, one more per change."""
from __future__ import annotations

import re

from flask import Blueprint
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session, joinedload

from controller import deploys
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
                Build.uuid, Build.image, Build.sha, Build.kind)
         .join(Config, Release.config_id == Config.id)
         .outerjoin(User, Release.owner_id == User.id)
         .outerjoin(Build, Release.build_id == Build.id)
         .where(Release.app_id == bindparam("app_id")).order_by(Release.version.desc()).limit(bindparam("limit")))


def latest(db: Session, app: App) -> Release:
    """The app's current release, with its config and build loaded in the same query (callers use both)."""
    return db.scalar(_LATEST, {"app_id": app.id})


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
                "image": image, "config": config, "created": iso(created)}
               for version, summary, created, owner, config, build, image, sha, kind in rows]
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
    """New release copying vN's build and config (default: the release before the current one)."""
    user = current_user()
    app = app_for_user(name, lock=True)
    db = session()
    current = latest(db, app)
    data = optional_body()
    if data.get("version") is None:
        if current.version <= 1:
            raise Conflict(f"{app.name} has no earlier release to roll back to")
        target = by_version(db, app, current.version - 1)
    else:
        target = by_version(db, app, parse_version(data["version"]))
    if target.build is None:
        raise Conflict(f"cannot roll back to v{target.version}: it has no build (push code or pull an image first)")
    release = create(db, app, user, build=target.build, config=target.config,
                     summary=f"rolled back to v{target.version}")
    db.commit()
    return {**release.to_dict(app.name), "deploy": deploys.deploy(app, release)}, 201

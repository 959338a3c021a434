"""Builds: an image plus its process types. Each new build makes a release."""
from __future__ import annotations

from flask import Blueprint
from sqlalchemy import select
from sqlalchemy.orm import Session

from controller import deploys, releases, validation
from controller.access import app_for_user, body, current_user, session
from controller.errors import BadRequest
from controller.models import App, Build, Release, User

bp = Blueprint("builds", __name__)
KINDS = {"buildpack", "dockerfile", "image"}


def default_procfile(kind: str, procfile: dict) -> dict:
    """Without a Procfile, a Docker image runs its own CMD as process type ``cmd`` (Deis semantics)."""
    if not procfile and kind in ("dockerfile", "image"):
        return {"cmd": ""}
    return procfile


def prune_structure(structure: dict, procfile: dict) -> dict:
    """Desired scale for a new build: known types keep their counts; a fresh app gets one of web or cmd."""
    kept = {ptype: count for ptype, count in (structure or {}).items() if ptype in procfile}
    if not kept:
        for ptype in ("web", "cmd"):
            if ptype in procfile:
                kept[ptype] = 1
                break
    return kept


def record(db: Session, app: App, user: User | None, *, image: str, sha: str, kind: str,
           procfile: dict) -> tuple[Build, Release]:
    """Store a build and release it with the current config. Caller holds the app lock and commits."""
    if kind not in KINDS:
        raise BadRequest(f"invalid build kind {kind!r}: one of {', '.join(sorted(KINDS))}")
    procfile = default_procfile(kind, validation.procfile(procfile) if procfile else {})
    build = Build(app_id=app.id, owner=user, image=validation.image(image), sha=sha, kind=kind, procfile=procfile)
    db.add(build)
    current = releases.latest(db, app)
    app.structure = prune_structure(app.structure, procfile)
    release = releases.create(db, app, user, build=build, config=current.config,
                              summary=releases.build_summary(build))
    return build, release


@bp.get("/apps/<name>/builds")
def list_builds(name):
    app = app_for_user(name)
    rows = session().scalars(select(Build).where(Build.app_id == app.id).order_by(Build.id.desc()))
    results = [b.to_dict() for b in rows]
    return {"count": len(results), "results": results}


@bp.post("/apps/<name>/builds")
def create_build(name):
    """``deis pull <image>``: release an existing image, optionally with a Procfile mapping."""
    user = current_user()
    data = body()
    procfile = data.get("procfile") or {}
    app = app_for_user(name, lock=True)
    db = session()
    build, release = record(db, app, user, image=data.get("image"), sha="", kind="image", procfile=procfile)
    db.commit()
    return {**build.to_dict(), "release": release.version, "deploy": deploys.deploy(app, release)}, 201

"""Apps: create (v1, no build), list, info, destroy, transfer."""
from __future__ import annotations

import secrets

from flask import Blueprint, request
from sqlalchemy import bindparam, delete, select

from controller import deploys, releases
from controller.access import app_for_user, body, current_user, optional_body, session, settings, user_by_name
from controller.db import unique_or_conflict
from controller.errors import Conflict
from controller.models import App, Build, Config, Domain, Perm, Release, User, iso
from deiscore import validation

bp = Blueprint("apps", __name__)
ADJECTIVES = ["amber", "bold", "calm", "dusty", "eager", "fuzzy", "gentle", "hidden", "icy", "jolly",
              "keen", "lively", "misty", "noble", "odd", "proud", "quiet", "rapid", "shiny", "tidy"]
NOUNS = ["anchor", "badger", "cactus", "dolphin", "ember", "falcon", "glacier", "harbor", "island",
         "jaguar", "kettle", "lantern", "meadow", "nebula", "orchid", "pebble", "quartz", "river"]


def random_name() -> str:
    return f"{secrets.choice(ADJECTIVES)}-{secrets.choice(NOUNS)}-{secrets.randbelow(9000) + 1000}"


def app_url(name: str) -> str:
    s = settings()
    port = "" if s.router_port == 80 else f":{s.router_port}"
    return f"http://{name}.{s.domain}{port}"


def git_url(name: str) -> str:
    """The app's git remote, on the host the client reached the controller by."""
    host = request.host.rsplit(":", 1)[0] if not request.host.endswith("]") else request.host
    return f"ssh://git@{host}:{settings().builder_port}/{name}.git"


def describe(name: str, uuid: str, owner: str, structure: dict | None, created) -> dict:
    return {"id": name, "uuid": uuid, "owner": owner, "url": app_url(name), "git_url": git_url(name),
            "structure": structure or {}, "created": iso(created)}


def app_info(app: App) -> dict:
    return describe(app.name, app.uuid, app.owner.username, app.structure, app.created)


@bp.post("/apps")
def create_app():
    user = current_user()
    data = optional_body()
    db = session()
    name = data.get("id")
    if name is None:
        name = next(n for n in iter(random_name, None)
                    if db.scalar(select(App).where(App.name == n)) is None)
    validation.app_name(name)
    if db.scalar(select(App).where(App.name == name)) is not None:
        raise Conflict(f"app {name!r} already exists")
    with unique_or_conflict(db, f"app {name!r} already exists"):
        app = App(name=name, owner=user, structure={})
        db.add(app)
        db.flush()
        config = Config(app_id=app.id, owner_id=user.id, values={})
        db.add(config)
        releases.create(db, app, user, build=None, config=config, summary="created initial release")
    return app_info(app), 201


# Built once: building the statement would cost more than running it.
_ALL_APPS = (select(App.name, App.uuid, User.username, App.structure, App.created)
             .join(User, App.owner_id == User.id).order_by(App.name))
_USER_APPS = _ALL_APPS.where((App.owner_id == bindparam("user_id"))
                             | App.id.in_(select(Perm.app_id).where(Perm.user_id == bindparam("user_id"))))


@bp.get("/apps")
def list_apps():
    """Plain column rows rather than ORM objects: this list is a hot path."""
    user = current_user()
    if user.is_admin:
        rows = session().execute(_ALL_APPS)
    else:
        rows = session().execute(_USER_APPS, {"user_id": user.id})
    results = [describe(*row) for row in rows]
    return {"count": len(results), "results": results}


@bp.get("/apps/<name>")
def info(name):
    app = app_for_user(name)
    result = app_info(app)
    db = session()
    newest, current = releases.latest(db, app), releases.serving(db, app)
    result["release"] = current.version if current is not None else None
    result["newest_release"] = {"version": newest.version, "status": newest.status,
                                "status_detail": newest.status_detail} if newest is not current else None
    result["domains"] = sorted(session().scalars(select(Domain.domain).where(Domain.app_id == app.id)))
    return result


@bp.delete("/apps/<name>")
def destroy(name):
    app = app_for_user(name, lock=True, owner_only=True)
    db = session()
    for model in (Release, Build, Config, Domain, Perm):  # children first: no FK surprises on any database
        db.execute(delete(model).where(model.app_id == app.id))
    app_id = app.uuid
    db.delete(app)
    db.commit()
    deployer = deploys.deployer()
    if deployer is not None:
        deployer.destroy(name)
    deploys.forget_builds(name, app_id)
    return "", 204


@bp.post("/apps/<name>/transfer")
def transfer(name):
    app = app_for_user(name, lock=True, owner_only=True)
    new_owner = user_by_name(body().get("username"))
    db = session()
    app.owner = new_owner
    db.execute(delete(Perm).where(Perm.app_id == app.id, Perm.user_id == new_owner.id))
    db.commit()
    return app_info(app)

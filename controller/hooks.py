"""Builder hooks, authenticated by the builder secret rather than a user token.

- POST /v1/hooks/key   {"fingerprint"}          -> which user owns this key?
- POST /v1/hooks/push  {"fingerprint", "app"}   -> may that user push to the app? (+ its config)
- POST /v1/hooks/fetch {"fingerprint", "app"}   -> may that user fetch (git clone) the app's repository?
- POST /v1/hooks/builds {"app", "user", "image", "sha", "kind", "procfile", "port", "entrypoint",
  "release_command", "app_json"} -> build + release
  (``image``: ``<registry>/<app>@sha256:...``, the digest the builder pushed to the app's repository)
"""
from __future__ import annotations

from flask import Blueprint
from sqlalchemy import select

from controller import builds, releases
from controller.access import body, can_use_app, check_builder_secret, find_app, session, user_by_name
from controller.apps import app_url
from controller.errors import BadRequest, Forbidden, NotFound
from controller.models import Key, User

bp = Blueprint("hooks", __name__)


@bp.before_request
def authenticate_builder():
    check_builder_secret()


def _user_for_key(fingerprint) -> User:
    if not isinstance(fingerprint, str) or not fingerprint.startswith("SHA256:"):
        raise BadRequest("fingerprint must look like SHA256:<base64>")
    key = session().scalar(select(Key).where(Key.fingerprint == fingerprint))
    if key is None:
        raise NotFound(f"unknown key {fingerprint}: add it with 'deis keys:add'")
    return key.user


@bp.post("/hooks/key")
def key_owner():
    return {"user": _user_for_key(body().get("fingerprint")).username}


@bp.post("/hooks/push")
def may_push():
    data = body()
    user = _user_for_key(data.get("fingerprint"))
    app = find_app(data.get("app"))
    if not can_use_app(user, app):
        raise NotFound(f"app {app.name!r} not found")  # like a missing one: names cannot be probed
    config = releases.latest(session(), app).config
    return {"user": user.username, "app": app.name, "uuid": app.uuid, "config": config.values}


@bp.post("/hooks/fetch")
def may_fetch():
    """The app's code is its owner's (and administrators'): collaborators push, but do not clone."""
    data = body()
    user = _user_for_key(data.get("fingerprint"))
    app = find_app(data.get("app"))
    if not (user.is_admin or app.owner_id == user.id):
        if not can_use_app(user, app):
            raise NotFound(f"app {app.name!r} not found")
        raise Forbidden(f"only the owner of app {app.name!r} may fetch it from the builder")
    return {"user": user.username, "app": app.name, "uuid": app.uuid}


@bp.post("/hooks/builds")
def register_build():
    data = body()
    user = user_by_name(data.get("user"))
    app = find_app(data.get("app"), lock=True)
    if not can_use_app(user, app):
        raise Forbidden(f"user {user.username!r} may not push to app {app.name!r}")
    sha = data.get("sha", "")
    if not isinstance(sha, str) or len(sha) > 64 or not all(c in "0123456789abcdef" for c in sha):
        raise BadRequest(f"invalid git sha {sha!r}")
    image = builds.built_image(app, data.get("image"))
    previous = releases.serving(session(), app)
    build, release = builds.release_build(session(), app, user, image=image, sha=sha, kind=data.get("kind"),
                                          procfile=data.get("procfile") or {}, port=data.get("port"),
                                          entrypoint=data.get("entrypoint"),
                                          release_command=data.get("release_command"), app_json=data.get("app_json"))
    return {"build": build.to_dict(), "release": {"version": release.version, "summary": release.summary},
            "url": app_url(app.name), "deploy": release.deploy,
            "serving": previous.version if previous is not None and previous.build is not None else None}, 201

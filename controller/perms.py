"""Collaborators on an app, and the platform administrator grant."""
from __future__ import annotations

from flask import Blueprint
from sqlalchemy import select

from controller.access import app_for_user, body, current_user, require_admin, session, user_by_name
from controller.db import unique_or_conflict
from controller.errors import BadRequest, Conflict, NotFound
from controller.models import Perm, User

bp = Blueprint("perms", __name__)


@bp.get("/apps/<name>/perms")
def list_perms(name):
    app = app_for_user(name)
    users = session().scalars(select(User.username).join(Perm, Perm.user_id == User.id)
                              .where(Perm.app_id == app.id).order_by(User.username)).all()
    return {"owner": app.owner.username, "users": users}


@bp.post("/apps/<name>/perms")
def grant(name):
    app = app_for_user(name, lock=True, owner_only=True)
    user = user_by_name(body().get("username"))
    db = session()
    if user.id == app.owner_id:
        raise BadRequest(f"{user.username} owns {app.name} already")
    if db.scalar(select(Perm).where(Perm.app_id == app.id, Perm.user_id == user.id)) is not None:
        raise Conflict(f"{user.username} is already a collaborator on {app.name}")
    with unique_or_conflict(db, f"{user.username} is already a collaborator on {app.name}"):
        db.add(Perm(app_id=app.id, user_id=user.id))
    return {"username": user.username, "app": app.name}, 201


@bp.delete("/apps/<name>/perms/<username>")
def revoke(name, username):
    app = app_for_user(name, lock=True, owner_only=True)
    user = user_by_name(username)
    db = session()
    perm = db.scalar(select(Perm).where(Perm.app_id == app.id, Perm.user_id == user.id))
    if perm is None:
        raise NotFound(f"{username} is not a collaborator on {app.name}")
    db.delete(perm)
    db.commit()
    return "", 204


@bp.get("/admin/perms")
def list_admins():
    require_admin()
    admins = session().scalars(select(User.username).where(User.is_admin).order_by(User.username)).all()
    return {"users": admins}


@bp.post("/admin/perms")
def grant_admin():
    require_admin()
    user = user_by_name(body().get("username"))
    user.is_admin = True
    session().commit()
    return {"username": user.username, "is_admin": True}, 201


@bp.delete("/admin/perms/<username>")
def revoke_admin(username):
    me = current_user()
    require_admin()
    user = user_by_name(username)
    if user.id == me.id:
        raise BadRequest("you cannot revoke your own administrator rights")
    user.is_admin = False
    session().commit()
    return "", 204

"""Accounts: register (first user is admin), login/logout, whoami, passwd, tokens, cancel."""
from __future__ import annotations

import secrets

from flask import Blueprint, request
from sqlalchemy import delete, func, select
from werkzeug.security import check_password_hash, generate_password_hash

from controller import validation
from controller.access import (body, current_user, hash_token, optional_body, outside_write_lock, session,
                               user_by_name)
from controller.db import lock_table, unique_or_conflict
from controller.errors import BadRequest, Conflict, Forbidden, Unauthorized
from controller.models import App, Token, User

bp = Blueprint("auth", __name__)
MIN_PASSWORD = 8


def _password(value, field="password") -> str:
    if not isinstance(value, str) or len(value) < MIN_PASSWORD:
        raise BadRequest(f"{field} must be at least {MIN_PASSWORD} characters")
    if len(value) > 1024:
        raise BadRequest(f"{field} is too long")
    return value


def issue_token(user: User) -> str:
    token = secrets.token_hex(20)
    session().add(Token(user=user, token_hash=hash_token(token)))
    return token


@bp.post("/auth/register")
def register():
    data = body()
    username = validation.username(data.get("username"))
    password = _password(data.get("password"))
    email = data.get("email", "")
    if not isinstance(email, str) or len(email) > 254 or (email and "@" not in email):
        raise BadRequest(f"invalid email {email!r}")
    password_hash = generate_password_hash(password)  # slow on purpose: before taking any lock
    db = session()
    lock_table(db, User.__tablename__)  # two simultaneous first users must not both become admin
    if db.scalar(select(User).where(User.username == username)) is not None:
        raise Conflict(f"user {username!r} already exists")
    first = db.scalar(select(func.count()).select_from(User)) == 0
    user = User(username=username, email=email, password_hash=password_hash, is_admin=first)
    with unique_or_conflict(db, f"user {username!r} already exists"):
        db.add(user)
    return user.to_dict(), 201


@bp.post("/auth/login")
def login():
    data = body()
    username, password = data.get("username"), data.get("password")
    db = session()
    user = db.scalar(select(User).where(User.username == username)) if isinstance(username, str) else None
    with outside_write_lock():
        valid = user is not None and isinstance(password, str) and check_password_hash(user.password_hash, password)
    if not valid:
        raise Unauthorized("bad username or password")
    token = issue_token(user)
    db.commit()
    return {"token": token, "username": user.username}


@bp.post("/auth/logout")
def logout():
    current_user()
    token = request.headers["Authorization"].partition(" ")[2].strip()
    db = session()
    db.execute(delete(Token).where(Token.token_hash == hash_token(token)))
    db.commit()
    return {"detail": "logged out"}


@bp.get("/auth/whoami")
def whoami():
    return current_user().to_dict()


@bp.post("/auth/passwd")
def passwd():
    user = current_user()
    data = body()
    old, new = data.get("password"), _password(data.get("new_password"), "new password")
    with outside_write_lock():
        if not isinstance(old, str) or not check_password_hash(user.password_hash, old):
            raise Unauthorized("current password is wrong")
        new_hash = generate_password_hash(new)
    user.password_hash = new_hash
    session().commit()
    return {"detail": "password changed"}


@bp.post("/auth/tokens")
def regenerate_token():
    """Revoke every token of the user (or, for an admin, of another user) and issue a new one."""
    user = current_user()
    data = optional_body()
    target = user
    if data.get("username") not in (None, user.username):
        if not user.is_admin:
            raise Forbidden("only administrators may regenerate another user's token")
        target = user_by_name(data["username"])
    db = session()
    db.execute(delete(Token).where(Token.user_id == target.id))
    token = issue_token(target)
    db.commit()
    return {"token": token, "username": target.username}


@bp.delete("/auth/cancel")
def cancel():
    """Delete an account. Apps must be destroyed or transferred first, so nothing is orphaned."""
    user = current_user()
    data = optional_body()
    target = user
    if data.get("username") not in (None, user.username):
        if not user.is_admin:
            raise Forbidden("only administrators may cancel another user's account")
        target = user_by_name(data["username"])
    db = session()
    owned = db.scalars(select(App.name).where(App.owner_id == target.id)).all()
    if owned:
        raise Conflict(f"{target.username} still owns apps ({', '.join(sorted(owned))}): "
                       "destroy or transfer them first")
    db.delete(target)
    db.commit()
    return "", 204

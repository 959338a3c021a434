"""Accounts: register (first user is admin), login/logout, whoami, passwd, tokens, cancel."""
from __future__ import annotations

import functools
import secrets
from datetime import timedelta

from flask import Blueprint, request
from sqlalchemy import delete, func, or_, select
from werkzeug.security import check_password_hash, generate_password_hash

from controller import login_limits
from controller.access import (body, current_token, current_user, find_user, hash_token, optional_body,
                               outside_write_lock, session, settings, token_expires, user_by_name)
from controller.db import lock_table, unique_or_conflict
from controller.errors import BadRequest, Conflict, Forbidden, NotFound, Unauthorized
from controller.models import App, Token, User, iso, now
from deiscore import validation

bp = Blueprint("auth", __name__)
MIN_PASSWORD = 8
# Logins beyond this many live tokens of one user revoke the oldest, so tokens cannot pile up.
TOKENS_PER_USER = 100


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


def prune_tokens(user: User) -> None:
    """Before a login adds a token: drop the user's expired tokens, and the oldest beyond the cap."""
    expired = now() - timedelta(seconds=settings().token_ttl)
    newest = (select(Token.id).where(Token.user_id == user.id).order_by(Token.id.desc())
              .limit(TOKENS_PER_USER - 1))
    session().execute(delete(Token).where(Token.user_id == user.id,
                                          or_(Token.created <= expired, Token.id.not_in(newest))))


@functools.cache
def _unknown_user_hash() -> str:
    """A hash to check passwords against for unknown users, so that they take as long as known ones."""
    return generate_password_hash(secrets.token_hex(16))


def _password_matches(user: User | None, password) -> bool:
    candidate = password if isinstance(password, str) else ""
    matches = check_password_hash(user.password_hash if user is not None else _unknown_user_hash(), candidate)
    return matches and user is not None and isinstance(password, str)


def _target_user(data: dict, user: User, action: str) -> User:
    """The user named in the body (default: the caller); only administrators may name someone else."""
    name = data.get("username")
    if name is None or (isinstance(name, str) and name.lower() == user.username.lower()):
        return user
    if not user.is_admin:
        raise Forbidden(f"only administrators may {action}")
    return user_by_name(name)


@bp.post("/auth/register")
def register():
    data = body()
    username = validation.username(data.get("username"))
    password = _password(data.get("password"))
    email = validation.email(data.get("email", ""))
    password_hash = generate_password_hash(password)  # slow on purpose: before taking any lock
    db = session()
    lock_table(db, User.__tablename__)  # two simultaneous first users must not both become admin
    if find_user(username) is not None:  # in any case: "alice" and "Alice" are one account
        raise Conflict(f"user {username!r} already exists")
    first = db.scalar(select(func.count()).select_from(User)) == 0
    user = User(username=username, email=email, password_hash=password_hash, is_admin=first)
    with unique_or_conflict(db, f"user {username!r} already exists"):
        db.add(user)
    return user.to_dict(), 201


@bp.post("/auth/login")
def login():
    """Log in by username (any case) and password; refused with 429 past the login rate limits."""
    data = body()
    username, password = data.get("username"), data.get("password")
    account = username.lower() if isinstance(username, str) and len(username) <= validation.USERNAME_MAX else None
    db = session()
    attempt = login_limits.begin_attempt(db, account, request.remote_addr or "unknown", settings())
    user = find_user(username)
    with outside_write_lock():  # commits the attempt: a failure stays counted
        valid = _password_matches(user, password)
    if not valid:
        raise Unauthorized("bad username or password")
    login_limits.forget_attempt(db, attempt)
    prune_tokens(user)
    token = issue_token(user)
    db.commit()
    return {"token": token, "username": user.username}


@bp.post("/auth/logout")
def logout():
    token = current_token()
    db = session()
    db.execute(delete(Token).where(Token.id == token.id))
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


@bp.get("/auth/tokens")
def list_tokens():
    """The caller's live tokens (never their secrets), oldest first."""
    token = current_token()
    tokens = session().scalars(select(Token).where(Token.user_id == token.user_id).order_by(Token.id)).all()
    results = [{"id": t.id, "created": iso(t.created), "last_used": iso(t.last_used) if t.last_used else None,
                "expires": iso(token_expires(t)), "current": t.id == token.id}
               for t in tokens if token_expires(t) > now()]
    return {"count": len(results), "results": results}


@bp.delete("/auth/tokens/<int(max=2147483647):token_id>")
def revoke_token(token_id: int):
    """Revoke one of the caller's tokens (another user's is as unknown as a missing one)."""
    user = current_user()
    db = session()
    if db.execute(delete(Token).where(Token.id == token_id, Token.user_id == user.id)).rowcount == 0:
        raise NotFound(f"token {token_id} not found")
    db.commit()
    return "", 204


@bp.post("/auth/tokens")
def regenerate_token():
    """Revoke every token of the user (or, for an admin, of another user) and issue a new one."""
    user = current_user()
    target = _target_user(optional_body(), user, "regenerate another user's token")
    db = session()
    db.execute(delete(Token).where(Token.user_id == target.id))
    token = issue_token(target)
    db.commit()
    return {"token": token, "username": target.username}


@bp.delete("/auth/cancel")
def cancel():
    """Delete an account. Apps must be destroyed or transferred first, so nothing is orphaned."""
    user = current_user()
    target = _target_user(optional_body(), user, "cancel another user's account")
    db = session()
    owned = db.scalars(select(App.name).where(App.owner_id == target.id)).all()
    if owned:
        raise Conflict(f"{target.username} still owns apps ({', '.join(sorted(owned))}): "
                       "destroy or transfer them first")
    db.delete(target)
    db.commit()
    return "", 204

"""Per-request plumbing: the database session, the authenticated user, and app authorization."""
from __future__ import annotations

import hashlib
import hmac
from contextlib import contextmanager

from flask import current_app, g, request
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, joinedload

from controller import db, validation
from controller.errors import BadRequest, Forbidden, NotFound, Unauthorized
from controller.models import App, Perm, Token, User

READ_METHODS = {"GET", "HEAD", "OPTIONS"}

# The queries every request makes, built once: building a statement costs more than running it.
_TOKEN_USER = select(Token).where(Token.token_hash == bindparam("token_hash")).options(joinedload(Token.user))
_APP_BY_NAME = select(App).where(App.name == bindparam("name"))
_APP_BY_NAME_LOCKED = _APP_BY_NAME.with_for_update()  # a row lock on PostgreSQL (SQLite writers are serialized)
_PERM = select(Perm.id).where(Perm.app_id == bindparam("app_id"), Perm.user_id == bindparam("user_id"))


def session() -> Session:
    """The request's session; writes start as writer transactions so they serialize."""
    if "db" not in g:
        g.db = current_app.extensions["deis_sessions"]()
        if request.method not in READ_METHODS:
            db.begin_write(g.db)
    return g.db


@contextmanager
def outside_write_lock():
    """Run slow work (password hashing: ~0.1 s) without holding the database write lock.

    The request's transaction so far is committed (nothing may be pending), and a new writer
    transaction starts afterwards, so other writers are not stalled behind a hash.
    """
    db_session = session()
    db_session.commit()
    try:
        yield
    finally:
        if request.method not in READ_METHODS:
            db.begin_write(db_session)


def settings():
    return current_app.config["DEIS"]


def body() -> dict:
    data = request.get_json(silent=True)
    if data is None:
        raise BadRequest("request body must be JSON (Content-Type: application/json)")
    return validation.json_object(data)


def page_limit(default: int = 100, maximum: int = 1000) -> int:
    """``?limit=N`` on list endpoints (newest first), like Deis v1's pages of 100."""
    raw = request.args.get("limit", str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise BadRequest(f"limit must be a whole number between 1 and {maximum}")
    return int(raw)


def optional_body() -> dict:
    """Like ``body()`` for requests whose body may be left out; a body that is there must be valid."""
    if not request.get_data(cache=True):
        return {}
    return body()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def current_user() -> User:
    if "user" in g:
        return g.user
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "token" or not token:
        raise Unauthorized("authentication required: log in with 'deis login'")
    row = session().scalar(_TOKEN_USER, {"token_hash": hash_token(token.strip())})
    if row is None:
        raise Unauthorized("invalid token: log in again with 'deis login'")
    g.user = row.user
    return g.user


def require_admin() -> User:
    user = current_user()
    if not user.is_admin:
        raise Forbidden("only administrators may do this")
    return user


def user_by_name(name) -> User:
    validation.username(name)
    user = session().scalar(select(User).where(User.username == name))
    if user is None:
        raise NotFound(f"user {name!r} not found")
    return user


def can_use_app(user: User, app: App) -> bool:
    if user.is_admin or app.owner_id == user.id:
        return True
    return session().scalar(_PERM, {"app_id": app.id, "user_id": user.id}) is not None


def find_app(name: str, *, lock: bool = False) -> App:
    if not isinstance(name, str) or not validation.APP_NAME.fullmatch(name):
        raise NotFound(f"app {name!r} not found")
    app = session().scalar(_APP_BY_NAME_LOCKED if lock else _APP_BY_NAME, {"name": name})
    if app is None:
        raise NotFound(f"app {name!r} not found")
    return app


def app_for_user(name: str, *, lock: bool = False, owner_only: bool = False) -> App:
    """The app called ``name`` if the current user may use it: 404 unknown, 403 not allowed."""
    user = current_user()
    app = find_app(name, lock=lock)
    if owner_only:
        if not (user.is_admin or app.owner_id == user.id):
            raise Forbidden(f"only the owner of {name!r} or an administrator may do this")
    elif not can_use_app(user, app):
        raise Forbidden(f"you do not have access to app {name!r}")
    return app


def check_builder_secret() -> None:
    given = request.headers.get("X-Deis-Builder-Secret", "")
    if not hmac.compare_digest(given.encode(), settings().builder_secret.encode()):
        raise Unauthorized("invalid builder secret")

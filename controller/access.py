"""Per-request plumbing: the database session, the authenticated user, and app authorization."""
from __future__ import annotations

import hashlib
import hmac
import json
import math
import logging
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

from flask import current_app, g, request
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, joinedload

from controller import db
from controller.errors import BadRequest, Forbidden, NotFound, Unauthorized
from controller.models import App, Perm, Token, User, now
from deiscore import validation

log = logging.getLogger(__name__)
READ_METHODS = {"GET", "HEAD", "OPTIONS"}
# No endpoint takes more than 3 levels (e.g. {"values": {"K": "v"}}); deeper bodies are refused before
# any code walks them (a 100,000-deep one would otherwise exhaust the recursion limit).
MAX_JSON_DEPTH = 32
# A token's last use is written when it is this stale, so reads stay reads (one write per token per period).
LAST_USED_RESOLUTION = timedelta(minutes=5)

# The queries every request makes, built once: building a statement costs more than running it.
_TOKEN_USER = select(Token).where(Token.token_hash == bindparam("token_hash")).options(joinedload(Token.user))
_APP_BY_NAME = select(App).where(App.name == bindparam("name"))
_APP_BY_NAME_LOCKED = _APP_BY_NAME.with_for_update()  # a row lock on PostgreSQL (SQLite writers are serialized)
_PERM = select(Perm.id).where(Perm.app_id == bindparam("app_id"), Perm.user_id == bindparam("user_id"))
_USERS_BY_NAME = select(User).where(func.lower(User.username) == bindparam("name"))


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
    """The request's JSON object (the body's size was bounded by ``MAX_CONTENT_LENGTH`` as it was read)."""
    too_deep = BadRequest(f"request body is nested too deeply: at most {MAX_JSON_DEPTH} levels of JSON")
    if not request.is_json:
        raise BadRequest("request body must be JSON (Content-Type: application/json)")
    raw = request.get_data(cache=True)
    try:
        data = json.loads(raw, parse_constant=_not_a_number, parse_float=_finite)
    except RecursionError:
        raise too_deep from None
    except ValueError as exc:  # also UnicodeDecodeError
        raise BadRequest(f"request body is not valid JSON: {exc}") from None
    if raw.count(b"[") + raw.count(b"{") > MAX_JSON_DEPTH and json_depth(data) > MAX_JSON_DEPTH:
        raise too_deep
    return validation.json_object(data)


def json_depth(value) -> int:
    """Levels of arrays and objects in a parsed JSON value, counted without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def page_limit(default: int = 100, maximum: int = 1000) -> int:
    """``?limit=N`` on list endpoints (newest first), like Deis v1's pages of 100."""
    raw = request.args.get("limit", str(default))
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 6) or not 1 <= int(raw) <= maximum:
        raise BadRequest(f"limit must be a whole number between 1 and {maximum}")
    return int(raw)


def _not_a_number(constant: str):
    raise ValueError(f"{constant} is not a JSON number")


def _finite(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise ValueError(f"{text} is too large a number")
    return number


def optional_body() -> dict:
    """Like ``body()`` for requests whose body may be left out; a body that is there must be valid."""
    if not request.get_data(cache=True):
        return {}
    return body()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value  # SQLite's are naive


def token_expires(token: Token) -> datetime:
    """Tokens live DEIS_TOKEN_TTL from their login (so a shorter setting applies to tokens issued before)."""
    return utc(token.created) + timedelta(seconds=settings().token_ttl)


def current_token() -> Token:
    """The request's valid token (401 if missing, unknown or expired)."""
    if "token" in g:
        return g.token
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "token" or not token:
        raise Unauthorized("authentication required: log in with 'deis login'")
    row = session().scalar(_TOKEN_USER, {"token_hash": hash_token(token.strip())})
    if row is None:
        raise Unauthorized("invalid token: log in again with 'deis login'")
    current = now()
    if token_expires(row) <= current:
        raise Unauthorized(f"token expired at {token_expires(row).isoformat(timespec='seconds')}: "
                           "log in again with 'deis login'")
    if row.last_used is None or current - utc(row.last_used) >= LAST_USED_RESOLUTION:
        g.stale_token_id = row.id  # written after the request (see record_token_use)
    g.token = row
    return row


def current_user() -> User:
    return current_token().user


def record_token_use() -> None:
    """Note when the request's token was used, if that is stale, in a transaction of its own.

    Called once the request's session is closed (so a write request's lock is released first).
    """
    token_id = g.pop("stale_token_id", None)
    if token_id is None:
        return
    try:
        with current_app.extensions["deis_sessions"]() as db_session:
            db.begin_write(db_session)
            db_session.execute(update(Token).where(Token.id == token_id).values(last_used=now()))
            db_session.commit()
    except SQLAlchemyError as exc:  # bookkeeping: never fail the request for it
        log.warning("could not record the use of token %s: %s", token_id, exc)


def require_admin() -> User:
    user = current_user()
    if not user.is_admin:
        raise Forbidden("only administrators may do this")
    return user


def find_user(name) -> User | None:
    """The account called ``name`` in any case.

    New names are lowercase (validation.USERNAME); one registered in mixed case before that rule is
    found by any case too, its exact spelling first if an older database holds two that differ in case.
    """
    if not isinstance(name, str) or len(name) > validation.USERNAME_MAX:
        return None
    users = session().scalars(_USERS_BY_NAME, {"name": name.lower()}).all()
    exact = [user for user in users if user.username == name]
    return exact[0] if exact else users[0] if len(users) == 1 else None


def user_by_name(name) -> User:
    user = find_user(name)
    if user is None:
        validation.username(name.lower() if isinstance(name, str) else name)  # an invalid name: 400, saying why
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
    """The app called ``name`` if the current user may use it.

    An app the user may not see is 404 exactly like a missing one, so names cannot be probed;
    a collaborator, who knows the app, gets 403 for what only its owner may do.
    """
    user = current_user()
    app = find_app(name, lock=lock)
    if not can_use_app(user, app):
        raise NotFound(f"app {name!r} not found")
    if owner_only and not (user.is_admin or app.owner_id == user.id):
        raise Forbidden(f"only the owner of {name!r} or an administrator may do this")
    return app


def check_builder_secret() -> None:
    given = request.headers.get("X-Deis-Builder-Secret", "")
    if not hmac.compare_digest(given.encode(), settings().builder_secret.encode()):
        raise Unauthorized("invalid builder secret")

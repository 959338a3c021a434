"""Login rate limits: recent login attempts per account and per client address.

Attempts are rows in the database, so the controller's processes (gunicorn runs four) count together,
on SQLite and PostgreSQL alike. An attempt is recorded before its password is checked (so concurrent
guesses count too) and forgotten when it succeeds; what remains are failures, each counted for
DEIS_LOGIN_WINDOW seconds. Unknown usernames are counted like known ones, so the limit tells nothing
about which accounts exist.
"""
from __future__ import annotations

import math
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from controller.access import utc
from controller.db import lock_table
from controller.errors import TooManyRequests
from controller.models import LoginAttempt, now


def begin_attempt(db: Session, username: str | None, address: str, settings) -> LoginAttempt:
    """Record a login attempt, or refuse it (429 with Retry-After) if its account or address is at its limit.

    ``username`` is the lowercased name asked for (None if it cannot name an account).
    """
    lock_table(db, LoginAttempt.__tablename__)  # PostgreSQL: count and insert as one step (SQLite: serialized)
    current = now()
    window = timedelta(seconds=settings.login_window)
    db.execute(delete(LoginAttempt).where(LoginAttempt.created < current - window))
    limits = [(LoginAttempt.address, address, settings.login_failures_per_address, "from your address")]
    if username is not None:
        limits.insert(0, (LoginAttempt.username, username, settings.login_failures_per_user,
                          f"for the account {username!r}"))
    for column, value, limit, whose in limits:
        # the attempt whose expiry brings the count below the limit, if the limit is reached
        blocking = db.scalars(select(LoginAttempt.created)
                              .where(column == value, LoginAttempt.created >= current - window)
                              .order_by(LoginAttempt.created.desc()).offset(max(limit, 1) - 1).limit(1)).first()
        if blocking is not None:
            retry_after = max(1, math.ceil((utc(blocking) + window - current).total_seconds()))
            raise TooManyRequests(f"too many failed logins {whose}: try again in {retry_after} seconds",
                                  retry_after)
    attempt = LoginAttempt(username=username, address=address, created=current)
    db.add(attempt)
    db.flush()
    return attempt


def forget_attempt(db: Session, attempt: LoginAttempt) -> None:
    """The attempt succeeded: it does not count against the account or address."""
    db.execute(delete(LoginAttempt).where(LoginAttempt.id == attempt.id))

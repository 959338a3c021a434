"""Users, for administrators."""
from __future__ import annotations

from flask import Blueprint
from sqlalchemy import select

from controller.access import require_admin, session
from controller.models import User

bp = Blueprint("users", __name__)


@bp.get("/users")
def list_users():
    require_admin()
    users = session().scalars(select(User).order_by(User.username)).all()
    return {"count": len(users), "results": [u.to_dict() for u in users]}

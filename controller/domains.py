"""Custom domains, unique across the platform."""
from __future__ import annotations

from flask import Blueprint
from sqlalchemy import select

from controller.access import app_for_user, body, session, settings
from controller.db import unique_or_conflict
from controller.errors import BadRequest, Conflict, NotFound
from controller.models import Domain
from deiscore import validation

bp = Blueprint("domains", __name__)


@bp.get("/apps/<name>/domains")
def list_domains(name):
    app = app_for_user(name)
    rows = session().scalars(select(Domain).where(Domain.app_id == app.id).order_by(Domain.domain))
    results = [{"domain": d.domain, "app": app.name} for d in rows]
    return {"count": len(results), "results": results}


@bp.post("/apps/<name>/domains")
def add_domain(name):
    domain = validation.domain(body().get("domain"))
    platform = settings().domain
    if domain == platform or domain.endswith("." + platform):
        raise BadRequest(f"{domain} is inside the platform domain {platform}; apps get <app>.{platform} already")
    app = app_for_user(name, lock=True)
    db = session()
    if db.scalar(select(Domain).where(Domain.domain == domain)) is not None:
        raise Conflict(f"domain {domain} is already in use")
    with unique_or_conflict(db, f"domain {domain} is already in use"):
        db.add(Domain(app_id=app.id, domain=domain))
    return {"domain": domain, "app": app.name}, 201


@bp.delete("/apps/<name>/domains/<domain>")
def remove_domain(name, domain):
    app = app_for_user(name, lock=True)
    db = session()
    row = db.scalar(select(Domain).where(Domain.app_id == app.id, Domain.domain == domain))
    if row is None:
        raise NotFound(f"domain {domain} is not attached to {app.name}")
    db.delete(row)
    db.commit()
    return "", 204

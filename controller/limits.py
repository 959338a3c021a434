"""Resource limits per process type (memory, cpu cores). A change makes a new release."""
from __future__ import annotations

from flask import Blueprint

from controller import config as config_module
from controller import deploys, releases, validation
from controller.access import app_for_user, body, current_user, session
from controller.errors import BadRequest

bp = Blueprint("limits", __name__)
PARSERS = {"memory": validation.memory, "cpu": validation.cpu}


def apply_limits(current: dict, changes, parse) -> dict:
    if not isinstance(changes, dict):
        raise BadRequest("limits must be an object of process type: value (null unsets)")
    merged = dict(current)
    for ptype, value in changes.items():
        validation.process_type(ptype)
        if value is None:
            merged.pop(ptype, None)
        else:
            merged[ptype] = parse(value)
    return merged


@bp.get("/apps/<name>/limits")
def show(name):
    app = app_for_user(name)
    config = releases.latest(session(), app).config
    return {"memory": config.memory, "cpu": config.cpu}


@bp.post("/apps/<name>/limits")
def change(name):
    user = current_user()
    data = body()
    kinds = [k for k in PARSERS if k in data]
    if not kinds or set(data) - set(PARSERS):
        raise BadRequest("give 'memory' and/or 'cpu', each an object of process type: value")
    app = app_for_user(name, lock=True)
    db = session()
    current = releases.latest(db, app)
    updated = {kind: apply_limits(getattr(current.config, kind), data[kind], PARSERS[kind]) for kind in kinds}
    summary = "; ".join(filter(None, (releases.limits_summary(kind, getattr(current.config, kind), updated[kind])
                                      for kind in kinds)))
    if not summary:
        raise BadRequest("nothing changed: the limits already have these values")
    config = config_module.new_config(current.config, user, **updated)
    deploys.check_fits(app, current.build, config)
    db.add(config)
    release = releases.create(db, app, user, build=current.build, config=config, summary=summary)
    db.commit()
    return {"memory": config.memory, "cpu": config.cpu, "release": release.version,
            "deploy": deploys.deploy(app, release)}, 201

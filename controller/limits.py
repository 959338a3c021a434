"""Resource limits per process type (memory, cpu cores). A change makes a new release."""
from __future__ import annotations

from flask import Blueprint

from controller import releases
from controller.access import app_for_user, body, current_user, session
from controller.errors import BadRequest
from deiscore import validation

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
            merged[ptype] = parse(value, ptype)
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

    def change_limits(draft):
        changed = draft.change(**{kind: apply_limits(getattr(draft, kind), data[kind], PARSERS[kind])
                                  for kind in kinds})
        if draft.build is not None:  # before the first build, any type may be given limits ahead of it
            known = set(draft.build.procfile) | validation.RESERVED_PROCESS_TYPES  # deis run takes limits too
            unknown = sorted({ptype for kind in kinds for ptype, value in data[kind].items() if value is not None}
                             - known)
            if unknown:
                raise BadRequest(f"unknown process type {unknown[0]!r} (this build has: "
                                 f"{', '.join(sorted(draft.build.procfile)) or 'none'}, and run for deis run)")
        return changed

    app = app_for_user(name, lock=True)
    release = releases.make_release(session(), app, user, change_limits)
    return {"memory": release.config.memory, "cpu": release.config.cpu, "release": release.version,
            "deploy": release.deploy}, 201

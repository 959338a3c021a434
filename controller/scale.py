"""Scale: desired container counts per process type of the current build."""
from __future__ import annotations

from flask import Blueprint

from controller import deploys, releases
from controller.access import app_for_user, body, session
from controller.errors import BadRequest, Conflict
from controller.scheduling import spec_for
from deiscore import validation

bp = Blueprint("scale", __name__)
def parse_counts(data, procfile: dict) -> dict[str, int]:
    if not isinstance(data, dict) or not data:
        raise BadRequest("give counts per process type, e.g. {\"web\": 3}")
    counts = {}
    for ptype, count in data.items():
        if ptype not in procfile:
            known = ", ".join(sorted(procfile)) or "none"
            raise BadRequest(f"unknown process type {ptype!r} (this build has: {known})")
        counts[ptype] = validation.scale_count(ptype, count)
    return counts


@bp.post("/apps/<name>/scale")
def scale(name):
    data = body()
    app = app_for_user(name, lock=True)
    db = session()
    release = releases.serving(db, app)
    if release is None or release.build is None:
        raise Conflict(f"{app.name} has no build yet: push code or pull an image before scaling")
    counts = parse_counts(data, release.build.procfile)
    structure = {**(app.structure or {}), **counts}
    deployer = deploys.deployer()
    if deployer is not None:
        deployer.check_fits(spec_for(db, app, release.version, release.build, release.config, structure))
    app.structure = structure
    db.commit()
    return {"structure": app.structure, "deploy": deploys.submit(app, "scale")}

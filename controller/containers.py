"""Running processes: ``deis ps``, ``ps:restart`` and ``logs`` (``deis run``: :mod:`controller.runs`)."""
from __future__ import annotations

import threading
from dataclasses import asdict

from flask import Blueprint, Response, current_app, request

from controller import deploys, releases
from controller.access import app_for_user, optional_body, session
from controller.errors import BadRequest, Conflict

bp = Blueprint("containers", __name__)
MAX_LOG_LINES = 10_000


def _deployer():
    deployer = current_app.extensions.get("deis_deployer")
    if deployer is None:
        raise Conflict("this controller runs without a scheduler (DEIS_SCHEDULER=off)")
    return deployer


@bp.get("/apps/<name>/containers")
def list_containers(name):
    app = app_for_user(name)
    processes = [asdict(p) for p in _deployer().scheduler.status(app.name)]
    return {"count": len(processes), "results": processes}


@bp.post("/apps/<name>/containers/restart")
def restart(name):
    target = optional_body().get("target")
    if target is not None and not isinstance(target, str):
        raise BadRequest("target must be a process type or type.num, e.g. web or web.2")
    app = app_for_user(name)
    _deployer()
    release = releases.serving(session(), app)
    if release is None or release.build is None:
        raise Conflict(f"{app.name} has no build yet: nothing to restart")
    ptype, dot, num = (target or "").partition(".")
    if target is not None and ptype not in release.build.procfile:
        known = ", ".join(sorted(release.build.procfile))
        raise BadRequest(f"no process type {ptype!r} to restart (v{release.version} has: {known})")
    running = (app.structure or {}).get(ptype, 0)
    if dot and not (num.isascii() and num.isdigit() and 1 <= int(num) <= running):
        raise BadRequest(f"no process {target!r} to restart ({ptype} is scaled to {running})")
    return {"deploy": deploys.submit(app, "restart", target=target)}


@bp.get("/apps/<name>/logs")
def logs(name):
    """Container output and platform events, merged in time order; ``follow=1`` streams."""
    app = app_for_user(name)
    raw = request.args.get("lines", "100")
    if not (raw.isascii() and raw.isdigit()) or not 0 <= int(raw) <= MAX_LOG_LINES:
        raise BadRequest(f"lines must be a whole number between 0 and {MAX_LOG_LINES}")
    lines, follow = int(raw), request.args.get("follow") in ("1", "true")
    deployer = _deployer()
    merged = sorted(deployer.events.tail(app.name, lines) + deployer.scheduler.events(app.name, lines)
                    + list(deployer.scheduler.logs(app.name, lines)))
    backlog = merged[-lines:] if lines else []
    if not follow:
        return Response("".join(f"{line}\n" for line in backlog), mimetype="text/plain")

    stop = threading.Event()

    def stream():
        yield "".join(f"{line}\n" for line in backlog)
        try:
            for line in deployer.scheduler.logs(app.name, 0, follow=True, stop=stop):
                yield f"{line}\n"
        finally:
            stop.set()

    return Response(stream(), mimetype="text/plain")


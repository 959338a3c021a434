"""The controller's Flask app factory: one blueprint per resource, one error handler."""
from __future__ import annotations

import logging

from flask import Flask, g, jsonify, request
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from controller import access, db
from controller.errors import APIError
from deiscore import settings as platform_settings

log = logging.getLogger(__name__)


def create_app(settings: platform_settings.Settings | None = None) -> Flask:
    settings = settings or platform_settings.load()
    settings.home.mkdir(parents=True, exist_ok=True)
    app = Flask(__name__)
    app.config["DEIS"] = settings
    # Bodies are read through a stream that stops here; one byte over the limit tells a streamed (chunked)
    # body that exceeds it from one that just fits.
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes + 1
    app.json.sort_keys = False
    engine = db.make_engine(settings.database_url)
    db.check_schema(engine)  # workers never migrate: `deisctl migrate` (and `deisctl up`) does, once
    app.extensions["deis_sessions"] = db.make_sessionmaker(engine)
    app.extensions["deis_engine"] = engine

    if settings.scheduler != "off":
        app.extensions["deis_deployer"] = make_deployer(settings)

    from controller import (apps, auth, builds, config, containers, domains, hooks, hosts, keys, limits, perms,
                            releases, scale, tags, users)
    for module in (auth, keys, apps, config, builds, releases, scale, containers, domains, limits, tags, perms,
                   users, hooks, hosts):
        app.register_blueprint(module.bp, url_prefix="/v1")

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    @app.before_request
    def refuse_large_bodies():
        # Whatever the route, before authentication: an announced length is checked before a byte is read;
        # a chunked body is read up to the limit (and one byte) and kept for the handler.
        length = request.content_length
        if length is None:
            length = len(request.get_data(cache=True))
        if length > settings.max_request_bytes:
            raise RequestEntityTooLarge()

    @app.teardown_appcontext
    def close_session(exc):
        session = g.pop("db", None)
        if session is not None:
            if exc is not None:
                session.rollback()
            session.close()
        access.record_token_use()

    @app.errorhandler(APIError)
    def api_error(exc: APIError):
        if g.get("db") is not None:
            g.db.rollback()
        return jsonify(detail=exc.detail), exc.status, exc.headers

    @app.errorhandler(IntegrityError)
    def integrity_error(exc: IntegrityError):
        # a concurrent request took a unique name first, or deleted a row this one refers to
        if g.get("db") is not None:
            g.db.rollback()
        log.info("integrity error, answered 409: %s", exc.orig)
        return jsonify(detail="conflict with a concurrent change: try again"), 409

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code == 413:
            detail = f"request body too large: at most {settings.max_request_bytes} bytes (DEIS_MAX_REQUEST_BYTES)"
        else:
            detail = exc.description if exc.code == 400 else exc.name.lower()
        return jsonify(detail=detail), exc.code

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unhandled error")
        return jsonify(detail="internal server error"), 500

    return app


def make_deployer(settings):
    import docker

    from controller.events import EventLog
    from controller.scheduling import Deployer
    from scheduler.scheduler import Scheduler

    events = EventLog(settings.home / "events")
    if settings.scheduler == "swarm":
        from scheduler.swarm import SwarmScheduler

        manager = settings.swarm_host or settings.docker_host
        client = docker.DockerClient(base_url=manager) if manager else docker.from_env()
        return Deployer(SwarmScheduler.from_settings(settings, client), events)
    from controller.desired import host_records

    client = docker.DockerClient(base_url=settings.docker_host) if settings.docker_host else docker.from_env()
    return Deployer(Scheduler.from_settings(settings, client, host_records=host_records), events)

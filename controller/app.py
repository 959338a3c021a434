"""The controller's Flask app factory: one blueprint per resource, one error handler."""
from __future__ import annotations

import logging

import docker.errors
import paramiko
import redis.exceptions
import requests
from flask import Flask, g, jsonify, request
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from controller import access, db
from controller.errors import APIError
from deiscore import settings as platform_settings
from deiscore.errors import InvalidInput
from router.errors import ConfigRejected, HostnameConflict, InvalidRoute, RouterError
from scheduler.errors import DeployError, HostError, InvalidSpec, SchedulerError, Superseded, Unschedulable

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
        from redis import Redis

        from controller.deploys import Deploys

        app.extensions["deis_deployer"] = make_deployer(settings)
        app.extensions["deis_deploys"] = Deploys(Redis.from_url(settings.redis_url))

    from controller import (apps, auth, builds, config, containers, cron, deploys, domains, hooks, hosts, keys,
                            limits, perms, releases, runs, scale, tags, users)
    for module in (auth, keys, apps, config, builds, releases, deploys, scale, containers, runs, cron, domains,
                   limits, tags, perms, users, hooks, hosts):
        app.register_blueprint(module.bp, url_prefix="/v1")
    # deis run's WebSockets (flask-sock: under gunicorn's gthread worker a session holds one thread)
    app.config["SOCK_SERVER_OPTIONS"] = {"max_message_size": runs.MAX_MESSAGE}
    runs.sock.init_app(app)

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

    @app.errorhandler(InvalidInput)
    def invalid_input(exc: InvalidInput):
        # a value breaking one of the platform's rules (deiscore.validation), wherever it was checked
        if g.get("db") is not None:
            g.db.rollback()
        return jsonify(detail=exc.detail), 400

    @app.errorhandler(IntegrityError)
    def integrity_error(exc: IntegrityError):
        # a concurrent request took a unique name first, or deleted a row this one refers to
        if g.get("db") is not None:
            g.db.rollback()
        log.info("integrity error, answered 409: %s", exc.orig)
        return jsonify(detail="conflict with a concurrent change: try again"), 409

    def component_error(exc: Exception):
        # Errors of the scheduler, router and the services behind them, mapped here once (see error_status).
        if g.get("db") is not None:
            g.db.rollback()
        status, detail = error_status(exc)
        log.warning("answered %d: %s: %s", status, type(exc).__name__, exc)
        return jsonify(detail=detail), status

    for error in COMPONENT_ERRORS:
        app.register_error_handler(error, component_error)

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


# Errors of the scheduler, the router and the clients of the services behind them, mapped to HTTP once.
COMPONENT_ERRORS = (SchedulerError, RouterError, docker.errors.DockerException, requests.RequestException,
                    paramiko.SSHException, redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
                    ConnectionError, TimeoutError)
SERVICES = {"docker": "the container engine", "paramiko": "a host over SSH", "redis": "Redis"}


def error_status(exc: Exception) -> tuple[int, str]:
    """HTTP status and detail of a COMPONENT_ERRORS error: the request was refused (4xx, nothing was
    changed), or a service the platform needs did not answer (503)."""
    if isinstance(exc, (InvalidSpec, InvalidRoute)) and not isinstance(exc, HostnameConflict):
        return 400, str(exc)
    if isinstance(exc, Unschedulable):
        return 409, f"refused: {exc}; nothing was changed"
    if isinstance(exc, (DeployError, Superseded, HostnameConflict)):
        return 409, str(exc)
    if isinstance(exc, ConfigRejected):
        return 400, f"the router refused the change: {exc}"
    if isinstance(exc, HostError):
        return 503, f"a container engine is unavailable: {exc}; try again"
    if isinstance(exc, SchedulerError):
        return 503, f"the scheduler is unavailable: {exc}; try again"
    if isinstance(exc, RouterError):
        return 503, f"the router is unavailable: {exc}; try again"
    service = SERVICES.get(type(exc).__module__.split(".")[0], "a platform service")
    return 503, f"{service} did not answer: {exc}; try again"


def make_deployer(settings, background_drain: bool = False):
    """The deployer of this platform's scheduler; ``background_drain`` for the deploy workers (see
    :class:`scheduler.scheduler.Scheduler`), whose deploys end at the switch."""
    import docker

    from controller.events import EventLog
    from controller.scheduling import Deployer
    from scheduler.scheduler import Scheduler

    events = EventLog(settings.home / "events")
    if settings.scheduler == "swarm":
        from scheduler.swarm import SwarmScheduler

        manager = settings.swarm_host or settings.docker_host
        client = docker.DockerClient(base_url=manager) if manager else docker.from_env()
        return Deployer(SwarmScheduler.from_settings(settings, client), events, settings)
    from controller.desired import host_records

    client = docker.DockerClient(base_url=settings.docker_host) if settings.docker_host else docker.from_env()
    return Deployer(Scheduler.from_settings(settings, client, host_records=host_records,
                                            background_drain=background_drain), events, settings)

"""The controller's side of running releases: desired state from the database, as scheduler specs.

``Deployer`` is what a deploy job (:mod:`controller.deploys`) calls: it turns the app's rows into a
:class:`scheduler.spec.ReleaseSpec`, asks the scheduler to converge, streams its steps to
``progress`` and says how it ended.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.errors import BadRequest, Conflict
from controller.events import EventLog
from controller.models import App, Domain, Release
from router.errors import InvalidRoute
from router.routes import make_settings
from scheduler.errors import InvalidSpec, SchedulerError, Superseded, Unschedulable
from scheduler.interface import OnLive, Progress, SchedulerBackend
from scheduler.spec import HealthCheck, ReleaseSpec

log = logging.getLogger(__name__)

# Deis v1 configured health checks through config; these keys map to the scheduler's HealthCheck.
HEALTHCHECK_KEYS = {"HEALTHCHECK_URL": ("path", str), "HEALTHCHECK_STATUS": ("status", int),
                    "HEALTHCHECK_TIMEOUT": ("timeout", float), "HEALTHCHECK_INTERVAL": ("interval", float),
                    "HEALTHCHECK_INITIAL_DELAY": ("initial_delay", float)}
# Per-app router settings, also through config.
ROUTER_KEYS = {"ROUTER_MAX_BODY_SIZE": "max_body_size", "ROUTER_CONNECT_TIMEOUT": "connect_timeout",
               "ROUTER_READ_TIMEOUT": "read_timeout", "ROUTER_SEND_TIMEOUT": "send_timeout"}


def healthcheck(values: dict) -> dict | None:
    """The HTTP check configured by HEALTHCHECK_* config keys (None: the port check only)."""
    if "HEALTHCHECK_URL" not in values:
        return None
    check = {}
    for key, (name, parse) in HEALTHCHECK_KEYS.items():
        if key in values:
            try:
                check[name] = parse(values[key])
            except ValueError:
                raise BadRequest(f"{key} must be a number, got {values[key]!r}") from None
    return check


def app_checks(build) -> dict:
    """app.json's health checks of ``build`` by process type (normalized by :mod:`deiscore.appjson`); the
    web type's startup/readiness checks replace the HEALTHCHECK_* one at the cutover."""
    return dict((build.app_json or {}).get("healthchecks") or {})


def routing(values: dict) -> dict:
    """The app's router settings (body size, timeouts) from ROUTER_* config keys."""
    return {name: values[key] for key, name in ROUTER_KEYS.items() if key in values}


def check_healthcheck(values: dict) -> None:
    """Refuse HEALTHCHECK_* and ROUTER_* config the platform could not use, before it is committed."""
    check = healthcheck(values)
    if check is not None:
        try:
            HealthCheck(**check)
        except InvalidSpec as exc:
            raise BadRequest(str(exc)) from None
    try:
        make_settings("app", routing(values))
    except InvalidRoute as exc:
        key = next(key for key, name in ROUTER_KEYS.items() if name == exc.field)
        raise BadRequest(f"invalid {key} {exc.value!r}: {exc.reason}") from None


def limits(memory: dict, cpu: dict) -> dict:
    return {ptype: {k: v for k, v in (("memory", memory.get(ptype)), ("cpu", cpu.get(ptype))) if v is not None}
            for ptype in set(memory) | set(cpu)}


def release_spec(db: Session, app: App, release: Release) -> ReleaseSpec | None:
    """What should run for ``app`` at ``release``; None while the app has no build."""
    return spec_for(db, app, release.version, release.build, release.config, image=release.image)


def spec_for(db: Session, app: App, version: int, build, config, structure: dict | None = None,
             image: str | None = None) -> ReleaseSpec | None:
    """The spec of ``build`` + ``config`` at ``version`` (``structure``: scale other than the app's;
    ``image``: the one a predeploy script made of the build's)."""
    if build is None:
        return None
    domains = tuple(db.scalars(select(Domain.domain).where(Domain.app_id == app.id).order_by(Domain.domain)))
    scale = dict(app.structure or {}) if structure is None else dict(structure)
    fields = {**build.spec_fields(), **({"image": image} if image else {})}
    return ReleaseSpec(app=app.name, version=version, **fields, config=config.values, scale=scale,
                       limits=limits(config.memory, config.cpu), healthcheck=healthcheck(config.values),
                       checks=app_checks(build),
                       domains=domains, routing=routing(config.values), tags=dict(config.tags or {}))


@dataclass(frozen=True)
class Outcome:
    """How a deploy, scale or restart ended: succeeded, failed or superseded, and why."""

    status: str
    detail: str


class Deployer:
    """The controller's hands on the scheduler: specs from rows in, outcomes and events out."""

    def __init__(self, scheduler: SchedulerBackend, events: EventLog, settings=None):
        self.scheduler = scheduler
        self.events = events
        self.settings = settings  # the release phase's: its timeout, the registry a predeploy pushes to

    def check_fits(self, spec: ReleaseSpec | None) -> None:
        """Refuse (409, nothing written yet) a change whose processes cannot be placed on the hosts."""
        if spec is None:
            return
        try:
            self.scheduler.slots_for(spec, [])
        except Unschedulable as exc:
            raise Conflict(f"refused: {exc}; nothing was changed") from None

    def deployed_version(self, app_name: str) -> int | None:
        """The release the scheduler last switched the app's traffic to."""
        return self.scheduler.deployed_version(app_name)

    def deploy(self, db: Session, app: App, release: Release, progress: Progress, on_live: OnLive) -> Outcome:
        return self._converge(app.name, f"deploy of v{release.version}", progress, lambda p: self.scheduler.deploy(
            release_spec(db, app, release), p, on_live=on_live))

    def scale(self, db: Session, app: App, release: Release, progress: Progress, on_live: OnLive) -> Outcome:
        scale = " ".join(f"{t}={n}" for t, n in sorted((app.structure or {}).items()))
        self.events.record(app.name, f"scaled {scale}")
        return self._converge(app.name, f"scale to {scale}", progress, lambda p: self.scheduler.scale(
            release_spec(db, app, release), p, on_live=on_live))

    def restart(self, db: Session, app: App, release: Release, target: str | None, progress: Progress,
                on_live: OnLive) -> Outcome:
        return self._converge(app.name, f"restart of {target or 'all processes'}", progress,
                              lambda p: self.scheduler.restart(release_spec(db, app, release), target, p,
                                                               on_live=on_live))

    def destroy(self, app_name: str) -> None:
        self.scheduler.destroy(app_name)
        self.events.forget(app_name)

    def _converge(self, app_name: str, what: str, progress: Progress, action) -> Outcome:
        self.events.record(app_name, f"{what} started")
        try:
            action(progress)
        except Superseded as exc:
            self.events.record(app_name, f"{what} skipped: {exc}")
            return Outcome("superseded", str(exc))
        except SchedulerError as exc:
            self.events.record(app_name, f"{what} failed: {exc}")
            return Outcome("failed", str(exc))  # the command that made the change prints why
        self.events.record(app_name, f"{what} finished")
        return Outcome("succeeded", f"{what} finished")

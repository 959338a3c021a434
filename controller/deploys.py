"""Where a committed release or scale change meets the scheduler.

The controller records desired state first and then asks the configured deployer to converge;
without one (a controller started with ``DEIS_SCHEDULER=off``) releases are records only.
Each call returns what the scheduler said ({"ok", "detail", "log"}) for the CLI to show, or None.
"""
from __future__ import annotations

from flask import current_app

from controller import releases
from controller.access import session
from controller.models import App, Release


def _deployer():
    return current_app.extensions.get("deis_deployer")


def check_fits(app: App, build, config, structure: dict | None = None) -> None:
    """Before committing a change: refuse it if the resulting processes cannot be placed."""
    deployer = _deployer()
    if deployer is not None:
        from controller.scheduling import spec_for

        deployer.check_fits(spec_for(session(), app, releases.latest(session(), app).version + 1, build, config,
                                     structure))


def deploy(app: App, release: Release) -> dict | None:
    deployer = _deployer()
    return deployer.deploy(session(), app, release) if deployer else None


def scale(app: App) -> dict | None:
    deployer = _deployer()
    return deployer.scale(session(), app, releases.latest(session(), app)) if deployer else None


def restart(app: App, target: str | None) -> dict | None:
    deployer = _deployer()
    return deployer.restart(session(), app, releases.latest(session(), app), target) if deployer else None


def destroy(app_name: str) -> None:
    deployer = _deployer()
    if deployer is not None:
        deployer.destroy(app_name)

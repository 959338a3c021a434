"""Where a committed release or scale change meets the scheduler.

The controller records desired state first and then asks the configured deployer to
converge; without one (a controller running alone) releases are records only.
"""
from __future__ import annotations

from flask import current_app

from controller.models import App, Release


def deploy(app: App, release: Release) -> dict | None:
    deployer = current_app.extensions.get("deis_deployer")
    if deployer is None:
        return None
    return deployer.deploy(app, release)


def scale(app: App) -> dict | None:
    deployer = current_app.extensions.get("deis_deployer")
    if deployer is None:
        return None
    return deployer.scale(app)


def destroy(app_name: str) -> None:
    deployer = current_app.extensions.get("deis_deployer")
    if deployer is not None:
        deployer.destroy(app_name)

"""Config: the app's environment. Each change is a new immutable Config row and a new release."""
from __future__ import annotations

from flask import Blueprint

from controller import deploys, releases, scheduling, validation
from controller.access import app_for_user, body, current_user, session
from controller.errors import BadRequest
from controller.models import Config
from deiscore import buildpack_url

bp = Blueprint("config", __name__)


def merge_values(current: dict, changes: dict) -> dict:
    """Apply ``{key: value}`` (set) and ``{key: None}`` (unset) to a copy of ``current``."""
    merged = dict(current)
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def validate_changes(values) -> dict:
    if not isinstance(values, dict) or not values:
        raise BadRequest("'values' must be a non-empty object of KEY: value (null unsets)")
    for key, value in values.items():
        validation.config_key(key)
        if value is not None:
            validation.config_value(key, value)
    if values.get("BUILDPACK_URL"):  # empty: the shipped buildpacks, as when unset
        try:
            buildpack_url.parse(values["BUILDPACK_URL"])
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
    return values


def new_config(old: Config, user, **fields) -> Config:
    """A copy of ``old`` with ``fields`` replaced (configs are never edited in place)."""
    base = {"values": old.values, "memory": old.memory, "cpu": old.cpu, "tags": old.tags}
    return Config(app_id=old.app_id, owner_id=user.id, **{**base, **fields})


@bp.get("/apps/<name>/config")
def show(name):
    app = app_for_user(name)
    return releases.latest(session(), app).config.to_dict()


@bp.post("/apps/<name>/config")
def change(name):
    user = current_user()
    changes = validate_changes(body().get("values"))
    app = app_for_user(name, lock=True)
    db = session()
    current = releases.latest(db, app)
    values = merge_values(current.config.values, changes)
    scheduling.check_healthcheck(values)
    summary = releases.config_summary(current.config.values, values)
    if not summary:
        raise BadRequest("nothing changed: the config already has these values")
    config = new_config(current.config, user, values=values)
    db.add(config)
    release = releases.create(db, app, user, build=current.build, config=config,
                              summary=summary)
    db.commit()
    return {**config.to_dict(), "release": release.version, "deploy": deploys.deploy(app, release)}, 201

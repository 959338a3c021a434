"""Config: the app's environment. Each change is a new immutable Config row and a new release."""
from __future__ import annotations

from flask import Blueprint

from controller import releases
from controller.access import app_for_user, body, current_user, session
from controller.errors import BadRequest
from deiscore import buildpack_url, validation

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
            buildpack_url.resolve(values["BUILDPACK_URL"])
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
    return values


@bp.get("/apps/<name>/config")
def show(name):
    app = app_for_user(name)
    return releases.latest(session(), app).config.to_dict()


@bp.post("/apps/<name>/config")
def change(name):
    user = current_user()
    changes = validate_changes(body().get("values"))
    app = app_for_user(name, lock=True)
    release = releases.make_release(session(), app, user,
                                    lambda draft: draft.change(values=merge_values(draft.values, changes)))
    return {**release.config.to_dict(), "release": release.version, "deploy": release.deploy}, 201

"""Tags (Deis v1 ``tags:set``): the app's processes run only on hosts carrying every tag. A change makes
a new release, refused before anything is written when no host set can take the processes."""
from __future__ import annotations

from flask import Blueprint

from controller import releases
from controller.access import app_for_user, body, current_user, session
from controller.errors import BadRequest
from deiscore import validation

bp = Blueprint("tags", __name__)


def merge_tags(current: dict, changes) -> dict:
    if not isinstance(changes, dict) or not changes:
        raise BadRequest("give 'values': an object of tag: value (null unsets)")
    merged = dict(current)
    for name, value in changes.items():
        validation.tag_name(name)
        if value is None:
            if name not in merged:
                raise BadRequest(f"tag {name} is not set")
            merged.pop(name)
        else:
            merged[name] = validation.tag_value(name, value)
    return merged


@bp.get("/apps/<name>/tags")
def show(name):
    app = app_for_user(name)
    return {"tags": releases.latest(session(), app).config.tags or {}}


@bp.post("/apps/<name>/tags")
def change(name):
    user = current_user()
    changes = body().get("values")
    app = app_for_user(name, lock=True)
    release = releases.make_release(session(), app, user, lambda draft: draft.change(tags=merge_tags(draft.tags, changes)))
    return {"tags": release.config.tags, "release": release.version, "deploy": release.deploy}, 201

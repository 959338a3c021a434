"""Scale through the live API: desired counts per process type of the current build."""
from __future__ import annotations

from tests.controller.helpers import assert_error, new_app, new_user, pull, versions


def structure(ctl, api, app):
    return api.get(f"{ctl.url}/v1/apps/{app}").json()["structure"]


def test_scale_needs_a_build(shared_controller):
    ctl = shared_controller
    _, api = new_user(ctl, "scale0")
    app = new_app(ctl, api)
    assert_error(api.post(f"{ctl.url}/v1/apps/{app}/scale", json={"web": 1}), 409, "no build")
    assert structure(ctl, api, app) == {}


def test_scale_validates_and_stores(shared_controller):
    ctl = shared_controller
    _, api = new_user(ctl, "scale")
    _, stranger = new_user(ctl, "scalestr")
    app = new_app(ctl, api)
    pull(ctl, api, app, "registry.example.com/web:1", procfile={"web": "serve", "worker": "work"})
    url = f"{ctl.url}/v1/apps/{app}/scale"
    assert structure(ctl, api, app) == {"web": 1}
    for body, fragment in [
        ({"db": 1}, "unknown process type 'db'"),
        ({"web": -1}, "invalid count"),
        ({"web": 1.5}, "invalid count"),
        ({"web": "two"}, "invalid count"),
        ({"web": True}, "invalid count"),
        ({"web": None}, "invalid count"),
        ({"web": "\u00b2"}, "invalid count"),
        ({"web": 101}, "between 0 and 100"),
        ({"web": 2, "db": 1}, "unknown process type"),  # nothing half-applied
        ({}, "give counts"),
        ([1], "JSON object"),
    ]:
        assert_error(api.post(url, json=body), 400, fragment)
    assert structure(ctl, api, app) == {"web": 1}
    assert_error(stranger.post(url, json={"web": 2}), 404)

    r = api.post(url, json={"web": 3, "worker": "2"})
    assert r.status_code == 200, r.text
    assert r.json()["structure"] == {"web": 3, "worker": 2}
    r = api.post(url, json={"worker": 0})
    assert r.json()["structure"] == {"web": 3, "worker": 0}
    assert structure(ctl, api, app) == {"web": 3, "worker": 0}
    assert versions(ctl, api, app) == [1, 2]  # scaling is not a release

    # a new build keeps the counts of the types it still has
    pull(ctl, api, app, "registry.example.com/web:2", procfile={"web": "serve2"})
    assert structure(ctl, api, app) == {"web": 3}
    assert_error(api.post(url, json={"worker": 1}), 400, "this build has: web")

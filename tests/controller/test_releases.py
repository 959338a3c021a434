"""Builds, releases and rollback through the live API: one new release per change, never a gap."""
from __future__ import annotations

from tests.controller.helpers import assert_error, new_app, new_user, pull, releases, set_config, versions


def test_pull_image_creates_build_and_release(shared_controller):
    ctl = shared_controller
    owner, api = new_user(ctl, "builder")
    app = new_app(ctl, api)
    result = pull(ctl, api, app, "registry.example.com:5000/team/web:1.0")
    assert result["release"] == 2 and result["kind"] == "image"
    assert result["image"] == "registry.example.com:5000/team/web:1.0"
    assert result["procfile"] == {"web": ""}  # an image without a Procfile runs its own command as web
    rel = releases(ctl, api, app)[-1]
    assert rel["summary"] == "deployed registry.example.com:5000/team/web:1.0"
    assert rel["image"] == "registry.example.com:5000/team/web:1.0" and rel["owner"] == owner
    assert api.get(f"{ctl.url}/v1/apps/{app}").json()["structure"] == {"web": 1}

    result = pull(ctl, api, app, "registry.example.com/web:2", procfile={"web": "gunicorn app", "worker": "rq worker"})
    assert result["release"] == 3 and result["procfile"] == {"web": "gunicorn app", "worker": "rq worker"}
    assert api.get(f"{ctl.url}/v1/apps/{app}").json()["structure"] == {"web": 1}
    builds = api.get(f"{ctl.url}/v1/apps/{app}/builds").json()
    assert builds["count"] == 2
    assert [b["image"] for b in builds["results"]] == ["registry.example.com/web:2", "registry.example.com:5000/team/web:1.0"]


def test_bad_builds_refused(shared_controller):
    ctl = shared_controller
    _, api = new_user(ctl, "badbuild")
    app = new_app(ctl, api)
    for body, fragment in [
        ({"image": "Bad Image"}, "invalid image"),
        ({"image": ""}, "invalid image"),
        ({"image": "nginx:"}, "invalid image"),
        ({"image": "nginx;rm -rf /"}, "invalid image"),
        ({"image": None}, "invalid image"),
        ({}, "invalid image"),
        ({"image": "nginx", "procfile": {"Web": "x"}}, "invalid process type"),
        ({"image": "nginx", "procfile": {"web": ""}}, "non-empty"),
        ({"image": "nginx", "procfile": ["web"]}, "procfile"),
    ]:
        assert_error(api.post(f"{ctl.url}/v1/apps/{app}/builds", json=body), 400, fragment)
    assert api.get(f"{ctl.url}/v1/apps/{app}/builds").json()["count"] == 0
    assert versions(ctl, api, app) == [1]


def test_each_change_makes_exactly_one_release(shared_controller):
    ctl = shared_controller
    _, api = new_user(ctl, "onerel")
    app = new_app(ctl, api)
    assert versions(ctl, api, app) == [1]
    pull(ctl, api, app, "registry.example.com/a:1")
    assert versions(ctl, api, app) == [1, 2]
    set_config(ctl, api, app, {"A": "1"})
    assert versions(ctl, api, app) == [1, 2, 3]
    r = api.post(f"{ctl.url}/v1/apps/{app}/limits", json={"memory": {"web": "256M"}})
    assert r.status_code == 201 and r.json()["release"] == 4
    r = api.post(f"{ctl.url}/v1/apps/{app}/releases/rollback", json={"version": "v2"})
    assert r.status_code == 201 and r.json()["version"] == 5
    # scale and domains are not releases
    api.post(f"{ctl.url}/v1/apps/{app}/scale", json={"web": 2})
    api.post(f"{ctl.url}/v1/apps/{app}/domains", json={"domain": f"{app}.example.org"})
    assert versions(ctl, api, app) == [1, 2, 3, 4, 5]
    info = api.get(f"{ctl.url}/v1/apps/{app}/releases/v5").json()
    assert info["summary"] == "rolled back to v2" and info["config_values"] == {}


def test_rollback_default_and_specific(shared_controller):
    ctl = shared_controller
    _, api = new_user(ctl, "rollback")
    app = new_app(ctl, api)
    pull(ctl, api, app, "registry.example.com/web:1")            # v2
    set_config(ctl, api, app, {"COLOR": "red"})      # v3
    pull(ctl, api, app, "registry.example.com/web:2")             # v4
    set_config(ctl, api, app, {"COLOR": "blue"})     # v5

    r = api.post(f"{ctl.url}/v1/apps/{app}/releases/rollback")  # no body: the previous release (v4)
    assert r.status_code == 201, r.text
    assert r.json()["version"] == 6 and r.json()["summary"] == "rolled back to v4"
    v6 = api.get(f"{ctl.url}/v1/apps/{app}/releases/6").json()
    assert v6["image"] == "registry.example.com/web:2" and v6["config_values"] == {"COLOR": "red"}
    assert api.get(f"{ctl.url}/v1/apps/{app}/config").json()["values"] == {"COLOR": "red"}

    r = api.post(f"{ctl.url}/v1/apps/{app}/releases/rollback", json={"version": "v2"})
    assert r.status_code == 201, r.text
    v7 = api.get(f"{ctl.url}/v1/apps/{app}/releases/v7").json()
    assert v7["summary"] == "rolled back to v2"
    assert v7["image"] == "registry.example.com/web:1" and v7["config_values"] == {}
    assert v7["build"]["uuid"] == api.get(f"{ctl.url}/v1/apps/{app}/releases/v2").json()["build"]["uuid"]

    r = api.post(f"{ctl.url}/v1/apps/{app}/releases/rollback", json={"version": 3})
    assert r.status_code == 201 and r.json()["version"] == 8
    assert api.get(f"{ctl.url}/v1/apps/{app}/config").json()["values"] == {"COLOR": "red"}
    assert versions(ctl, api, app) == list(range(1, 9))


def test_rollback_refusals(shared_controller):
    ctl = shared_controller
    _, api = new_user(ctl, "rbbad")
    app = new_app(ctl, api)
    url = f"{ctl.url}/v1/apps/{app}/releases/rollback"
    assert_error(api.post(url), 409, "no earlier release")
    set_config(ctl, api, app, {"A": "1"})  # v2: still no build
    assert_error(api.post(url), 409, "cannot roll back to v1", "no build")
    assert_error(api.post(url, json={"version": "v2"}), 409, "cannot roll back to v2", "no build")
    pull(ctl, api, app, "registry.example.com/web:1")  # v3
    assert_error(api.post(url, json={"version": "v1"}), 409, "no build")
    for bad in ("v0", "0", "-1", "abc", "v1.5", "", True, [2]):
        assert_error(api.post(url, json={"version": bad}), 400, "invalid release version")
    assert_error(api.post(url, json={"version": "v99"}), 404, "v99")
    assert_error(api.post(url, data="{not json", headers={"Content-Type": "application/json"}), 400)
    assert_error(api.post(url, json=["v2"]), 400)
    assert versions(ctl, api, app) == [1, 2, 3]


def test_release_info_and_bad_versions(shared_controller):
    ctl = shared_controller
    _, api = new_user(ctl, "relinfo")
    app = new_app(ctl, api)
    v1 = api.get(f"{ctl.url}/v1/apps/{app}/releases/v1")
    assert v1.status_code == 200, v1.text
    assert v1.json()["version"] == 1 and v1.json()["build"] is None and v1.json()["config_values"] == {}
    assert api.get(f"{ctl.url}/v1/apps/{app}/releases/1").json()["version"] == 1
    for bad in ("v0", "x", "v1x", "V1", "-1"):
        assert_error(api.get(f"{ctl.url}/v1/apps/{app}/releases/{bad}"), 400, "invalid release version")
    assert_error(api.get(f"{ctl.url}/v1/apps/{app}/releases/v2"), 404, "v2")
    assert_error(api.get(f"{ctl.url}/v1/apps/{app}/releases", params={"limit": "lots"}), 400, "limit")

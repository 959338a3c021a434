"""Limits through the live API: memory/cpu per process type; a change is a release, bad input is not."""
from __future__ import annotations

from tests.controller.helpers import assert_error, new_app, new_user, releases


def limits(ctl, api, app):
    r = api.get(f"{ctl.url}/v1/apps/{app}/limits")
    assert r.status_code == 200, r.text
    return r.json()


def test_set_and_unset_create_releases(shared_controller):
    ctl = shared_controller
    _, api = new_user(ctl, "lim")
    app = new_app(ctl, api)
    url = f"{ctl.url}/v1/apps/{app}/limits"
    assert limits(ctl, api, app) == {"memory": {}, "cpu": {}}
    r = api.post(url, json={"memory": {"web": "512m", "worker": "1G"}})
    assert r.status_code == 201, r.text
    assert r.json()["memory"] == {"web": "512M", "worker": "1G"} and r.json()["release"] == 2
    r = api.post(url, json={"cpu": {"web": "0.5"}, "memory": {"web": "256M"}})
    assert r.status_code == 201 and r.json()["release"] == 3
    assert limits(ctl, api, app) == {"memory": {"web": "256M", "worker": "1G"}, "cpu": {"web": 0.5}}
    r = api.post(url, json={"memory": {"worker": None}, "cpu": {"web": None}})
    assert r.status_code == 201 and r.json()["release"] == 4
    assert limits(ctl, api, app) == {"memory": {"web": "256M"}, "cpu": {}}
    assert [rel["summary"] for rel in releases(ctl, api, app)][1:] == [
        "changed memory limits for web, worker",
        "changed memory limits for web; changed cpu limits for web",
        "changed memory limits for worker; changed cpu limits for web",
    ]
    # limits do not touch config values
    assert api.get(f"{ctl.url}/v1/apps/{app}/config").json()["values"] == {}


def test_bad_limits_refused_and_nothing_changes(shared_controller):
    ctl = shared_controller
    _, api = new_user(ctl, "limbad")
    app = new_app(ctl, api)
    url = f"{ctl.url}/v1/apps/{app}/limits"
    assert api.post(url, json={"memory": {"web": "1G"}}).status_code == 201
    before = limits(ctl, api, app), releases(ctl, api, app)
    for body, fragment in [
        ({"memory": {"web": "lots"}}, "invalid memory limit"),
        ({"memory": {"web": "0"}}, "invalid memory limit"),
        ({"memory": {"web": "-1G"}}, "invalid memory limit"),
        ({"memory": {"web": 512}}, "invalid memory limit"),
        ({"memory": {"web": "1G", "worker": "1.5G"}}, "invalid memory limit"),
        ({"cpu": {"web": "fast"}}, "invalid cpu limit"),
        ({"cpu": {"web": "0"}}, "invalid cpu limit"),
        ({"cpu": {"web": 100}}, "invalid cpu limit"),
        ({"cpu": {"web": True}}, "invalid cpu limit"),
        ({"cpu": {"web": "nan"}}, "invalid cpu limit"),
        ({"memory": {"Web": "1G"}}, "invalid process type"),
        ({"memory": ["web=1G"]}, "limits must be an object"),
        ({"disk": {"web": "1G"}}, "give 'memory'"),
        ({"memory": {"web": "1G"}, "disk": {}}, "give 'memory'"),
        ({}, "give 'memory'"),
        ({"memory": {"web": "1g"}}, "nothing changed"),
        ({"cpu": {"web": None}}, "nothing changed"),
    ]:
        assert_error(api.post(url, json=body), 400, fragment)
    assert (limits(ctl, api, app), releases(ctl, api, app)) == before

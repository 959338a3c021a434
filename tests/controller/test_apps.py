"""Apps through the live API: create, list, info, destroy, transfer, and who may do what."""
from __future__ import annotations

import re

from tests.controller.helpers import assert_error, new_app, new_user, releases, unique


def test_create_named_and_random(shared_controller):
    ctl = shared_controller
    owner, api = new_user(ctl, "creator")
    name = unique("named")
    r = api.post(f"{ctl.url}/v1/apps", json={"id": name})
    assert r.status_code == 201, r.text
    app = r.json()
    assert app["id"] == name and app["owner"] == owner
    assert app["url"].startswith(f"http://{name}.")
    assert app["git_url"].endswith(f":2222/{name}.git") or app["git_url"].endswith(f"/{name}.git")
    assert app["git_url"].startswith("ssh://git@")

    for body in (None, {}):  # no body at all, and an empty object: a random, valid name
        r = api.post(f"{ctl.url}/v1/apps", json=body) if body is not None else api.post(f"{ctl.url}/v1/apps")
        assert r.status_code == 201, r.text
        assert re.fullmatch(r"[a-z]+-[a-z]+-[0-9]{4}", r.json()["id"]), r.json()["id"]

    # v1 exists, with no build and an empty config
    (v1,) = releases(ctl, api, name)
    assert v1["version"] == 1 and v1["build"] is None and v1["owner"] == owner
    assert v1["summary"]
    assert api.get(f"{ctl.url}/v1/apps/{name}/config").json()["values"] == {}


def test_create_refuses_bad_names(shared_controller):
    ctl = shared_controller
    _, api = new_user(ctl, "badnames")
    for name in ("My-App", "my_app", "-app", "app-", "a--b", "x" * 41, "", "caf\u00e9", 5, ["a"]):
        assert_error(api.post(f"{ctl.url}/v1/apps", json={"id": name}), 400, "invalid app name")
    for name in ("deis", "controller", "builder", "router", "registry"):
        assert_error(api.post(f"{ctl.url}/v1/apps", json={"id": name}), 400, "reserved")
    assert api.get(f"{ctl.url}/v1/apps").json()["count"] == 0


def test_create_refuses_duplicates_across_users(shared_controller):
    ctl = shared_controller
    _, api = new_user(ctl, "dupapp")
    _, other = new_user(ctl, "dupapp2")
    name = new_app(ctl, api)
    assert_error(api.post(f"{ctl.url}/v1/apps", json={"id": name}), 409, "already exists")
    assert_error(other.post(f"{ctl.url}/v1/apps", json={"id": name}), 409, "already exists")
    assert len(releases(ctl, api, name)) == 1


def test_list_shows_own_and_shared_and_admin_sees_all(controller):
    ctl = controller
    admin = ctl.api(ctl.register("admin"))
    alice = ctl.api(ctl.register("alice"))
    bob = ctl.api(ctl.register("bob"))
    a1, a2 = new_app(ctl, alice, "alice-one"), new_app(ctl, alice, "alice-two")
    b1 = new_app(ctl, bob, "bob-one")
    assert alice.post(f"{ctl.url}/v1/apps/{a2}/perms", json={"username": "bob"}).status_code == 201

    def listed(api):
        data = api.get(f"{ctl.url}/v1/apps").json()
        assert data["count"] == len(data["results"])
        return [a["id"] for a in data["results"]]

    assert listed(alice) == [a1, a2]
    assert listed(bob) == [a2, b1]
    assert listed(admin) == [a1, a2, b1]
    assert_error(ctl.api().get(f"{ctl.url}/v1/apps"), 401)


def test_info_unknown_and_forbidden(shared_controller):
    ctl = shared_controller
    owner, api = new_user(ctl, "info")
    _, stranger = new_user(ctl, "stranger")
    name = new_app(ctl, api)
    info = api.get(f"{ctl.url}/v1/apps/{name}")
    assert info.status_code == 200, info.text
    body = info.json()
    assert body["id"] == name and body["owner"] == owner and body["release"] == 1
    assert body["domains"] == [] and body["structure"] == {}
    assert_error(api.get(f"{ctl.url}/v1/apps/{unique('nope')}"), 404, "not found")
    assert_error(api.get(f"{ctl.url}/v1/apps/NOT_VALID"), 404)
    assert_error(stranger.get(f"{ctl.url}/v1/apps/{name}"), 404, name)
    for path in ("config", "releases", "builds", "domains", "limits", "perms"):
        assert_error(stranger.get(f"{ctl.url}/v1/apps/{name}/{path}"), 404)
        assert_error(api.get(f"{ctl.url}/v1/apps/{unique('nope')}/{path}"), 404)
    assert_error(ctl.api().get(f"{ctl.url}/v1/apps/{name}"), 401)


def test_destroy_is_owner_only(shared_controller):
    ctl = shared_controller
    _, api = new_user(ctl, "destroyer")
    collaborator, collab_api = new_user(ctl, "collab")
    _, stranger = new_user(ctl, "stranger")
    name = new_app(ctl, api)
    api.post(f"{ctl.url}/v1/apps/{name}/perms", json={"username": collaborator})
    api.post(f"{ctl.url}/v1/apps/{name}/config", json={"values": {"A": "1"}})
    api.post(f"{ctl.url}/v1/apps/{name}/domains", json={"domain": f"{name}.example.com"})
    assert_error(stranger.delete(f"{ctl.url}/v1/apps/{name}"), 404)
    assert_error(collab_api.delete(f"{ctl.url}/v1/apps/{name}"), 403, "owner")
    assert api.get(f"{ctl.url}/v1/apps/{name}").status_code == 200
    assert api.delete(f"{ctl.url}/v1/apps/{name}").status_code == 204
    assert_error(api.get(f"{ctl.url}/v1/apps/{name}"), 404)
    assert_error(api.delete(f"{ctl.url}/v1/apps/{name}"), 404)
    # its name and its domain are free again
    assert new_app(ctl, api, name) == name
    r = api.post(f"{ctl.url}/v1/apps/{name}/domains", json={"domain": f"{name}.example.com"})
    assert r.status_code == 201, r.text
    assert len(releases(ctl, api, name)) == 1


def test_transfer(shared_controller):
    ctl = shared_controller
    _, api = new_user(ctl, "giver")
    receiver, receiver_api = new_user(ctl, "receiver")
    _, stranger = new_user(ctl, "stranger")
    name = new_app(ctl, api)
    api.post(f"{ctl.url}/v1/apps/{name}/perms", json={"username": receiver})
    assert_error(stranger.post(f"{ctl.url}/v1/apps/{name}/transfer", json={"username": receiver}), 404)
    assert_error(receiver_api.post(f"{ctl.url}/v1/apps/{name}/transfer", json={"username": receiver}), 403)
    assert_error(api.post(f"{ctl.url}/v1/apps/{name}/transfer", json={"username": unique("ghost")}), 404)
    assert_error(api.post(f"{ctl.url}/v1/apps/{name}/transfer", json={}), 400, "invalid username")
    r = api.post(f"{ctl.url}/v1/apps/{name}/transfer", json={"username": receiver})
    assert r.status_code == 200, r.text
    assert r.json()["owner"] == receiver
    # the new owner is no longer listed as a collaborator, and the old owner lost access
    assert receiver_api.get(f"{ctl.url}/v1/apps/{name}/perms").json() == {"owner": receiver, "users": []}
    assert_error(api.get(f"{ctl.url}/v1/apps/{name}"), 404)
    assert [a["id"] for a in receiver_api.get(f"{ctl.url}/v1/apps").json()["results"]] == [name]
    assert receiver_api.delete(f"{ctl.url}/v1/apps/{name}").status_code == 204

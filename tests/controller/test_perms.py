"""Collaborators, administrator grants, and the admin-only users list, through the live API."""
from __future__ import annotations

from tests.controller.helpers import assert_error, new_app, set_config


def test_collaborators(controller):
    ctl = controller
    admin = ctl.api(ctl.register("admin"))
    owner = ctl.api(ctl.register("owner"))
    friend = ctl.api(ctl.register("friend"))
    third = ctl.api(ctl.register("third"))
    app = new_app(ctl, owner, "shared-app")
    url = f"{ctl.url}/v1/apps/{app}/perms"

    assert_error(friend.get(f"{ctl.url}/v1/apps/{app}"), 404)
    r = owner.post(url, json={"username": "friend"})
    assert r.status_code == 201, r.text
    assert r.json() == {"username": "friend", "app": app}
    # the collaborator gains access: info, config, releases, the list of apps
    assert friend.get(f"{ctl.url}/v1/apps/{app}").status_code == 200
    assert set_config(ctl, friend, app, {"FROM_FRIEND": "1"}).status_code == 201
    assert [a["id"] for a in friend.get(f"{ctl.url}/v1/apps").json()["results"]] == [app]
    assert friend.get(url).json() == {"owner": "owner", "users": ["friend"]}

    # but only the owner (or an admin) may grant, revoke, destroy or transfer
    assert_error(friend.post(url, json={"username": "third"}), 403, "owner")
    assert_error(third.post(url, json={"username": "third"}), 404)
    assert_error(friend.delete(f"{url}/friend"), 403)
    assert_error(friend.post(f"{ctl.url}/v1/apps/{app}/transfer", json={"username": "friend"}), 403)

    assert_error(owner.post(url, json={"username": "friend"}), 409, "already a collaborator")
    assert_error(owner.post(url, json={"username": "owner"}), 400, "owns")
    assert_error(owner.post(url, json={"username": "ghost"}), 404, "ghost")
    assert_error(owner.post(url, json={"username": "bad name"}), 400, "invalid username")
    assert_error(owner.post(url, json={}), 400)

    # an admin may grant and revoke on someone else's app
    assert admin.post(url, json={"username": "third"}).status_code == 201
    assert owner.get(url).json()["users"] == ["friend", "third"]
    assert admin.delete(f"{url}/third").status_code == 204
    assert owner.delete(f"{url}/friend").status_code == 204
    assert_error(owner.delete(f"{url}/friend"), 404, "not a collaborator")
    assert_error(friend.get(f"{ctl.url}/v1/apps/{app}"), 404)
    assert friend.get(f"{ctl.url}/v1/apps").json()["count"] == 0


def test_admin_grant_and_users_list(controller):
    ctl = controller
    admin = ctl.api(ctl.register("boss"))
    alice = ctl.api(ctl.register("alice"))
    ctl.register("bob")
    bob = ctl.api(ctl.tokens["bob"])

    for api in (alice, bob):
        assert_error(api.get(f"{ctl.url}/v1/users"), 403, "administrators")
        assert_error(api.get(f"{ctl.url}/v1/admin/perms"), 403)
    assert_error(alice.post(f"{ctl.url}/v1/admin/perms", json={"username": "alice"}), 403)
    assert_error(ctl.api().get(f"{ctl.url}/v1/users"), 401)

    users = admin.get(f"{ctl.url}/v1/users").json()
    assert users["count"] == 3
    assert [(u["username"], u["is_admin"]) for u in users["results"]] == [
        ("alice", False), ("bob", False), ("boss", True)]
    assert all("password" not in key for u in users["results"] for key in u)

    bob_app = new_app(ctl, bob, "bobs-app")
    assert_error(alice.get(f"{ctl.url}/v1/apps/{bob_app}"), 404)
    r = admin.post(f"{ctl.url}/v1/admin/perms", json={"username": "alice"})
    assert r.status_code == 201, r.text
    assert admin.get(f"{ctl.url}/v1/admin/perms").json() == {"users": ["alice", "boss"]}
    # an administrator sees and may change every app, and list users
    assert alice.get(f"{ctl.url}/v1/apps/{bob_app}").status_code == 200
    assert alice.get(f"{ctl.url}/v1/users").status_code == 200
    assert_error(admin.post(f"{ctl.url}/v1/admin/perms", json={"username": "ghost"}), 404)

    assert_error(admin.delete(f"{ctl.url}/v1/admin/perms/boss"), 400, "your own")
    assert admin.delete(f"{ctl.url}/v1/admin/perms/alice").status_code == 204
    assert_error(alice.get(f"{ctl.url}/v1/apps/{bob_app}"), 404)
    assert_error(alice.delete(f"{ctl.url}/v1/admin/perms/boss"), 403)
    assert admin.get(f"{ctl.url}/v1/admin/perms").json() == {"users": ["boss"]}

"""``deis pull``: which images a user may release (images belong to apps). The controller runs with
``DEIS_SCHEDULER=off`` here, so nothing is pulled; tests/e2e/test_image_isolation.py pulls for real."""
from __future__ import annotations

from tests.controller.helpers import assert_error, new_app, new_user, pull

REGISTRY = "127.0.0.1:5000"  # the test controller's platform registry (DEIS_REGISTRY_PORT's default)


def test_another_apps_image_in_the_platform_registry_is_not_found(shared_controller):
    ctl = shared_controller
    _, alice = new_user(ctl, "alice")
    bob_name, bob = new_user(ctl, "bob")
    alice_app, bob_app = new_app(ctl, alice), new_app(ctl, bob)
    for image in (f"{REGISTRY}/{alice_app}:abc", f"{REGISTRY}/{alice_app}@sha256:{'d' * 64}",
                  f"localhost:5000/{alice_app}:abc", f"{REGISTRY}/{alice_app}/x:1", f"{REGISTRY}/no-such-app:1"):
        r = bob.post(f"{ctl.url}/v1/apps/{bob_app}/builds", json={"image": image})
        assert_error(r, 404, "not found")
    for image in ("c1", "sha256:" + "e" * 64, "nginx"):
        assert_error(bob.post(f"{ctl.url}/v1/apps/{bob_app}/builds", json={"image": image}), 400)
    assert bob.get(f"{ctl.url}/v1/apps/{bob_app}/builds").json()["count"] == 0

    # alice's own repository, the stack image and other registries are fine
    assert pull(ctl, alice, alice_app, f"{REGISTRY}/{alice_app}:abc")["image"] == f"{REGISTRY}/{alice_app}:abc"
    assert pull(ctl, bob, bob_app, "deis/stack:bookworm")["image"] == "deis/stack:bookworm"
    assert pull(ctl, bob, bob_app, "registry.example.com/web:1")["release"] == 3

    # a collaborator may use the app's images
    r = alice.post(f"{ctl.url}/v1/apps/{alice_app}/perms", json={"username": bob_name})
    assert r.status_code in (200, 201), r.text
    assert pull(ctl, bob, bob_app, f"{REGISTRY}/{alice_app}:abc")["release"] == 4


def test_registry_credentials_of_an_app(shared_controller):
    ctl = shared_controller
    _, owner = new_user(ctl, "regowner")
    _, stranger = new_user(ctl, "regstranger")
    app = new_app(ctl, owner)
    url = f"{ctl.url}/v1/apps/{app}/registry"
    assert owner.get(url).json() == {}
    r = owner.post(url, json={"values": {"username": "acme", "password": "p4ss=word"}})
    assert r.status_code == 200 and r.json() == {"username": "acme", "password": "********"}, r.text
    assert owner.get(url).json() == {"username": "acme", "password": "********"}  # never shown again
    for values, fragment in (({"token": "x"}, "invalid registry setting"), ({"username": ""}, "invalid username"),
                             ({"password": "a\nb"}, "invalid password"), ({}, "non-empty")):
        assert_error(owner.post(url, json={"values": values}), 400, fragment)
    assert_error(stranger.get(url), 404)
    assert_error(stranger.post(url, json={"values": {"username": "x"}}), 404)
    assert owner.post(url, json={"values": {"password": None}}).json() == {"username": "acme"}
    assert owner.post(url, json={"values": {"username": None}}).json() == {}
    assert [r["version"] for r in owner.get(f"{ctl.url}/v1/apps/{app}/releases").json()["results"]] == [1]

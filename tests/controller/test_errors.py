"""Every error is JSON {"detail": ...} with the right status; malformed bodies are 400, never 500."""
from __future__ import annotations

import pytest
import requests

from tests.controller.helpers import assert_error, new_app, new_user, pull, releases

MALFORMED = ["{not json", "[1, 2", "", "null", "\"a string\"", "[]", "42", "\xff\xfe"]


@pytest.fixture(scope="module")
def setup(shared_controller):
    ctl = shared_controller
    _, admin = new_user(ctl, "admin")
    name, api = new_user(ctl, "errs")
    app = new_app(ctl, api)
    pull(ctl, api, app, "registry.example.com/web:1", procfile={"web": "serve"})
    return ctl, name, api, app, admin


def test_healthz_needs_no_auth(shared_controller):
    r = requests.get(f"{shared_controller.url}/healthz", timeout=10)
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_malformed_json_bodies_are_400(setup):
    ctl, name, api, app, admin = setup
    before = releases(ctl, api, app)
    endpoints = [
        ("POST", "/auth/register", False), ("POST", "/auth/login", False), ("POST", "/auth/passwd", True),
        ("POST", "/auth/tokens", True), ("POST", "/keys", True), ("POST", "/apps", True),
        ("POST", f"/apps/{app}/config", True), ("POST", f"/apps/{app}/builds", True),
        ("POST", f"/apps/{app}/releases/rollback", True), ("POST", f"/apps/{app}/scale", True),
        ("POST", f"/apps/{app}/domains", True), ("POST", f"/apps/{app}/limits", True),
        ("POST", f"/apps/{app}/perms", True), ("POST", f"/apps/{app}/transfer", True),
        ("POST", "/admin/perms", "admin"), ("DELETE", "/auth/cancel", True),
    ]
    for method, path, auth in endpoints:
        for raw in MALFORMED:
            if raw == "" and path in ("/auth/tokens", "/apps", f"/apps/{app}/releases/rollback", "/auth/cancel"):
                continue  # these take an optional body; leaving it out is fine
            session = admin if auth == "admin" else api if auth else ctl.api()
            r = session.request(method, f"{ctl.url}/v1{path}", data=raw.encode("latin-1"),
                                headers={"Content-Type": "application/json"}, timeout=10)
            detail = assert_error(r, 400)
            assert "JSON" in detail or "must be" in detail or "give" in detail, (path, raw, detail)
    # JSON without the JSON content type is refused the same way
    r = api.post(f"{ctl.url}/v1/apps/{app}/config", data='{"values": {"A": "1"}}',
                 headers={"Content-Type": "text/plain"})
    assert_error(r, 400, "JSON")
    assert releases(ctl, api, app) == before
    assert [a["id"] for a in api.get(f"{ctl.url}/v1/apps").json()["results"]] == [app]
    assert api.get(f"{ctl.url}/v1/auth/whoami").json()["username"] == name


def test_http_errors_are_json(setup):
    ctl, _, api, app, _ = setup
    assert_error(api.get(f"{ctl.url}/v1/no-such-thing"), 404)
    assert_error(api.get(f"{ctl.url}/nowhere"), 404)
    assert_error(api.put(f"{ctl.url}/v1/apps/{app}", json={}), 405)
    assert_error(api.delete(f"{ctl.url}/v1/apps/{app}/releases"), 405)
    assert_error(api.get(f"{ctl.url}/v1/auth/login"), 405)
    assert_error(ctl.api().post(f"{ctl.url}/v1/apps/{app}/config", json={"values": {"A": "1"}}), 401)
    assert_error(requests.get(f"{ctl.url}/v1/apps", headers={"Authorization": "token"}, timeout=10), 401)

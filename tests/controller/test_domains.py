"""Domains through the live API: unique across the platform, validated, outside the platform domain."""
from __future__ import annotations

from tests.controller.helpers import assert_error, new_app, new_user, versions


def domains(ctl, api, app):
    r = api.get(f"{ctl.url}/v1/apps/{app}/domains")
    assert r.status_code == 200, r.text
    return [d["domain"] for d in r.json()["results"]]


def test_add_list_remove_and_uniqueness(shared_controller):
    ctl = shared_controller
    _, api = new_user(ctl, "dom")
    _, other = new_user(ctl, "dom2")
    _, stranger = new_user(ctl, "domstr")
    app, app2, other_app = new_app(ctl, api), new_app(ctl, api), new_app(ctl, other)
    url = f"{ctl.url}/v1/apps/{app}/domains"
    r = api.post(url, json={"domain": f"www.{app}.com"})
    assert r.status_code == 201, r.text
    assert r.json() == {"domain": f"www.{app}.com", "app": app}
    assert api.post(url, json={"domain": f"{app}.com"}).status_code == 201
    assert domains(ctl, api, app) == [f"{app}.com", f"www.{app}.com"]
    assert api.get(f"{ctl.url}/v1/apps/{app}").json()["domains"] == [f"{app}.com", f"www.{app}.com"]

    assert_error(api.post(url, json={"domain": f"{app}.com"}), 409, "already in use")
    assert_error(api.post(f"{ctl.url}/v1/apps/{app2}/domains", json={"domain": f"{app}.com"}), 409)
    assert_error(other.post(f"{ctl.url}/v1/apps/{other_app}/domains", json={"domain": f"{app}.com"}), 409)
    assert_error(stranger.post(url, json={"domain": "stranger.example.com"}), 404)
    assert_error(stranger.delete(f"{url}/{app}.com"), 404)

    assert api.delete(f"{url}/{app}.com").status_code == 204
    assert domains(ctl, api, app) == [f"www.{app}.com"]
    assert_error(api.delete(f"{url}/{app}.com"), 404, "not attached")
    assert_error(api.delete(f"{ctl.url}/v1/apps/{app2}/domains/www.{app}.com"), 404)
    # freed: another app may take it
    assert other.post(f"{ctl.url}/v1/apps/{other_app}/domains", json={"domain": f"{app}.com"}).status_code == 201
    assert versions(ctl, api, app) == [1]


def test_invalid_and_platform_domains_refused(shared_controller):
    ctl = shared_controller
    _, api = new_user(ctl, "dombad")
    app = new_app(ctl, api)
    url = f"{ctl.url}/v1/apps/{app}/domains"
    for bad in ("", "localhost", "Example.com", "exa mple.com", "-x.example.com", "x..com", "*.example.com",
                "example.com/path", "http://example.com", None, 5):
        assert_error(api.post(url, json={"domain": bad}), 400, "invalid domain")
    platform = ctl.env.get("DEIS_DOMAIN", "deis.localhost")
    for inside in (platform, f"{app}.{platform}", f"other.{platform}"):
        assert_error(api.post(url, json={"domain": inside}), 400, "platform domain")
    assert_error(api.post(url, json={}), 400)
    assert domains(ctl, api, app) == []

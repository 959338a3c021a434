"""Small helpers shared by the controller's API tests."""
from __future__ import annotations

import uuid

import requests


def unique(prefix: str = "t") -> str:
    """A name no other test uses (lowercase letters, digits and one dash: valid for users and apps)."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def new_user(ctl, prefix: str = "user") -> tuple[str, requests.Session]:
    """Register and log in a fresh user; return (username, an authenticated session)."""
    name = unique(prefix)
    return name, ctl.api(ctl.register(name))


def new_app(ctl, api: requests.Session, name: str | None = None) -> str:
    name = name or unique("app")
    r = api.post(f"{ctl.url}/v1/apps", json={"id": name})
    assert r.status_code == 201, r.text
    return name


def pull(ctl, api: requests.Session, app: str, image: str = "registry.example.com/web:1", procfile: dict | None = None):
    body = {"image": image} | ({"procfile": procfile} if procfile is not None else {})
    r = api.post(f"{ctl.url}/v1/apps/{app}/builds", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def set_config(ctl, api: requests.Session, app: str, values: dict) -> requests.Response:
    return api.post(f"{ctl.url}/v1/apps/{app}/config", json={"values": values})


def versions(ctl, api: requests.Session, app: str) -> list[int]:
    r = api.get(f"{ctl.url}/v1/apps/{app}/releases", params={"limit": 1000})
    assert r.status_code == 200, r.text
    return sorted(rel["version"] for rel in r.json()["results"])


def releases(ctl, api: requests.Session, app: str) -> list[dict]:
    """Releases, oldest first."""
    r = api.get(f"{ctl.url}/v1/apps/{app}/releases", params={"limit": 1000})
    assert r.status_code == 200, r.text
    return sorted(r.json()["results"], key=lambda rel: rel["version"])


def assert_error(response: requests.Response, status: int, *fragments: str) -> str:
    """The response is a JSON error ``{"detail": "..."}`` with ``status``; return the detail."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["Content-Type"].startswith("application/json"), response.headers
    body = response.json()
    assert set(body) == {"detail"}, body
    assert isinstance(body["detail"], str) and body["detail"], body
    for fragment in fragments:
        assert fragment in body["detail"], (fragment, body["detail"])
    return body["detail"]

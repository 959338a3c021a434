"""The API flow a user goes through, against a controller whose state is in a real PostgreSQL 15.

SQLite is what the other controller tests use; this proves the same contracts hold on PostgreSQL
(types round-trip: JSON config values byte-exact, timezone-aware timestamps, booleans; constraints
and cascades work; row locks keep versions gapless - see also test_concurrency.py).
"""
from __future__ import annotations

import subprocess

import psycopg
import requests

from tests.controller.helpers import assert_error, new_app, new_user, pull, releases, set_config, unique

VALUES = {"MULTI": "a\nb\n", "QUOTE": "\"'", "EQ": "x=y=z", "UNI": "héllo ✓ 日本 🚀", "EMPTY": "", "BS": "\\n"}


def test_auth_flow(pg_controller):
    ctl = pg_controller
    name = unique("pg")
    r = requests.post(f"{ctl.url}/v1/auth/register", json={"username": name, "password": "first-pass"}, timeout=10)
    assert r.status_code == 201 and r.json()["username"] == name
    assert_error(requests.post(f"{ctl.url}/v1/auth/register", json={"username": name, "password": "first-pass"},
                               timeout=10), 409, "already exists")
    assert_error(requests.post(f"{ctl.url}/v1/auth/login", json={"username": name, "password": "nope-nope"},
                               timeout=10), 401)
    token = requests.post(f"{ctl.url}/v1/auth/login", json={"username": name, "password": "first-pass"},
                          timeout=10).json()["token"]
    api = ctl.api(token)
    assert api.get(f"{ctl.url}/v1/auth/whoami").json()["username"] == name
    r = api.post(f"{ctl.url}/v1/auth/passwd", json={"password": "first-pass", "new_password": "second-pass"})
    assert r.status_code == 200
    new_token = api.post(f"{ctl.url}/v1/auth/tokens", json={}).json()["token"]
    assert api.get(f"{ctl.url}/v1/auth/whoami").status_code == 401  # old token revoked
    api = ctl.api(new_token)
    assert api.post(f"{ctl.url}/v1/auth/logout").status_code == 200
    assert api.get(f"{ctl.url}/v1/auth/whoami").status_code == 401
    r = requests.post(f"{ctl.url}/v1/auth/login", json={"username": name, "password": "second-pass"}, timeout=10)
    api = ctl.api(r.json()["token"])
    assert api.delete(f"{ctl.url}/v1/auth/cancel").status_code == 204
    assert_error(requests.post(f"{ctl.url}/v1/auth/login", json={"username": name, "password": "second-pass"},
                               timeout=10), 401)


def test_keys(pg_controller, tmp_path):
    ctl = pg_controller
    _, api = new_user(ctl, "pgkeys")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "pg@test", "-f", str(tmp_path / "k")],
                   check=True)
    public = (tmp_path / "k.pub").read_text()
    r = api.post(f"{ctl.url}/v1/keys", json={"public": public})
    assert r.status_code == 201, r.text
    assert_error(api.post(f"{ctl.url}/v1/keys", json={"public": public, "id": "other"}), 409)
    assert [k["id"] for k in api.get(f"{ctl.url}/v1/keys").json()["results"]] == ["pg@test"]
    assert api.delete(f"{ctl.url}/v1/keys/{r.json()['fingerprint']}").status_code == 204


def test_apps_config_releases_rollback_scale(pg_controller):
    ctl = pg_controller
    owner, api = new_user(ctl, "pgapps")
    app = new_app(ctl, api)
    info = api.get(f"{ctl.url}/v1/apps/{app}").json()
    assert info["owner"] == owner and info["release"] == 1 and info["created"].endswith("+00:00")
    assert app in [a["id"] for a in api.get(f"{ctl.url}/v1/apps").json()["results"]]

    assert set_config(ctl, api, app, VALUES).status_code == 201                           # v2
    assert api.get(f"{ctl.url}/v1/apps/{app}/config").json()["values"] == VALUES
    assert_error(set_config(ctl, api, app, {"1BAD": "x"}), 400, "invalid config key")
    pull(ctl, api, app, "registry.example.com/web:1", procfile={"web": "serve", "worker": "work"})   # v3
    assert set_config(ctl, api, app, {"MULTI": None, "NEW": "1"}).status_code == 201      # v4
    pull(ctl, api, app, "registry.example.com/web:2", procfile={"web": "serve"})                     # v5

    r = api.post(f"{ctl.url}/v1/apps/{app}/releases/rollback", json={})                  # v6 = v4
    assert r.status_code == 201 and r.json()["version"] == 6 and r.json()["summary"] == "rolled back to v4"
    r = api.post(f"{ctl.url}/v1/apps/{app}/releases/rollback", json={"version": "v2"})
    assert_error(r, 409, "no build")
    rels = releases(ctl, api, app)
    assert [r["version"] for r in rels] == [1, 2, 3, 4, 5, 6]
    assert [r["summary"] for r in rels][1:] == [
        "added " + ", ".join(sorted(VALUES)), "deployed registry.example.com/web:1", "added NEW, removed MULTI",
        "deployed registry.example.com/web:2", "rolled back to v4"]
    v6 = api.get(f"{ctl.url}/v1/apps/{app}/releases/v6").json()
    assert v6["image"] == "registry.example.com/web:1"
    assert v6["config_values"] == {k: v for k, v in VALUES.items() if k != "MULTI"} | {"NEW": "1"}

    r = api.post(f"{ctl.url}/v1/apps/{app}/scale", json={"web": 3, "worker": "2"})
    assert r.status_code == 200 and r.json()["structure"] == {"web": 3, "worker": 2}
    assert_error(api.post(f"{ctl.url}/v1/apps/{app}/scale", json={"web": -1}), 400, "invalid count")
    assert_error(api.post(f"{ctl.url}/v1/apps/{app}/scale", json={"clock": 1}), 400, "unknown process type")
    r = api.post(f"{ctl.url}/v1/apps/{app}/limits", json={"memory": {"web": "256m"}, "cpu": {"web": 0.5}})
    assert r.status_code == 201 and r.json()["release"] == 7
    assert api.get(f"{ctl.url}/v1/apps/{app}/limits").json() == {"memory": {"web": "256M"}, "cpu": {"web": 0.5}}


def test_sharing_domains_transfer_destroy(pg_controller, postgres_url):
    ctl = pg_controller
    owner, api = new_user(ctl, "pgown")
    friend, friend_api = new_user(ctl, "pgfriend")
    app = new_app(ctl, api)
    assert_error(friend_api.get(f"{ctl.url}/v1/apps/{app}"), 404)
    assert api.post(f"{ctl.url}/v1/apps/{app}/perms", json={"username": friend}).status_code == 201
    assert set_config(ctl, friend_api, app, {"BY_FRIEND": "1"}).status_code == 201
    domain = f"{unique('d')}.example.com"
    assert api.post(f"{ctl.url}/v1/apps/{app}/domains", json={"domain": domain}).status_code == 201
    assert_error(api.post(f"{ctl.url}/v1/apps/{app}/domains", json={"domain": domain}), 409)
    pull(ctl, api, app)

    r = api.post(f"{ctl.url}/v1/apps/{app}/transfer", json={"username": friend})
    assert r.status_code == 200 and r.json()["owner"] == friend
    assert_error(api.delete(f"{ctl.url}/v1/apps/{app}"), 404)
    assert friend_api.delete(f"{ctl.url}/v1/apps/{app}").status_code == 204
    assert_error(friend_api.get(f"{ctl.url}/v1/apps/{app}"), 404)
    # nothing of the app is left behind in the database
    with psycopg.connect(postgres_url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        for table in ("releases", "builds", "configs", "domains", "perms"):
            count = conn.execute(f"SELECT count(*) FROM {table} t JOIN apps a ON a.id = t.app_id "
                                 "WHERE a.name = %s", (app,)).fetchone()[0]
            assert count == 0, table
        assert conn.execute("SELECT count(*) FROM domains WHERE domain = %s", (domain,)).fetchone()[0] == 0

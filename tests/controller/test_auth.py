"""Accounts through the live API: register, login/logout, whoami, passwd, tokens, cancel."""
from __future__ import annotations

import sqlite3

import requests

from tests.controller.helpers import assert_error, new_app, new_user, unique


def post(ctl, path, json=None, token=None, **kw):
    return ctl.api(token).post(f"{ctl.url}/v1{path}", json=json, timeout=10, **kw)


def test_first_user_is_admin_and_the_second_is_not(controller):
    r = post(controller, "/auth/register", {"username": "alice", "password": "alice-pass-1",
                                            "email": "alice@example.com"})
    assert r.status_code == 201, r.text
    assert r.json()["is_admin"] is True and r.json()["username"] == "alice"
    assert "password" not in r.text and "alice-pass-1" not in r.text
    r = post(controller, "/auth/register", {"username": "bob", "password": "bob-pass-12"})
    assert r.status_code == 201, r.text
    assert r.json()["is_admin"] is False


def test_register_refuses_duplicates_and_bad_input(shared_controller):
    ctl = shared_controller
    name = unique("dup")
    assert post(ctl, "/auth/register", {"username": name, "password": "long-enough"}).status_code == 201
    assert_error(post(ctl, "/auth/register", {"username": name, "password": "other-pass"}), 409, "already exists")
    bad = [
        ({"username": "bad user", "password": "long-enough"}, "invalid username"),
        ({"username": "", "password": "long-enough"}, "invalid username"),
        ({"username": "-x", "password": "long-enough"}, "invalid username"),
        ({"username": "a" * 65, "password": "long-enough"}, "invalid username"),
        ({"password": "long-enough"}, "invalid username"),
        ({"username": 12, "password": "long-enough"}, "invalid username"),
        ({"username": unique("u"), "password": "short"}, "at least 8"),
        ({"username": unique("u")}, "at least 8"),
        ({"username": unique("u"), "password": 12345678}, "at least 8"),
        ({"username": unique("u"), "password": "long-enough", "email": "not-an-email"}, "invalid email"),
    ]
    for body, fragment in bad:
        assert_error(post(ctl, "/auth/register", body), 400, fragment)
    # nothing was created by the refused requests
    for body, _ in bad[6:]:
        assert_error(post(ctl, "/auth/login", {"username": body["username"], "password": "long-enough"}), 401)


def test_login_whoami_logout(shared_controller):
    ctl = shared_controller
    name = unique("login")
    post(ctl, "/auth/register", {"username": name, "password": "right-password", "email": "x@example.com"})
    assert_error(post(ctl, "/auth/login", {"username": name, "password": "wrong-password"}), 401,
                 "bad username or password")
    assert_error(post(ctl, "/auth/login", {"username": unique("nobody"), "password": "right-password"}), 401,
                 "bad username or password")
    assert_error(post(ctl, "/auth/login", {"username": name}), 401)
    assert_error(post(ctl, "/auth/login", {"username": [name], "password": "right-password"}), 401)

    r = post(ctl, "/auth/login", {"username": name, "password": "right-password"})
    assert r.status_code == 200, r.text
    token = r.json()["token"]
    second = post(ctl, "/auth/login", {"username": name, "password": "right-password"}).json()["token"]
    assert token != second

    me = ctl.api(token).get(f"{ctl.url}/v1/auth/whoami")
    assert me.status_code == 200
    assert me.json()["username"] == name and me.json()["email"] == "x@example.com"
    assert me.json()["is_admin"] is False

    assert_error(ctl.api().get(f"{ctl.url}/v1/auth/whoami"), 401, "deis login")
    assert_error(ctl.api("not-a-token").get(f"{ctl.url}/v1/auth/whoami"), 401, "invalid token")
    r = requests.get(f"{ctl.url}/v1/auth/whoami", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert_error(r, 401)

    r = post(ctl, "/auth/logout", token=token)
    assert r.status_code == 200, r.text
    assert_error(ctl.api(token).get(f"{ctl.url}/v1/auth/whoami"), 401, "invalid token")
    assert_error(post(ctl, "/auth/logout", token=token), 401)
    # the other session's token is untouched
    assert ctl.api(second).get(f"{ctl.url}/v1/auth/whoami").status_code == 200


def test_passwd(shared_controller):
    ctl = shared_controller
    name = unique("pw")
    token = ctl.register(name, password="first-password")
    assert_error(post(ctl, "/auth/passwd", {"password": "wrong-password", "new_password": "second-password"},
                      token=token), 401, "current password is wrong")
    assert_error(post(ctl, "/auth/passwd", {"password": "first-password", "new_password": "short"},
                      token=token), 400, "at least 8")
    assert_error(post(ctl, "/auth/passwd", {"password": "first-password", "new_password": "x" * 2000},
                      token=token), 400, "too long")
    assert_error(post(ctl, "/auth/passwd", {"password": "first-password", "new_password": "second-password"}),
                 401)
    r = post(ctl, "/auth/passwd", {"password": "first-password", "new_password": "second-password"}, token=token)
    assert r.status_code == 200, r.text
    assert_error(post(ctl, "/auth/login", {"username": name, "password": "first-password"}), 401)
    assert post(ctl, "/auth/login", {"username": name, "password": "second-password"}).status_code == 200


def test_token_regenerate_revokes_old_tokens(shared_controller):
    ctl = shared_controller
    name = unique("regen")
    old = ctl.register(name)
    other = post(ctl, "/auth/login", {"username": name, "password": "s3cret-pass"}).json()["token"]
    r = post(ctl, "/auth/tokens", token=old)
    assert r.status_code == 200, r.text
    new = r.json()["token"]
    assert r.json()["username"] == name and new not in (old, other)
    for revoked in (old, other):
        assert_error(ctl.api(revoked).get(f"{ctl.url}/v1/auth/whoami"), 401)
    assert ctl.api(new).get(f"{ctl.url}/v1/auth/whoami").json()["username"] == name
    # a non-admin may not regenerate someone else's token
    victim, victim_api = new_user(ctl, "victim")
    assert_error(post(ctl, "/auth/tokens", {"username": victim}, token=new), 403)
    assert victim_api.get(f"{ctl.url}/v1/auth/whoami").status_code == 200
    assert_error(post(ctl, "/auth/tokens", ["not", "an", "object"], token=new), 400)


def test_cancel_refused_while_owning_apps(shared_controller):
    ctl = shared_controller
    name, api = new_user(ctl, "cancel")
    app = new_app(ctl, api)
    assert_error(api.delete(f"{ctl.url}/v1/auth/cancel"), 409, app, "destroy or transfer")
    assert api.get(f"{ctl.url}/v1/auth/whoami").status_code == 200
    assert api.delete(f"{ctl.url}/v1/apps/{app}").status_code == 204
    r = api.delete(f"{ctl.url}/v1/auth/cancel")
    assert r.status_code == 204, r.text
    assert_error(api.get(f"{ctl.url}/v1/auth/whoami"), 401)
    assert_error(post(ctl, "/auth/login", {"username": name, "password": "s3cret-pass"}), 401)
    # the name is free again
    assert post(ctl, "/auth/register", {"username": name, "password": "s3cret-pass"}).status_code == 201


def test_admin_cancels_and_regenerates_for_others(controller):
    admin = controller.api(controller.register("root-admin"))
    user, user_api = "plain-user", controller.api(controller.register("plain-user"))
    other, other_api = "other-user", controller.api(controller.register("other-user"))
    assert_error(other_api.delete(f"{controller.url}/v1/auth/cancel", json={"username": user}), 403)
    r = admin.post(f"{controller.url}/v1/auth/tokens", json={"username": user})
    assert r.status_code == 200 and r.json()["username"] == user
    assert_error(user_api.get(f"{controller.url}/v1/auth/whoami"), 401)
    assert controller.api(r.json()["token"]).get(f"{controller.url}/v1/auth/whoami").json()["username"] == user
    assert admin.delete(f"{controller.url}/v1/auth/cancel", json={"username": user}).status_code == 204
    assert_error(admin.delete(f"{controller.url}/v1/auth/cancel", json={"username": user}), 404)
    assert other_api.get(f"{controller.url}/v1/auth/whoami").status_code == 200


def test_tokens_and_passwords_are_hashed_at_rest(controller):
    password = "Very-Distinct-Password-42"
    token = controller.register("hashy", password=password)
    controller.api(token).post(f"{controller.url}/v1/apps", json={"id": "hashy-app"})
    db = controller.home / "controller.db"
    assert db.exists()
    with sqlite3.connect(db) as conn:
        # read through SQLite (WAL included), not just the main file's bytes
        dump = "\n".join(conn.iterdump())
        users = conn.execute("SELECT password_hash FROM users WHERE username = 'hashy'").fetchall()
        tokens = conn.execute("SELECT token_hash FROM tokens").fetchall()
    assert password not in dump
    assert token not in dump
    assert users and users[0][0] != password and users[0][0].startswith(("scrypt:", "pbkdf2:"))
    assert tokens and all(len(t) == 64 and t != token for (t,) in tokens)
    raw = b"".join(p.read_bytes() for p in controller.home.glob("controller.db*"))
    assert password.encode() not in raw and token.encode() not in raw

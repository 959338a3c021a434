"""deis register / login / logout / whoami / passwd / auth:tokens / auth:regenerate / auth:cancel, and the profile
file; login limits and token expiry as the CLI shows them."""
from __future__ import annotations

import stat
import time

from deiscore.processes import free_port, stop_pid
from deiscore.settings import Settings
from tests.client.conftest import DeisCLI, unique
from tests.conftest import start_controller


def test_first_user_is_admin_and_profile_is_private(controller, new_cli):
    first, second = new_cli(controller), new_cli(controller)
    out = first.ok("register", controller.url, "--username", "alice", "--password", "s3cret-pass")
    assert "Registered alice (administrator)" in out and "Logged in as alice" in out
    out = second.ok("register", controller.url.removeprefix("http://"), "--username", "bob",
                    "--password", "s3cret-pass")
    assert "Registered bob\n" in out and "administrator" not in out

    profile_file = first.profile_dir / "client.json"
    assert stat.S_IMODE(profile_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(first.profile_dir.stat().st_mode) == 0o700
    profile = first.profile()
    assert profile["controller"] == controller.url and profile["username"] == "alice"
    assert len(profile["token"]) >= 32
    # a URL without scheme is normalized
    assert second.profile()["controller"] == controller.url

    assert first.ok("whoami") == f"You are alice (administrator) at {controller.url}\n"
    assert second.json("whoami")["is_admin"] is False
    # the machine's own profile is never touched: HOME and DEIS_PROFILE_DIR point into the test dir
    assert (first.home / ".deis" / "client.json").exists()


def test_register_refusals(user, shared_controller, new_cli):
    other = new_cli(shared_controller)
    other.fails("register", shared_controller.url, "--username", user.username, "--password", "s3cret-pass",
                expect="already exists")
    other.fails("register", shared_controller.url, "--username", unique(), "--password", "short",
                expect="at least 8 characters")
    other.fails("register", shared_controller.url, "--username", "bad name!", "--password", "s3cret-pass",
                expect="invalid username")
    # no terminal to prompt on: says which option is missing
    other.fails("register", shared_controller.url, "--username", unique(), expect="--password")
    assert not (other.profile_dir / "client.json").exists()


def test_login_logout_whoami(user, shared_controller, new_cli):
    token = user.profile()["token"]
    assert user.ok("logout") == "Logged out\n"
    assert "token" not in user.profile() and user.profile()["controller"] == shared_controller.url
    user.fails("whoami", expect="not logged in")
    # the old token was revoked on the server, not just forgotten locally
    r = shared_controller.api(token).get(f"{shared_controller.url}/v1/auth/whoami")
    assert r.status_code == 401

    user.fails("login", "--username", user.username, "--password", "wrong-password",
               expect="bad username or password")
    out = user.ok("login", "--username", user.username, "--password", user.password)  # URL from profile
    assert out == f"Logged in as {user.username}\n"
    assert user.ok("whoami") == f"You are {user.username} at {shared_controller.url}\n"

    stranger = new_cli(shared_controller)
    stranger.fails("whoami", expect="not logged in")
    stranger.fails("login", "--username", "x", "--password", "y", expect="give the controller URL")
    stranger.fails("apps:list", expect="not logged in")


def test_unreachable_controller_is_a_clear_error(tmp_path):
    cli = DeisCLI(tmp_path, f"http://127.0.0.1:{free_port()}")  # nothing listens there
    cli.fails("register", cli.url, "--username", "x", "--password", "s3cret-pass",
              expect="cannot reach the controller")
    assert not (cli.profile_dir / "client.json").exists()


def test_passwd(user):
    user.fails("passwd", "--password", "wrong-password", "--new-password", "n3w-passw0rd",
               expect="current password is wrong")
    user.fails("passwd", "--password", user.password, "--new-password", "short", expect="at least 8")
    assert user.ok("passwd", "--password", user.password, "--new-password", "n3w-passw0rd") == "Password changed\n"
    user.ok("logout")
    user.fails("login", "--username", user.username, "--password", user.password, expect="bad username")
    user.ok("login", "--username", user.username, "--password", "n3w-passw0rd")


def test_regenerate_revokes_old_token(user, shared_controller):
    old = user.profile()["token"]
    assert user.ok("auth:regenerate") == f"Token regenerated for {user.username}\n"
    new = user.profile()["token"]
    assert new != old
    assert shared_controller.api(old).get(f"{shared_controller.url}/v1/auth/whoami").status_code == 401
    assert user.json("whoami")["username"] == user.username
    user.fails("auth:regenerate", "-u", "someone-else", expect="only administrators")


def test_cancel(user, shared_controller):
    app = user.create_app()
    user.fails("auth:cancel", expect=f"--confirm={user.username}")
    user.fails("auth:cancel", "--confirm", user.username, expect=("still owns apps", app))
    user.ok("apps:destroy", "-a", app, "--confirm", app)
    assert user.ok("auth:cancel", "--confirm", user.username) == f"Account {user.username} cancelled\n"
    assert not (user.profile_dir / "client.json").exists()
    user.fails("login", shared_controller.url, "--username", user.username, "--password", user.password,
               expect="bad username or password")


def test_admin_regenerates_and_cancels_for_others(controller, new_cli):
    admin, bob = new_cli(controller), new_cli(controller)
    admin.register("admin")
    bob.register("bob")
    bob.fails("auth:cancel", "-u", "admin", "--confirm", "admin", expect="only administrators")
    assert admin.ok("auth:regenerate", "-u", "bob") == "Token regenerated for bob\n"
    bob.fails("whoami", expect="invalid token")
    admin.ok("auth:cancel", "-u", "bob", "--confirm", "bob")
    assert [u["username"] for u in admin.json("users:list")] == ["admin"]
    assert admin.json("whoami")["username"] == "admin"  # the admin's own profile is untouched


def test_tokens_list_and_revoke(user, shared_controller, new_cli):
    elsewhere = new_cli(shared_controller)  # the same account, logged in on another machine
    elsewhere.ok("login", shared_controller.url, "--username", user.username, "--password", user.password)
    out = user.ok("auth:tokens")
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "CREATED", "LAST", "USED", "EXPIRES", "CURRENT"] and len(lines) == 3
    assert user.profile()["token"] not in out and elsewhere.profile()["token"] not in out
    tokens = user.json("tokens")
    mine = next(t["id"] for t in tokens if t["current"])
    other = next(t["id"] for t in tokens if not t["current"])
    assert lines[1 + [t["id"] for t in tokens].index(mine)].rstrip().endswith("*")

    assert user.ok("auth:tokens:revoke", str(other)) == f"Revoked token {other}\n"
    elsewhere.fails("whoami", expect="invalid token: log in again")
    user.fails("auth:tokens:revoke", str(other), expect=f"token {other} not found")
    assert user.run("auth:tokens:revoke", "abc").returncode == 2
    assert [t["id"] for t in user.json("auth:tokens")] == [mine]

    out = user.ok("auth:tokens:revoke", str(mine))
    assert out == f"Revoked token {mine} (this session's: you are logged out)\n"
    assert "token" not in user.profile()
    user.fails("whoami", expect="not logged in")


def test_usernames_in_any_case(user, shared_controller, new_cli):
    other = new_cli(shared_controller)
    other.fails("register", shared_controller.url, "--username", user.username.upper(), "--password", "s3cret-pass",
                expect=("invalid username", "lowercase"))
    other.fails("register", shared_controller.url, "--username", user.username + ".", "--password", "s3cret-pass",
                expect="invalid username")
    assert other.ok("login", shared_controller.url, "--username", user.username.upper(), "--password",
                    user.password) == f"Logged in as {user.username}\n"
    assert other.json("whoami")["username"] == user.username


def test_too_many_wrong_passwords(controller, new_cli):
    cli = new_cli(controller)
    cli.register("mallory-target")
    cli.ok("logout")
    for _ in range(Settings.login_failures_per_user):
        cli.fails("login", "--username", "mallory-target", "--password", "guess-guess", expect="bad username")
    cli.fails("login", "--username", "mallory-target", "--password", cli.password,
              expect=("too many failed logins for the account 'mallory-target'", "try again in"))


def test_expired_token_says_to_log_in_again(tmp_path, new_cli):
    home = tmp_path / "deis-home"
    home.mkdir()
    ctl, proc = start_controller(home, extra_env={"DEIS_TOKEN_TTL": "2"})
    try:
        cli = new_cli(ctl)
        cli.register()
        cli.ok("whoami")
        time.sleep(2.2)
        cli.fails("whoami", expect=("token expired", "log in again with 'deis login'"))
        cli.ok("login", "--username", cli.username, "--password", cli.password)
        cli.ok("whoami")
    finally:
        stop_pid(proc.pid)

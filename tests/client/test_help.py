"""deis help, shortcuts, --json on every listing, and how errors look (message, exit code, no traceback)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.client.conftest import DeisCLI

JSON_COMMANDS = ["apps:list", "apps:info", "config:list", "builds:list", "releases:list", "domains:list",
                 "limits:list", "perms:list", "keys:list", "whoami"]


@pytest.mark.parametrize("command, shortcut", [
    ("apps:create", "create"), ("config:set", None), ("config:push", None), ("releases:rollback", "rollback"),
    ("ps:scale", "scale"), ("builds:create", "pull"), ("auth:register", "register"), ("keys:add", None),
    ("perms:create", None), ("limits:set", None), ("domains:add", None), ("users:list", "users"),
])
def test_help_for_each_command(user: DeisCLI, command, shortcut):
    out = user.ok("help", command)
    assert out.startswith(f"Usage: deis {command} ") and "Options:" in out
    assert user.ok(command, "--help") == out
    if shortcut:
        assert user.ok("help", shortcut) == out


def test_help_lists_commands_and_refuses_unknown(user: DeisCLI):
    out = user.ok("help")
    for command in ("apps:create", "config:set", "releases:rollback", "ps:scale", "keys:add", "perms:create"):
        assert command in out
    assert user.ok("--help") == out
    user.fails("help", "frobnicate", expect="unknown command 'frobnicate'")
    result = user.run("frobnicate")
    assert result.returncode == 2 and "No such command 'frobnicate'" in result.stderr


def test_json_outputs_parse(user: DeisCLI):
    app = user.create_app()
    user.ok("pull", "registry.example.com/web:1", "-a", app)
    for command in JSON_COMMANDS:
        result = user.run(command, *([] if command in ("keys:list", "whoami", "apps:list") else ["-a", app]),
                          "--json")
        assert result.returncode == 0, (command, result.stderr)
        json.loads(result.stdout)
    assert user.json("releases:info", "v2", "-a", app)["version"] == 2


def test_errors_are_clear_with_non_zero_exit(user: DeisCLI, shared_controller, new_cli):
    app = user.create_app()
    stranger = new_cli(shared_controller)
    stranger.register()
    denied = f"Error: app '{app}' not found\n"  # another user's app answers like a missing one
    for args in (("config:set", "A=1", "-a", app), ("releases", "-a", app), ("rollback", "-a", app)):
        result = stranger.run(*args)
        assert (result.returncode, result.stderr) == (1, denied), args
        assert "Traceback" not in result.stdout
    for args in (("info", "-a", "no-such-app"), ("config", "-a", "no-such-app"), ("releases", "-a", "no-such-app")):
        result = user.run(*args)
        assert (result.returncode, result.stderr) == (1, "Error: app 'no-such-app' not found\n")
    # a revoked token: told to log in again
    user.ok("auth:regenerate")
    stale = new_cli(shared_controller)
    stale.profile_dir.mkdir(parents=True)
    (stale.profile_dir / "client.json").write_text(json.dumps({"controller": shared_controller.url,
                                                               "username": "x", "token": "0" * 40}))
    stale.fails("apps", expect="invalid token: log in again")
    (stale.profile_dir / "client.json").write_text("{not json")
    stale.fails("apps", expect="cannot read")
    result = user.run("config:set", "-a", app)  # usage errors exit 2, as click does
    assert result.returncode == 2 and "Missing argument" in result.stderr


def test_python_dash_m_entry_point(tmp_path):
    result = subprocess.run([sys.executable, "-m", "client.cli", "--version"], capture_output=True, text=True,
                            cwd=tmp_path, timeout=30)
    assert result.returncode == 0 and result.stdout.startswith("deis, version ")

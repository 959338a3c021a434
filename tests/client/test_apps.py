"""deis apps:create / list / info / destroy / transfer, and how the CLI finds the app."""
from __future__ import annotations

import re
import subprocess

from deiscore.settings import load as load_settings
from tests.client.conftest import DeisCLI, unique


def git_url(ctl, app: str) -> str:
    return f"ssh://git@127.0.0.1:{load_settings(ctl.env).builder_port}/{app}.git"


def test_create_in_git_repo_adds_remote_and_infers_app(user: DeisCLI, shared_controller):
    repo = user.git_repo()
    name = unique("app")
    out = user.ok("create", name, cwd=repo)
    url = git_url(shared_controller, name)
    assert f"created {name}" in out and f"Git remote deis added: {url}" in out
    assert user.git_remote(repo) == url

    # commands inside the repo (and its subdirectories) find the app from the remote
    sub = repo / "src" / "deep"
    sub.mkdir(parents=True)
    assert user.json("apps:info", cwd=sub)["id"] == name
    assert user.json("releases", cwd=repo)[0]["version"] == 1
    # -a wins over the remote; --app is the long form
    other = user.create_app()
    assert user.json("info", "-a", other, cwd=repo)["id"] == other
    assert user.json("info", "--app", other, cwd=repo)["id"] == other

    # a second create in the same repo points the remote at the new app
    second = unique("app")
    assert "Git remote deis updated" in user.ok("apps:create", second, cwd=repo)
    assert user.git_remote(repo) == git_url(shared_controller, second)

    # destroying the remote's app removes the remote
    out = user.ok("apps:destroy", "--confirm", second, cwd=repo)
    assert f"Destroyed {second}" in out and "Git remote deis removed" in out
    assert user.git_remote(repo) is None


def test_create_random_name_and_no_remote(user: DeisCLI):
    repo = user.git_repo()
    created = user.json("apps:create", cwd=repo)  # --json changes the output, not what is done
    assert re.fullmatch(r"[a-z]+-[a-z]+-[0-9]{4}", created["id"]), created
    assert created["owner"] == user.username and created["git_url"].endswith(f"/{created['id']}.git")
    assert user.git_remote(repo) == created["git_url"]
    out = user.ok("create", "--no-remote", cwd=repo)
    name = re.search(r"created (\S+)", out).group(1)
    assert name != created["id"] and user.git_remote(repo) == created["git_url"]
    assert {created["id"], name} <= {a["id"] for a in user.json("apps:list")}


def test_no_app_outside_a_repo_or_without_remote(user: DeisCLI):
    user.fails("apps:info", expect="no app given: use -a APP")
    repo = user.git_repo()
    user.fails("config:list", cwd=repo, expect="no app given")
    subprocess.run(["git", "remote", "add", "deis", "https://example.com/not-an-app"], cwd=repo, check=True,
                   env=user.env)
    user.fails("config:list", cwd=repo, expect="no app given")


def test_create_refusals(user: DeisCLI, shared_controller, new_cli):
    name = user.create_app()
    user.fails("create", name, "--no-remote", expect="already exists")
    other = new_cli(shared_controller)
    other.register()
    other.fails("create", name, "--no-remote", expect="already exists")
    for bad in ("Upper", "under_score", "dash-", "two--dashes", "a" * 41):
        user.fails("create", bad, "--no-remote", expect="invalid app name")
    user.fails("create", "deis", "--no-remote", expect="reserved")


def test_list_and_info(user: DeisCLI, shared_controller, new_cli):
    a, b = user.create_app(), user.create_app()
    out = user.ok("apps")
    assert out.splitlines()[0] == "=== Apps" and set(out.split()) >= {a, b}
    info = user.json("apps:info", "-a", a)
    assert info["id"] == a and info["release"] == 1 and info["structure"] == {} and info["domains"] == []
    text = user.ok("info", "-a", a)
    assert f"=== {a} Application" in text and "release:  v1" in text and f"owner:    {user.username}" in text

    stranger = new_cli(shared_controller)
    stranger.register()
    assert a not in {x["id"] for x in stranger.json("apps:list")}
    stranger.fails("info", "-a", a, expect=f"app '{a}' not found")
    stranger.fails("info", "-a", "no-such-app", expect="app 'no-such-app' not found")


def test_destroy_needs_confirm_and_ownership(user: DeisCLI, shared_controller, new_cli):
    app = user.create_app()
    user.fails("apps:destroy", "-a", app, expect=f"--confirm={app}")
    user.fails("destroy", "-a", app, "--confirm", "something-else", expect=f"--confirm={app}")
    collaborator = new_cli(shared_controller)
    collaborator.register()
    user.ok("perms:create", collaborator.username, "-a", app)
    collaborator.fails("destroy", "-a", app, f"--confirm={app}", expect="only the owner")
    assert user.ok("destroy", "-a", app, f"--confirm={app}") == f"Destroyed {app}\n"
    user.fails("info", "-a", app, expect="not found")
    user.fails("destroy", "-a", app, f"--confirm={app}", expect="not found")


def test_transfer(user: DeisCLI, shared_controller, new_cli):
    app = user.create_app()
    new_owner = new_cli(shared_controller)
    new_owner.register()
    user.fails("apps:transfer", "nobody-at-all", "-a", app, expect="user 'nobody-at-all' not found")
    assert user.ok("apps:transfer", new_owner.username, "-a", app) == f"Transferred {app} to {new_owner.username}\n"
    assert new_owner.json("info", "-a", app)["owner"] == new_owner.username
    user.fails("info", "-a", app, expect=f"app '{app}' not found")
    user.fails("apps:transfer", user.username, "-a", app, expect=f"app '{app}' not found")

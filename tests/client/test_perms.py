"""deis perms:* (collaborators, administrator grant) and users:list."""
from __future__ import annotations

from tests.client.conftest import DeisCLI


def test_collaborators(user: DeisCLI, shared_controller, new_cli):
    app = user.create_app()
    friend, stranger = new_cli(shared_controller), new_cli(shared_controller)
    friend.register()
    stranger.register()
    friend.fails("config:set", "A=1", "-a", app, expect=f"app '{app}' not found")

    out = user.ok("perms:create", friend.username, "-a", app)
    assert out == f"Added {friend.username} to {app} collaborators\n"
    assert user.json("perms", "-a", app) == {"owner": user.username, "users": [friend.username]}
    assert user.ok("perms:list", "-a", app) == f"=== {app}'s Users (owner: {user.username})\n{friend.username}\n"

    # a collaborator can use the app but not share or destroy it
    friend.ok("config:set", "FROM_FRIEND=1", "-a", app)
    assert app in {a["id"] for a in friend.json("apps")}
    assert friend.json("perms", "-a", app)["users"] == [friend.username]
    friend.fails("perms:create", stranger.username, "-a", app, expect="only the owner")
    stranger.fails("perms", "-a", app, expect=f"app '{app}' not found")

    user.fails("perms:create", friend.username, "-a", app, expect="already a collaborator")
    user.fails("perms:create", user.username, "-a", app, expect="owns")
    user.fails("perms:create", "no-such-user", "-a", app, expect="user 'no-such-user' not found")

    assert user.ok("perms:delete", friend.username, "-a", app) == f"Removed {friend.username} from {app} collaborators\n"
    friend.fails("config", "-a", app, expect=f"app '{app}' not found")
    user.fails("perms:delete", friend.username, "-a", app, expect="is not a collaborator")
    # the collaborator's change stays in the app's history
    assert user.json("releases", "-a", app)[0]["owner"] == friend.username


def test_admin_grant_and_users_list(controller, new_cli):
    admin, alice, bob = new_cli(controller), new_cli(controller), new_cli(controller)
    admin.register("admin")
    alice.register("alice")
    bob.register("bob")

    alice.fails("users:list", expect="only administrators")
    alice.fails("perms:create", "bob", "--admin", expect="only administrators")
    alice.fails("perms", "--admin", expect="only administrators")
    users = admin.json("users")
    assert [(u["username"], u["is_admin"]) for u in users] == [("admin", True), ("alice", False), ("bob", False)]
    table = admin.ok("users:list")
    assert table.splitlines()[0].split() == ["USERNAME", "EMAIL", "ADMIN"] and "alice@example.com" in table

    bobs_app = bob.create_app()
    alice.fails("info", "-a", bobs_app, expect=f"app '{bobs_app}' not found")
    assert admin.ok("perms:create", "alice", "--admin") == "alice is now an administrator\n"
    assert admin.json("perms:list", "--admin") == {"users": ["admin", "alice"]}
    assert alice.ok("whoami").startswith("You are alice (administrator)")
    # administrators see and manage every app
    assert alice.json("info", "-a", bobs_app)["owner"] == "bob"
    assert bobs_app in {a["id"] for a in alice.json("apps")}
    assert len(alice.json("users")) == 3

    admin.fails("perms:delete", "admin", "--admin", expect="cannot revoke your own")
    assert admin.ok("perms:delete", "alice", "--admin") == "alice is no longer an administrator\n"
    alice.fails("users", expect="only administrators")
    alice.fails("info", "-a", bobs_app, expect=f"app '{bobs_app}' not found")

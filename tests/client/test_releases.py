"""deis pull (builds:create), builds:list, releases, releases:info, rollback, scale."""
from __future__ import annotations

from tests.client.conftest import DeisCLI


def test_pull_builds_and_releases(user: DeisCLI):
    app = user.create_app()
    assert [(r["version"], r["summary"], r["build"]) for r in user.json("releases", "-a", app)] == [
        (1, "created initial release", None)]
    assert user.json("builds:list", "-a", app) == []

    out = user.ok("pull", "registry.example.com/web:1", "-a", app, "--procfile", "web=python3 -m http.server $PORT",
                  "--procfile", "worker=python3 worker.py")
    assert out == f"Creating build... done, {app} v2\n"
    builds = user.json("builds", "-a", app)
    assert len(builds) == 1 and builds[0]["image"] == "registry.example.com/web:1" and builds[0]["kind"] == "image"
    assert builds[0]["procfile"] == {"web": "python3 -m http.server $PORT", "worker": "python3 worker.py"}
    assert "registry.example.com/web:1" in user.ok("builds", "-a", app)

    user.ok("config:set", "A=1", "-a", app)
    user.ok("builds:create", "registry.local:5000/team/api@sha256:" + "ab" * 32, "-a", app)
    releases = user.json("releases", "-a", app)
    assert [(r["version"], r["summary"]) for r in releases] == [
        (4, "deployed registry.local:5000/team/api@sha256:" + "ab" * 32),
        (3, "added A"), (2, "deployed registry.example.com/web:1"), (1, "created initial release")]
    assert all(r["owner"] == user.username for r in releases)
    table = user.ok("releases", "-a", app)
    assert table.startswith(f"=== {app} Releases\n") and "v3" in table and "added A" in table

    info = user.json("releases:info", "v3", "-a", app)
    assert info["version"] == 3 and info["image"] == "registry.example.com/web:1" and info["config_values"] == {"A": "1"}
    assert user.json("releases:info", "2", "-a", app)["config_values"] == {}  # "2" and "v2" both work
    text = user.ok("releases:info", "v3", "-a", app)
    assert f"=== {app} Release v3" in text and "image:    registry.example.com/web:1" in text and "config:   A" in text
    user.fails("releases:info", "v99", "-a", app, expect=f"release v99 of {app} not found")
    user.fails("releases:info", "latest", "-a", app, expect="invalid release version 'latest'")


def test_pull_refusals(user: DeisCLI):
    app = user.create_app()
    user.fails("pull", "Not An Image!", "-a", app, expect="invalid image reference")
    user.fails("pull", "registry.example.com/web:1", "-a", app, "--procfile", "Bad Type=run", expect="invalid process type")
    user.fails("pull", "registry.example.com/web:1", "-a", app, "--procfile", "web", expect="expected TYPE=VALUE")
    user.fails("pull", "registry.example.com/web:1", "-a", app, "--procfile", "web=", expect="non-empty")
    assert [r["version"] for r in user.json("releases", "-a", app)] == [1]


def test_rollback(user: DeisCLI):
    app = user.create_app()
    user.fails("rollback", "-a", app, expect="no earlier release")
    user.ok("pull", "registry.example.com/web:1", "-a", app)            # v2
    user.fails("rollback", "-a", app, expect="cannot roll back to v1: it has no build")
    user.fails("rollback", "v1", "-a", app, expect="no build")
    user.ok("config:set", "A=1", "-a", app)                 # v3
    user.ok("pull", "registry.example.com/web:2", "-a", app)            # v4
    assert user.ok("rollback", "-a", app) == f"Rolling back... done, {app} v5\n"
    v5 = user.json("releases:info", "v5", "-a", app)
    assert v5["summary"] == "rolled back to v3" and v5["image"] == "registry.example.com/web:1" and v5["config_values"] == {"A": "1"}

    assert user.ok("releases:rollback", "v2", "-a", app) == f"Rolling back to v2... done, {app} v6\n"
    v6 = user.json("releases:info", "v6", "-a", app)
    assert v6["summary"] == "rolled back to v2" and v6["image"] == "registry.example.com/web:1" and v6["config_values"] == {}
    user.ok("rollback", "4", "-a", app)
    assert user.json("config", "-a", app) == {"A": "1"}
    user.fails("rollback", "v42", "-a", app, expect="release v42")
    user.fails("rollback", "v0", "-a", app, expect="invalid release version")
    assert [r["version"] for r in user.json("releases", "-a", app)] == [7, 6, 5, 4, 3, 2, 1]


def test_scale(user: DeisCLI):
    app = user.create_app()
    user.fails("scale", "web=1", "-a", app, expect="has no build yet")
    user.ok("pull", "registry.example.com/web:1", "-a", app, "--procfile", "web=serve", "--procfile", "worker=work")
    assert user.json("info", "-a", app)["structure"] == {"web": 1}  # a fresh app gets one web

    out = user.ok("scale", "web=3", "worker=2", "-a", app)
    assert out == "Scaling processes... done\nweb=3 worker=2\n"
    assert user.json("info", "-a", app)["structure"] == {"web": 3, "worker": 2}
    assert user.ok("ps:scale", "worker=0", "-a", app).endswith("web=3 worker=0\n")

    cases = [(["clock=1"], "unknown process type 'clock' (this build has: web, worker)"),
             (["web=-1"], "invalid count '-1' for web"),
             (["web=two"], "invalid count 'two'"),
             (["web=1.5"], "invalid count '1.5'"),
             (["web=²"], "invalid count"),
             (["web=101"], "between 0 and 100"),
             (["web"], "expected TYPE=VALUE")]
    for pairs, message in cases:
        user.fails("scale", *pairs, "-a", app, expect=message)
    assert user.json("info", "-a", app)["structure"] == {"web": 3, "worker": 0}
    assert [r["version"] for r in user.json("releases", "-a", app)] == [2, 1]  # scaling is not a release

"""deis domains:* and limits:*."""
from __future__ import annotations

from tests.client.conftest import DeisCLI, unique


def test_domains(user: DeisCLI, shared_controller, new_cli):
    app = user.create_app()
    domain = f"{unique('www')}.example.com"
    assert user.ok("domains:add", domain, "-a", app) == f"Added {domain} to {app}\n"
    user.ok("domains:add", f"api.{domain}", "-a", app)
    assert [d["domain"] for d in user.json("domains", "-a", app)] == [f"api.{domain}", domain]  # sorted
    assert user.ok("domains", "-a", app).startswith(f"=== {app} Domains\n")
    assert set(user.json("info", "-a", app)["domains"]) == {domain, f"api.{domain}"}

    other = new_cli(shared_controller)
    other.register()
    other_app = other.create_app()
    other.fails("domains:add", domain, "-a", other_app, expect=f"domain {domain} is already in use")
    other.fails("domains:add", "x.example.org", "-a", app, expect=f"app '{app}' not found")
    for bad, message in [("Not A Domain", "invalid domain"), ("UPPER.example.com", "invalid domain"),
                         ("example", "invalid domain"), (f"{app}.deis.localhost", "inside the platform domain")]:
        user.fails("domains:add", bad, "-a", app, expect=message)

    assert user.ok("domains:remove", domain, "-a", app) == f"Removed {domain} from {app}\n"
    user.fails("domains:remove", domain, "-a", app, expect=f"domain {domain} is not attached to {app}")
    assert [d["domain"] for d in user.json("domains:list", "-a", app)] == [f"api.{domain}"]
    # releases are untouched by domains
    assert [r["version"] for r in user.json("releases", "-a", app)] == [1]


def test_limits(user: DeisCLI):
    app = user.create_app()
    assert user.json("limits", "-a", app) == {"memory": {}, "cpu": {}}
    assert "Unlimited" in user.ok("limits:list", "-a", app)

    assert user.ok("limits:set", "web=512m", "worker=1G", "-a", app) == f"Applying limits... done, {app} v2\n"
    assert user.ok("limits:set", "--cpu", "web=0.5", "-a", app) == f"Applying limits... done, {app} v3\n"
    assert user.json("limits", "-a", app) == {"memory": {"web": "512M", "worker": "1G"}, "cpu": {"web": 0.5}}
    text = user.ok("limits", "-a", app)
    assert "--- Memory\nweb 512M\nworker 1G\n--- Cpu\nweb 0.5\n" in text

    user.ok("limits:unset", "worker", "-a", app)
    user.ok("limits:unset", "-c", "web", "-a", app)
    assert user.json("limits", "-a", app) == {"memory": {"web": "512M"}, "cpu": {}}
    summaries = [r["summary"] for r in user.json("releases", "-a", app)][:4]
    assert summaries == ["changed cpu limits for web", "changed memory limits for worker",
                         "changed cpu limits for web", "changed memory limits for web, worker"]

    for args, message in [(["web=lots"], "invalid memory limit of web 'lots'"), (["-c", "web=100"], "between 0.01 and 64"),
                          (["-c", "web=half"], "invalid cpu limit"), (["Web=1G"], "invalid process type"),
                          (["web=512M"], "nothing changed"), (["web"], "expected TYPE=VALUE")]:
        user.fails("limits:set", *args, "-a", app, expect=message)
    assert [r["version"] for r in user.json("releases", "-a", app)][0] == 5

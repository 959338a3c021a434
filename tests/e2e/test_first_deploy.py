"""The README's first session, end to end: deisctl up, deis create, git push, the app answers through the router."""
import docker
import pytest

from router import Router

pytestmark = pytest.mark.slow


def test_push_deploys_and_the_app_answers_through_the_router(live_platform):
    work = live_platform.checkout("python-web")
    app = live_platform.create_app(work)
    info = live_platform.deis("apps:info", cwd=work).ok().output  # the app inferred from the git remote
    assert app in info and f"http://{app}.{live_platform.domain}" in info

    push = live_platform.push(work)
    assert push.returncode == 0, push.output + live_platform.logs()
    assert "-----> Python app detected" in push.output
    assert f"{app} v2 deployed" in push.output
    assert f"http://{app}.{live_platform.domain}" in push.output

    r = live_platform.get(app)
    assert r.status_code == 200, r.text
    assert r.text == f"Hello from {app} (release v2)\n"

    ps = live_platform.deis("ps", cwd=work).ok().output
    assert [line.split()[:3] for line in ps.splitlines() if line.startswith(app)] == \
        [[f"{app}_v2.web.1", "up", "v2"]], ps
    print(push.output, ps, sep="\n")
    # The router reaches the container at its own bridge address (DEIS_LOCAL_UPSTREAMS=bridge), one hop
    # shorter than its published loopback port (the engine's userland proxy).
    network = docker.from_env().api.inspect_container(f"{app}_v2.web.1")["NetworkSettings"]
    bridge = next(n["IPAddress"] for n in network["Networks"].values() if n["IPAddress"])
    assert Router(live_platform.home / "router", 0).route(app).upstreams == (f"{bridge}:5000",)

    assert live_platform.get("no-such-app").status_code == 404

    # deis run: the release's image and config; arguments keep their boundaries; the exit code comes back.
    run = live_platform.deis("run", "--", "python3", "-c", "import os; print(os.environ['DEIS_APP'])", cwd=work)
    assert run.returncode == 0 and run.output.strip().endswith(app), run.output
    assert live_platform.deis("run", "--", "sh", "-c", "exit 3", cwd=work).returncode == 3

"""DEIS_SCHEDULER=swarm end to end: git push, config:set, scale, rollback and ps:restart through the
real CLI, with the app's services on a single-node swarm (a namespace host's own engine) and
continuous requests through the router: zero failed requests."""
import time

import docker
import pytest

from deisctl import cluster
from deiscore.processes import free_port
from scheduler.swarm import ensure_swarm
from tests.e2e.conftest import Load, running_platform

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def swarm_platform(tmp_path_factory):
    root = tmp_path_factory.mktemp("swarm")
    home, registry_port = root / "home", free_port()
    host = cluster.up(home, 1, registry_port, "10.213.41.0/24")[0]
    try:
        ensure_swarm(docker.DockerClient(base_url=f"unix://{host.run}/docker.sock"), host.address)
        with running_platform(root, {"DEIS_SCHEDULER": "swarm", "DEIS_REGISTRY_PORT": str(registry_port),
                                     "DEIS_SWARM_HOST": f"unix://{host.run}/docker.sock"}) as platform:
            yield platform
    finally:
        cluster.down(home)


def test_push_config_scale_rollback_restart_on_swarm(swarm_platform):
    p = swarm_platform
    work = p.checkout("python-web")
    app = p.create_app(work)
    push = p.push(work)
    assert push.returncode == 0, push.output + p.logs()
    assert f"{app} v2 deployed" in push.output
    assert p.get(app).text == f"Hello from {app} (release v2)\n"

    with Load(p, app) as load:
        time.sleep(0.5)
        p.deis("config:set", "GREETING=hi", cwd=work).ok()  # v3
        p.deis("scale", "web=3", cwd=work).ok()
        ps = p.deis("ps", cwd=work).ok().output
        assert sorted(line.split()[1] for line in ps.splitlines() if line.startswith(app)) == ["up"] * 3, ps
        p.deis("rollback", "v2", cwd=work).ok()  # v4
        p.deis("ps:restart", "web", cwd=work).ok()
        p.deis("scale", "web=1", cwd=work).ok()
        time.sleep(0.5)
    print(f"swarm platform: {load.ok} ok, {load.failed} failed")
    assert load.failed == 0, load.errors[:5]
    assert {f"Hello from {app} (release v{n})\n" for n in (2, 3, 4)} <= load.bodies
    assert p.get(app).text == f"Hello from {app} (release v4)\n"
    services = docker.DockerClient(base_url=p.env["DEIS_SWARM_HOST"]).services.list(filters={"name": app})
    assert [s.name for s in services] == [f"{app}_web"]

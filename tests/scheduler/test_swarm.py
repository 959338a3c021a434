"""The Docker Swarm backend on a real single-node swarm: a namespace host's own engine (so this
machine's engine never joins a swarm), images pulled from a real registry, a real nginx router."""
from __future__ import annotations

import time

import docker
import pytest

from deisctl import cluster
from deiscore.processes import free_port, stop_pid
from router import Router
from scheduler import DeployError
from scheduler.swarm import SwarmScheduler, ensure_swarm
from tests.scheduler.conftest import DOMAIN, Load, get
from tests.scheduler.test_scheduler_e2e import release

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def swarm(tmp_path_factory, docker_client, echo_image):
    from builder.registry import start_registry
    from deiscore.settings import load

    home = tmp_path_factory.mktemp("swarm-home")
    settings = load({"DEIS_HOME": str(home), "DEIS_REGISTRY_PORT": str(free_port())})
    registry = start_registry(settings)
    image = f"{settings.registry}/echo:swarm"
    docker_client.images.get(echo_image).tag(image)
    router = Router(home / "router", free_port(), "127.0.0.1", worker_processes=1)
    try:
        for line in docker_client.api.push(image, stream=True, decode=True, auth_config=settings.registry_auth):
            assert "error" not in line, line
        host = cluster.up(home, 1, settings.registry_port, "10.213.40.0/24")[0]
        client = docker.DockerClient(base_url=f"unix://{host.run}/docker.sock")
        ensure_swarm(client, host.address)
        router.start()
        # the swarm's nodes pull with the hosts' (read-only) account, as the platform's would
        yield SwarmScheduler(client, router, home / "state", DOMAIN, "deis-test-swarm", deploy_timeout=120,
                             drain_seconds=1, registry=settings.registry,
                             registry_auth=settings.registry_host_auth), image
    finally:
        router.stop()
        cluster.down(home)
        stop_pid(registry.pid)
        docker_client.images.remove(image)


def test_push_scale_rollback_restart_with_zero_downtime(swarm):
    scheduler, image = swarm
    lines = []
    scheduler.deploy(release(image, 1, app="swarmy"), lines.append)
    assert get(scheduler.router, "swarmy").text == "hello v1", lines
    assert [(p.name, p.state) for p in scheduler.status("swarmy")] == [("swarmy_v1.cmd.1", "up")]

    with Load(scheduler.router, "swarmy", max_seconds=240) as load:
        time.sleep(0.5)
        scheduler.deploy(release(image, 2, app="swarmy", MSG="bonjour"), lines.append)  # config:set
        scheduler.scale(release(image, 2, app="swarmy", MSG="bonjour", scale={"cmd": 3}), lines.append)
        assert sorted(p.state for p in scheduler.status("swarmy")) == ["up", "up", "up"]
        scheduler.deploy(release(image, 3, app="swarmy", scale={"cmd": 3}), lines.append)  # rollback to v1's config
        scheduler.restart(release(image, 3, app="swarmy", scale={"cmd": 3}), "cmd", lines.append)
        scheduler.scale(release(image, 3, app="swarmy", scale={"cmd": 1}), lines.append)
        time.sleep(0.5)
    print(f"swarm: {load.totals.ok} ok, {load.totals.failed} failed during config:set, scale 1->3, rollback, "
          "restart, scale 3->1")
    assert load.totals.failed == 0, load.errors[:5]
    assert {"hello v1", "bonjour v2", "hello v3"} <= load.totals.bodies
    assert get(scheduler.router, "swarmy").text == "hello v3"
    assert [p.release for p in scheduler.status("swarmy")] == [3]


def test_unhealthy_release_rolls_back_and_the_old_one_keeps_serving(swarm):
    scheduler, image = swarm
    scheduler.deploy(release(image, 1, app="sick"))
    with pytest.raises(DeployError, match="rolled back"):
        scheduler.deploy(release(image, 2, app="sick", HEALTH_STATUS="500"))
    assert get(scheduler.router, "sick").text == "hello v1"


def test_logs_run_and_destroy(swarm):
    scheduler, image = swarm
    scheduler.deploy(release(image, 1, app="chatty"))
    assert any("chatty[cmd.1]: listening on 5000" in line for line in scheduler.logs("chatty", lines=50))
    out = []
    assert scheduler.run(release(image, 1, app="chatty"), ["sh", "-c", "echo $MSG; exit 7"], out.append) == 7
    assert b"".join(out).decode().strip() == "hello"
    assert scheduler.destroy("chatty") == ["chatty_cmd"]
    assert get(scheduler.router, "chatty").status_code == 404

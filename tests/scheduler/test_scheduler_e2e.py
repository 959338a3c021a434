"""End to end: real Docker containers behind a real nginx router."""
from __future__ import annotations

import secrets
import threading
import time

import pytest

from scheduler import DeployError, InvalidSpec, ReleaseSpec, Superseded
from scheduler.containers import CAPABILITIES, plan_process
from scheduler.networks import network_name
from scheduler.reconcile import reconcile_once
from tests.scheduler.conftest import Load, get

pytestmark = pytest.mark.slow

# Container names are global to the engine: a run killed half-way must not break the next one.
APP = f"shop{secrets.token_hex(3)}"


# Linux capability numbers (linux/capability.h) of the ones apps keep.
CAP_BITS = {"CHOWN": 0, "DAC_OVERRIDE": 1, "FOWNER": 3, "FSETID": 4, "KILL": 5, "SETGID": 6, "SETUID": 7,
            "NET_BIND_SERVICE": 10}


def release(image, version, app=APP, scale=None, **config):
    return ReleaseSpec(app=app, version=version, image=image, kind="image",
                       procfile={"worker": "echo working; exec sleep 600"},
                       config={"MSG": "hello", **config}, scale=scale or {"cmd": 1},
                       healthcheck={"path": "/healthz", "interval": 0.1})


def test_deploy_then_cutover_under_load(scheduler, router, echo_image):
    lines = []
    result = scheduler.deploy(release(echo_image, 1, scale={"cmd": 1, "worker": 1}), lines.append)
    assert get(router, APP).text == "hello v1"
    assert get(router, APP, "/env/DEIS_APP").text == APP
    assert result.started == (f"{APP}_v1.cmd.1", f"{APP}_v1.worker.1")
    assert any("is healthy" in line for line in lines) and lines[-1].startswith(f"{APP} v1 is running")

    with Load(router, APP) as load:
        time.sleep(0.3)
        scheduler.deploy(release(echo_image, 2, MSG="bonjour"), lines.append)
        time.sleep(0.3)
    print(f"cutover v1->v2: {load.totals.ok} ok, {load.totals.failed} failed")
    assert load.totals.failed == 0, load.errors[:5]
    assert load.totals.bodies == {"hello v1", "bonjour v2"}
    assert get(router, APP).text == "bonjour v2"
    status = scheduler.status(APP)
    assert [(s.name, s.state, s.release) for s in status] == [(f"{APP}_v2.cmd.1", "up", 2)]
    assert status[0].address == router.route(APP).upstreams[0]


def test_container_settings_limits_and_health_check_host(scheduler, router, echo_image, docker_client):
    spec = ReleaseSpec(app=APP, version=3, image=echo_image, kind="image", procfile={"worker": "exec sleep 600"},
                       config={"MSG": "hi", "PORT": "1"}, scale={"cmd": 1, "worker": 1},
                       limits={"cmd": {"memory": "64m", "cpu": 0.5}},
                       healthcheck={"path": "/healthz", "interval": 0.1})
    # The check is sent with the app's Host header: the app refuses any other host with 421.
    scheduler.deploy(ReleaseSpec(**{**spec.__dict__, "config": {**spec.config, "HEALTH_HOST": f"{APP}.deis.test"}}))
    web = docker_client.api.inspect_container(f"{APP}_v3.cmd.1")
    assert web["HostConfig"]["Memory"] == 64 * 1024 ** 2 and web["HostConfig"]["NanoCpus"] == 500_000_000
    assert web["HostConfig"]["Init"] is True and not web["HostConfig"]["Privileged"]
    assert web["Config"]["Labels"]["deis.app"] == APP and web["Config"]["Labels"]["deis.release"] == "3"
    assert web["Config"]["Labels"]["deis.type"] == "cmd" and web["Config"]["Labels"]["deis.num"] == "1"
    env = dict(item.split("=", 1) for item in web["Config"]["Env"])
    assert env["PORT"] == "5000" and env["DEIS_APP"] == APP and env["DEIS_RELEASE"] == "v3" and env["MSG"] == "hi"
    assert web["NetworkSettings"]["Ports"]["5000/tcp"][0]["HostIp"] == "127.0.0.1"
    assert 20000 <= int(web["NetworkSettings"]["Ports"]["5000/tcp"][0]["HostPort"]) <= 29999
    worker = docker_client.api.inspect_container(f"{APP}_v3.worker.1")
    # No limit of its own: the platform's default, which placement reserves too.
    assert worker["HostConfig"]["Memory"] == 512 * 1024 ** 2 and not worker["NetworkSettings"]["Ports"]
    for container in (web, worker):
        config = container["HostConfig"]
        assert config["SecurityOpt"] == ["no-new-privileges"]
        assert config["CapDrop"] == ["ALL"] and "NET_RAW" not in config["CapAdd"]
        assert sorted(config["CapAdd"]) == sorted(CAPABILITIES)
        assert config["PidsLimit"] == 1024 and config["MemorySwap"] == config["Memory"]
        assert config["LogConfig"] == {"Type": "json-file", "Config": {"max-size": "10m", "max-file": "3"}}
        assert list(container["NetworkSettings"]["Networks"]) == [network_name(scheduler.hosts["local"].platform, APP)]
    # Inside, the kernel agrees: no capability beyond the allowed ones, and no way to gain any.
    status = docker_client.containers.get(worker["Id"]).exec_run(["cat", "/proc/1/status"]).output.decode()
    fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
    assert int(fields["CapBnd"], 16) == sum(1 << CAP_BITS[c] for c in CAPABILITIES)
    assert fields["NoNewPrivs"].strip() == "1"
    with pytest.raises(DeployError) as info:
        scheduler.deploy(ReleaseSpec(**{**spec.__dict__, "version": 4, "config": {"HEALTH_HOST": "other.test"}}))
    assert "answered 421, expected 200" in str(info.value)
    assert get(router, APP).text == "hi v3"


def test_scale_up_down_and_restart_under_load(scheduler, router, echo_image):
    spec = release(echo_image, 1)
    scheduler.deploy(spec)
    first = scheduler.status(APP)[0]
    with Load(router, APP) as load:
        scheduler.scale(release(echo_image, 1, scale={"cmd": 3}))
        assert len(router.route(APP).upstreams) == 3
        scheduler.scale(release(echo_image, 1, scale={"cmd": 1}))
        scheduler.restart(spec, "cmd")
        time.sleep(0.3)
    print(f"scale 1->3->1 and restart: {load.totals.ok} ok, {load.totals.failed} failed")
    assert load.totals.failed == 0, load.errors[:5]
    status = scheduler.status(APP)
    assert [s.name for s in status] == [f"{APP}_v1.cmd.1"]
    assert status[0].address != first.address  # a fresh container took the canonical name
    with pytest.raises(InvalidSpec):
        scheduler.restart(spec, "cmd.7")
    scheduler.scale(release(echo_image, 1, scale={"cmd": 0}))
    assert get(router, APP).status_code == 503
    assert scheduler.status(APP) == []


def test_failed_health_check_keeps_old_release(scheduler, router, echo_image):
    scheduler.deploy(release(echo_image, 1))
    with pytest.raises(DeployError) as info:
        scheduler.deploy(release(echo_image, 2, HEALTH_STATUS="500"))
    assert "answered 500, expected 200" in str(info.value)
    assert "booting v2" in str(info.value)  # the new container's last log lines
    with pytest.raises(DeployError) as crashed:
        scheduler.deploy(release(echo_image, 3, CRASH="1"))
    assert "exited with code 3" in str(crashed.value) and "boom: CRASH is set" in str(crashed.value)
    assert get(router, APP).text == "hello v1"
    assert [s.name for s in scheduler.status(APP)] == [f"{APP}_v1.cmd.1"]
    scheduler.deploy(release(echo_image, 4))
    assert get(router, APP).text == "hello v4"


def test_killed_container_is_replaced_by_reconcile(scheduler, router, echo_image, docker_client):
    spec = release(echo_image, 1, scale={"cmd": 2})
    scheduler.deploy(spec)
    victim = scheduler.status(APP)[0]
    docker_client.containers.get(victim.name).kill()
    assert [s.state for s in scheduler.status(APP)] == ["crashed", "up"]
    began = time.monotonic()
    report = reconcile_once(scheduler, [spec])
    print(f"replaced in {time.monotonic() - began:.2f}s: {report}")
    assert report.restarted == [victim.name]
    status = scheduler.status(APP)
    assert [(s.state, s.restarts) for s in status] == [("up", 1), ("up", 0)]
    assert sorted(router.route(APP).upstreams) == sorted(s.address for s in status)
    for _ in range(4):
        assert get(router, APP).text == "hello v1"
    # A second crash right away is held back by the backoff and stays visible as crashed.
    docker_client.containers.get(victim.name).kill()
    report = reconcile_once(scheduler, [spec])
    assert report.backing_off == [f"{APP} cmd.1"]
    assert scheduler.status(APP)[0].state == "crashed"


def test_failed_release_is_not_retried_and_deployed_one_is_repaired(scheduler, router, echo_image,
                                                                    docker_client):
    scheduler.deploy(release(echo_image, 1, scale={"cmd": 2}))
    failing = release(echo_image, 2, scale={"cmd": 2}, HEALTH_STATUS="500")
    with pytest.raises(DeployError):
        scheduler.deploy(failing)
    victim = scheduler.status(APP)[1]
    docker_client.containers.get(victim.name).kill()
    # The controller's desired release is the failed v2: reconcile keeps v1 healthy instead of retrying v2.
    report = reconcile_once(scheduler, [failing])
    assert report.deployed == [] and report.restarted == [victim.name] and not report.errors
    assert [(s.release, s.state) for s in scheduler.status(APP)] == [(1, "up"), (1, "up")]
    assert get(router, APP).text == "hello v1"
    events = scheduler.events(APP)
    assert any(f"{victim.type}.{victim.num} (v1) exited with code 137; restart 1" in line for line in events), events
    assert all("[deis-scheduler]: " in line for line in events)
    scheduler.deploy(release(echo_image, 3, scale={"cmd": 2}))  # the next change deploys again
    assert get(router, APP).text == "hello v3"


def test_reconcile_removes_leftovers_and_deploys_missed_release(scheduler, router, echo_image, docker_client):
    scheduler.deploy(release(echo_image, 1))
    # Leftover of an interrupted deploy, and a release that was never deployed.
    host = scheduler.hosts["local"]
    host.run(plan_process(release(echo_image, 9), "cmd", 1, host.platform))
    report = reconcile_once(scheduler, [release(echo_image, 1)])
    assert report.stopped == [f"{APP}_v9.cmd.1"]
    report = reconcile_once(scheduler, [release(echo_image, 2)])
    assert report.deployed == [f"{APP} v2"]
    assert get(router, APP).text == "hello v2"
    with pytest.raises(Superseded):
        scheduler.deploy(release(echo_image, 1))


def test_burst_of_deploys_ends_with_latest(scheduler, router, echo_image):
    errors = []

    def deploy(version):
        try:
            scheduler.deploy(release(echo_image, version))
        except Superseded as exc:
            errors.append(exc)

    threads = [threading.Thread(target=deploy, args=(v,)) for v in (1, 2, 3, 4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert get(router, APP).text == "hello v4"
    assert [s.name for s in scheduler.status(APP)] == [f"{APP}_v4.cmd.1"]


def test_run_logs_and_destroy(scheduler, router, echo_image):
    spec = release(echo_image, 1, scale={"cmd": 1, "worker": 1})
    scheduler.deploy(spec)
    output = []
    code = scheduler.run(spec, ["sh", "-c", 'echo "app=$DEIS_APP msg=$MSG"; exit 7'], output.append)
    assert code == 7 and b"".join(output) == f"app={APP} msg=hello\n".encode()
    assert scheduler.run(spec, "sleep 30", output.append, timeout=1) == 124
    assert [s.type for s in scheduler.status(APP)] == ["cmd", "worker"]  # one-offs are gone
    logs = list(scheduler.logs(APP, lines=10))
    assert any(line.endswith(f"{APP}[worker.1]: working") for line in logs)
    assert any(f"{APP}[cmd.1]: booting v1" in line for line in logs)
    follower = scheduler.logs(APP, lines=0, follow=True)
    found = []

    def read():
        for line in follower:
            found.append(line)
            if "booting v2" in line:
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    scheduler.deploy(release(echo_image, 2, scale={"cmd": 1, "worker": 1}))
    reader.join(timeout=10)
    follower.close()
    assert any(f"{APP}[cmd.1]: booting v2" in line for line in found), found
    assert sorted(scheduler.destroy(APP)) == [f"{APP}_v2.cmd.1", f"{APP}_v2.worker.1"]
    assert scheduler.status(APP) == [] and router.route(APP) is None
    assert get(router, APP).status_code == 404

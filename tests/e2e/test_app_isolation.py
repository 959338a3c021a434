"""Tenant isolation, as an app would try it: from inside a pushed buildpack app's container, the
platform's services (controller, builder, Redis, registry, the engine) and another app's container
are out of reach, the router is not; the container is hardened and runs as a user owning /app."""
import json

import docker
import pytest

from scheduler.containers import LABEL_APP, LABEL_PLATFORM
from scheduler.scheduler import platform_id

pytestmark = pytest.mark.slow

PROBE = """
import json, socket, sys
result = {}
for address, port in json.loads(sys.argv[1]):
    try:
        socket.create_connection((address, port), 2).close()
        result[str(port)] = "open"
    except OSError as exc:
        result[str(port)] = type(exc).__name__
print(json.dumps(result))
"""


def web_container(platform, app: str):
    client = docker.from_env()
    (container,) = client.containers.list(filters={"label": [f"{LABEL_PLATFORM}={platform_id(platform.home)}",
                                                             f"{LABEL_APP}={app}"]})
    return container


def test_a_buildpack_app_is_hardened_and_reaches_only_the_router(live_platform):
    apps = []
    for _ in range(2):
        work = live_platform.checkout("python-web")
        app = live_platform.create_app(work)
        push = live_platform.push(work)
        assert push.returncode == 0, push.output + live_platform.logs()
        apps.append(app)
    alice, bob = (web_container(live_platform, app) for app in apps)

    attrs = alice.attrs
    assert attrs["Config"]["User"] == "1000:1000"
    host_config = attrs["HostConfig"]
    assert host_config["SecurityOpt"] == ["no-new-privileges"] and host_config["CapDrop"] == ["ALL"]
    assert "NET_RAW" not in host_config["CapAdd"] and host_config["PidsLimit"] == 1024
    assert host_config["Memory"] == 512 * 1024 ** 2  # no `deis limits:set`: the platform's default
    assert host_config["LogConfig"]["Config"] == {"max-size": "10m", "max-file": "3"}
    who = alice.exec_run(["sh", "-c", "id -un; touch /app/written && echo wrote"])
    assert who.output.decode().split() == ["u", "wrote"], who.output

    (network,) = attrs["NetworkSettings"]["Networks"].values()
    gateway = network["Gateway"]
    (bob_network,) = bob.attrs["NetworkSettings"]["Networks"].values()
    env = live_platform.env
    ports = {"controller": int(env["DEIS_CONTROLLER_PORT"]), "builder": int(env["DEIS_BUILDER_PORT"]),
             "redis": int(env["DEIS_REDIS_PORT"]), "registry": int(env["DEIS_REGISTRY_PORT"]),
             "engine": 2375, "sshd": 22}
    targets = [(gateway, port) for port in ports.values()] + [(gateway, live_platform.router_port)]
    seen = json.loads(alice.exec_run(["python3", "-c", PROBE, json.dumps(targets)]).output)
    assert seen.pop(str(live_platform.router_port)) == "open", seen
    assert all(verdict != "open" for verdict in seen.values()), seen
    other = json.loads(alice.exec_run(["python3", "-c", PROBE, json.dumps([(bob_network["IPAddress"], 5000)])]).output)
    assert other == {"5000": "TimeoutError"}, other
    assert alice.exec_run(["test", "-e", "/var/run/docker.sock"]).exit_code != 0

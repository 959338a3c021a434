"""Tenant isolation, as an app would try it: from inside a pushed buildpack app's container, the
platform's services (controller, builder, Redis, registry, the engine) and another app's container
are out of reach, the router is not; the container is hardened and runs as a user owning /app."""
import json

import docker
import pytest

from scheduler.containers import LABEL_APP, LABEL_PLATFORM
from scheduler.scheduler import platform_id
from tests.e2e.conftest import commit

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


GATEWAY_PROBE = PROBE.replace("import json, socket, sys", """import json, socket, struct, sys
def gateway():
    for line in open("/proc/net/route").read().splitlines()[1:]:
        fields = line.split()
        if fields[1] == "00000000":
            return socket.inet_ntoa(struct.pack("<L", int(fields[2], 16)))""").replace(
    "for address, port in json.loads(sys.argv[1]):", "for port in json.loads(sys.argv[1]):\n    address = gateway()"
).replace("print(json.dumps(result))", 'print("probe:", json.dumps(result))')


def test_a_build_runs_walled_off_like_the_app(live_platform):
    """A build runs the app's own code (a Dockerfile's RUN, a package's install scripts): it gets the
    app's network, so the platform's services are out of its reach as well."""
    env = live_platform.env
    ports = [int(env[name]) for name in ("DEIS_CONTROLLER_PORT", "DEIS_BUILDER_PORT", "DEIS_REDIS_PORT",
                                         "DEIS_REGISTRY_PORT")] + [live_platform.router_port]
    work = live_platform.checkout("dockerfile-app")
    (work / "probe.py").write_text(GATEWAY_PROBE)
    (work / "Dockerfile").write_text(
        f"FROM {env.get('DEIS_STACK_IMAGE', 'deis/stack:bookworm')}\n"
        "COPY probe.py /probe.py\n"
        f"RUN python3 /probe.py '{json.dumps(ports)}'\n"
        'CMD ["python3", "-m", "http.server", "5000"]\n')
    commit(work, "probe the platform from the build")
    live_platform.create_app(work)
    push = live_platform.push(work)
    assert push.returncode == 0, push.output + live_platform.logs()
    line = next(line for line in push.output.splitlines() if "probe: {" in line)
    seen = json.loads(line.split("probe: ", 1)[1])
    assert seen.pop(str(live_platform.router_port)) == "open", seen
    assert seen and all(verdict != "open" for verdict in seen.values()), seen

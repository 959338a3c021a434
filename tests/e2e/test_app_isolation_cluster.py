"""Tenant isolation across the namespace cluster: an app container on one host reaches neither other
hosts' published ports and sshd nor the platform machine's services, only the router port."""
import json
import subprocess

import docker
import pytest

from deisctl import cluster
from tests.e2e.conftest import running_cluster

pytestmark = pytest.mark.slow

SUBNET = "10.213.43.0/24"  # apart from the cluster platform test's, so both can run at once
# Tries each (address, port) from inside a container; prints {"address:port": "open" | error name}.
PROBE = """
import json, socket, sys
result = {}
for address, port in json.loads(sys.argv[1]):
    try:
        socket.create_connection((address, port), 2).close()
        result[f"{address}:{port}"] = "open"
    except OSError as exc:
        result[f"{address}:{port}"] = type(exc).__name__
print(json.dumps(result))
"""


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    with running_cluster(tmp_path_factory.mktemp("isolation-hosts"), SUBNET, hosts=2) as p:
        yield p


def web_containers(host, app: str) -> list:
    client = docker.DockerClient(base_url=f"unix://{host.run}/docker.sock")
    return client.containers.list(filters={"label": f"deis.app={app}"})


def test_an_app_on_one_host_reaches_only_the_router_of_the_platform_network(platform):
    work = platform.checkout("python-web")
    app = platform.create_app(work)
    push = platform.push(work)
    assert push.returncode == 0, push.output + platform.logs()
    platform.deis("scale", "web=2", cwd=work).ok()
    _, hosts = cluster.load(platform.home)
    h1, h2 = hosts
    (here,), (there,) = web_containers(h1, app), web_containers(h2, app)
    published = int(there.attrs["NetworkSettings"]["Ports"]["5000/tcp"][0]["HostPort"])
    assert 20000 <= published <= 29999
    gateway = SUBNET.replace("0/24", "1")  # the platform machine on the cluster bridge
    env = platform.env
    refused = {"h2 published port": (h2.address, published), "h2 sshd": (h2.address, 22),
               "own sshd": (h1.address, 22),
               "controller": (gateway, int(env["DEIS_CONTROLLER_PORT"])),
               "builder": (gateway, int(env["DEIS_BUILDER_PORT"])),
               "registry": (gateway, int(env["DEIS_REGISTRY_PORT"]))}
    targets = list(refused.values()) + [(gateway, platform.router_port)]
    seen = json.loads(here.exec_run(["python3", "-c", PROBE, json.dumps(targets)]).output)
    assert seen.pop(f"{gateway}:{platform.router_port}") == "open", seen
    assert all(verdict != "open" for verdict in seen.values()) and len(seen) == len(refused), seen
    # The router itself still reaches both hosts' containers through those published ports.
    assert {platform.get(app).status_code for _ in range(4)} == {200}
    # And the rules are the ones provision.sh installed on the host.
    rules = subprocess.run(["nsenter", f"--net=/run/netns/{h1.netns}", "iptables", "-S", "DEIS-ISOLATION-FWD"],
                           capture_output=True, text=True, check=True).stdout
    assert f"-d {SUBNET} -p tcp -m tcp --dport {platform.router_port} -j RETURN" in rules

"""Apps see only the outside world and their own containers (real Docker, real iptables): a network
per app, the hosts' services closed to app containers, published ports that cannot cross apps."""
from __future__ import annotations

import ipaddress
import json
import random
import re
import secrets
import socket
import subprocess
from contextlib import ExitStack

import pytest

from scheduler import Host, ReleaseSpec, Scheduler, firewall
from scheduler.hostscripts import script
from scheduler.networks import BRIDGE_PREFIX, bridge_name, network_name
from tests.scheduler.conftest import DOMAIN, get

pytestmark = pytest.mark.slow

PLATFORM_NET = "10.213.0.0/24"
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


def release(image, app, version=1, scale=None):
    return ReleaseSpec(app=app, version=version, image=image, kind="image", config={"MSG": app},
                       scale=scale or {"cmd": 1}, healthcheck={"path": "/healthz", "interval": 0.1})


def listener() -> socket.socket:
    """A service of this machine listening on every address (like the controller on 0.0.0.0)."""
    server = socket.socket()
    server.bind(("0.0.0.0", 0))
    server.listen(16)
    return server


def probe(docker_client, container_id: str, targets: list[tuple[str, int]]) -> dict[str, str]:
    result = docker_client.containers.get(container_id).exec_run(["python3", "-c", PROBE, json.dumps(targets)])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def network_of(docker_client, container_id: str) -> tuple[str, dict]:
    networks = docker_client.api.inspect_container(container_id)["NetworkSettings"]["Networks"]
    assert len(networks) == 1, networks
    return next(iter(networks.items()))


def test_apps_reach_only_their_own_containers_and_the_router_port(scheduler, router, echo_image, docker_client,
                                                                   platform):
    alice, bob = f"alice{secrets.token_hex(3)}", f"bob{secrets.token_hex(3)}"
    with ExitStack() as stack:
        router_stand_in = stack.enter_context(listener())  # the real router listens on loopback in these tests
        services = [stack.enter_context(listener()) for _ in range(4)]  # controller, builder, Redis, registry
        firewall.install([router_stand_in.getsockname()[1]], PLATFORM_NET)
        stack.callback(firewall.install, [router_stand_in.getsockname()[1]], PLATFORM_NET, remove=True)

        scheduler.deploy(release(echo_image, alice, scale={"cmd": 2}))
        scheduler.deploy(release(echo_image, bob))
        assert get(router, alice).text == f"{alice} v1" and get(router, bob).text == f"{bob} v1"
        a1, a2 = sorted(c.id for c in scheduler.containers(alice))
        (b1,) = [c.id for c in scheduler.containers(bob)]

        # One network per app, its bridge named for the firewall, its subnet from the platform's pool.
        a_net, a_endpoint = network_of(docker_client, a1)
        b_net, b_endpoint = network_of(docker_client, b1)
        assert (a_net, b_net) == (network_name(platform, alice), network_name(platform, bob))
        assert network_of(docker_client, a2)[0] == a_net
        for app, name in ((alice, a_net), (bob, b_net)):
            attrs = docker_client.api.inspect_network(name)
            bridge = attrs["Options"]["com.docker.network.bridge.name"]
            assert bridge == bridge_name(platform, app) and bridge.startswith(BRIDGE_PREFIX) and len(bridge) <= 15
            assert attrs["Labels"] == {"deis.platform": platform, "deis.app": app}
            subnet = ipaddress.ip_network(attrs["IPAM"]["Config"][0]["Subnet"])
            assert subnet.subnet_of(ipaddress.ip_network("10.224.0.0/12")) and subnet.prefixlen == 24
        gateway = a_endpoint["Gateway"]

        targets = [(network_of(docker_client, a2)[1]["IPAddress"], 5000),  # alice's other container
                   (b_endpoint["IPAddress"], 5000),  # bob's container
                   (gateway, router_stand_in.getsockname()[1]),
                   *[(gateway, s.getsockname()[1]) for s in services],
                   (gateway, 2375), (gateway, 2376), (gateway, 22)]  # the engine's TCP ports, sshd
        seen = probe(docker_client, a1, targets)
        verdicts = [seen[f"{address}:{port}"] for address, port in targets]
        assert verdicts[0] == "open" and verdicts[2] == "open", seen
        assert all(v != "open" for v in verdicts[1:2] + verdicts[3:]), seen
        sock = docker_client.containers.get(a1).exec_run(["python3", "-c", "import os; print(os.path.exists("
                                                          "'/var/run/docker.sock'))"])
        assert sock.output.strip() == b"False"

        # Destroying an app removes its network on every host; the other app's stays.
        scheduler.destroy(bob)
        assert docker_client.networks.list(filters={"label": f"deis.app={bob}"}) == []
        assert docker_client.networks.list(names=[a_net])


@pytest.fixture
def ports():
    """A range of three host ports outside the platform's default range (so parallel runs do not meet)."""
    low = random.randrange(30000, 32000, 3)
    return low, low + 2


def test_a_port_still_routed_to_one_app_is_never_given_to_another(docker_client, router, platform, tmp_path,
                                                                   echo_image, ports):
    host = Host("local", docker_client, "127.0.0.1", platform=platform, ports=ports)
    scheduler = Scheduler([host], router, tmp_path / "state", DOMAIN, health_timeout=8, drain_seconds=0.2,
                          stop_timeout=2)
    alice, bob = f"alice{secrets.token_hex(3)}", f"bob{secrets.token_hex(3)}"
    scheduler.deploy(release(echo_image, alice))
    (routed,) = router.route(alice).upstreams
    docker_client.api.kill(scheduler.containers(alice)[0].id)  # dead, but still in alice's route
    for version in (1, 2, 3, 4):  # bob's cutovers need two ports at once: the two alice's route does not hold
        scheduler.deploy(release(echo_image, bob, version))
        (upstream,) = router.route(bob).upstreams
        assert upstream != routed and ports[0] <= int(upstream.rsplit(":", 1)[1]) <= ports[1]
        assert get(router, bob).text == f"{bob} v{version}"


def test_a_port_taken_by_something_else_is_retried(docker_client, router, platform, tmp_path, echo_image, ports):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", ports[0]))
        squatter.listen(1)
        host = Host("local", docker_client, "127.0.0.1", platform=platform, ports=(ports[0], ports[0] + 1))
        scheduler = Scheduler([host], router, tmp_path / "state", DOMAIN, health_timeout=8, drain_seconds=0.2)
        for _ in range(3):  # whichever port is tried first, the container ends up on the free one
            app = f"carol{secrets.token_hex(3)}"
            scheduler.deploy(release(echo_image, app))
            assert router.route(app).upstreams == (f"127.0.0.1:{ports[0] + 1}",)
            scheduler.destroy(app)


def test_firewall_script_covers_the_app_bridges():
    """The shell script and the scheduler agree on the bridges' interface names."""
    assert re.search(r'^BRIDGES="(.*)"$', script("firewall.sh").read_text(), re.M).group(1) == BRIDGE_PREFIX + "+"


def test_firewall_is_idempotent_and_a_platform_removes_only_its_ports():
    """In a scratch network namespace: installing twice adds nothing, refusals stay last, and one
    platform's removal leaves the other's router port and the refusals in place."""
    netns = f"deis-fwtest-{secrets.token_hex(3)}"
    subprocess.run(["ip", "netns", "add", netns], check=True)
    try:
        def apply(*args):
            subprocess.run(["nsenter", f"--net=/run/netns/{netns}", *firewall.command(*args)], check=True,
                           capture_output=True)

        def rules(chain):
            return subprocess.run(["nsenter", f"--net=/run/netns/{netns}", "iptables", "-S", chain], check=True,
                                  capture_output=True, text=True).stdout.splitlines()[1:]

        for ports in ([8080], [8080], [9090]):
            apply(ports, "10.9.0.0/24")
        input_rules, forward_rules = rules("DEIS-ISOLATION"), rules("DEIS-ISOLATION-FWD")
        assert len(input_rules) == len(set(input_rules)) == 4
        assert input_rules[-1] == "-A DEIS-ISOLATION -j REJECT --reject-with icmp-port-unreachable"
        assert len(forward_rules) == 4 and "-d 10.9.0.0/24 -j REJECT" in forward_rules[-1]
        assert rules("INPUT") == ["-A INPUT -i dapp+ -j DEIS-ISOLATION"]
        assert rules("DOCKER-USER") == ["-A DOCKER-USER -i dapp+ -j DEIS-ISOLATION-FWD"]
        apply([8080], "10.9.0.0/24", True)
        assert not any("8080" in r for r in rules("DEIS-ISOLATION") + rules("DEIS-ISOLATION-FWD"))
        assert any("9090" in r for r in rules("DEIS-ISOLATION")) and len(rules("DEIS-ISOLATION")) == 3
    finally:
        subprocess.run(["ip", "netns", "del", netns], check=True)

"""``deis hosts`` probes each host through the scheduler's own code (its engine client and container
listing), here against this machine's real Docker Engine."""
from __future__ import annotations

import secrets

import docker
import pytest

from controller.hosts import probe
from controller.models import Host
from scheduler.containers import LABEL_APP, LABEL_MEMORY, LABEL_PLATFORM
from tests.scheduler.echoapp import build_echo_image

MIB = 1024 ** 2


@pytest.fixture
def platform(docker_client):
    label = f"deis-test-{secrets.token_hex(4)}"
    try:
        yield label
    finally:
        for platform_label in (label, f"{label}-other"):
            for container in docker_client.containers.list(all=True,
                                                           filters={"label": f"{LABEL_PLATFORM}={platform_label}"}):
                container.remove(force=True)


def _host(draining: bool = False) -> Host:
    return Host(name="h1", url="ssh://root@10.0.0.9", address="10.0.0.9", port=22, username="root",
                host_key="ssh-ed25519 AAAA", memory=1 << 30, tags={}, draining=draining)


def test_probe_counts_running_containers_and_their_reservations(docker_client, platform):
    image = build_echo_image(docker_client)
    labels = {LABEL_PLATFORM: platform, LABEL_APP: "probed", LABEL_MEMORY: str(64 * MIB)}
    docker_client.containers.run(image, ["sleep", "60"], detach=True, labels=labels)
    docker_client.containers.run(image, ["python3", "-c", "pass"], detach=True,
                                 labels={**labels, LABEL_APP: "exited"}).wait(timeout=30)
    docker_client.containers.run(image, ["sleep", "60"], detach=True, auto_remove=True,
                                 labels={LABEL_PLATFORM: f"{platform}-other", LABEL_APP: "x"})
    seen = []

    def connect(record, timeout):
        seen.append((record.name, record.url, timeout))
        return docker.from_env()

    assert probe(_host(), connect, platform) == {"state": "up", "containers": 1, "memory_used": 64 * MIB,
                                                 "apps": ["probed"]}
    assert seen == [("h1", "ssh://root@10.0.0.9", 5.0)]
    assert probe(_host(draining=True), connect, platform)["state"] == "draining"


def test_an_unreachable_host_is_down():
    def connect(record, timeout):
        raise OSError("No route to host")

    state = probe(_host(), connect, "deis-test")
    assert state["state"] == "down" and state["containers"] is None and "No route" in state["error"]

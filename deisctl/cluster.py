"""A multi-host cluster on this machine: each host a network namespace running its own ``dockerd``
and ``sshd``, provisioned by the same script as the Vagrant VMs (``provision.sh``, shipped in
:mod:`scheduler.hostscripts`).

Layout (one cluster per ``DEIS_HOME``; names carry a short id of it so two platforms never clash):
a bridge ``dbr-<id>`` with the first address of ``DEIS_CLUSTER_SUBNET`` on this machine, and host
``i`` in namespace ``deis-<id>-h<i>`` at the subnet's address ``10 + i``, joined to the bridge by
a veth pair. Daemons start with ``nsenter --net`` (``ip netns exec`` remounts /sys, and dockerd
then fails). The platform's SSH key lives under ``$DEIS_HOME/ssh``; the hosts' keys are pinned when
they are registered with the controller.
"""
from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import os
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from deiscore.processes import read_pid, spawn, stop_pid, stop_pidfile
from deiscore.settings import REGISTRY_HOST_USER
from scheduler.hostscripts import script
from scheduler.ssh import platform_key

log = logging.getLogger(__name__)

DEFAULT_SUBNET = "10.213.0.0/24"
HOST_BIP = "10.214.0.1/24"  # every host's docker0 lives inside its own namespace, so one range serves all


class ClusterError(Exception):
    pass


@dataclass(frozen=True)
class ClusterHost:
    name: str
    netns: str
    veth: str
    address: str
    state: str  # configuration, images and logs
    run: str  # sockets and pid files (short: unix socket paths are limited)

    @property
    def ssh_url(self) -> str:
        return f"ssh://root@{self.address}"

    def host_key(self) -> str:
        """The SSH host key its provisioning generated, ``"<type> <base64>"``: what the platform pins."""
        return " ".join((Path(self.state) / "ssh" / "ssh_host_ed25519_key.pub").read_text().split()[:2])


def cluster_id(home: Path) -> str:
    return hashlib.sha256(str(Path(home).resolve()).encode()).hexdigest()[:4]


def plan(home: Path, count: int, subnet: str = DEFAULT_SUBNET) -> tuple[str, str, list[ClusterHost]]:
    """Pure: the bridge name, its address (CIDR) and the hosts of a cluster of ``count`` hosts."""
    net = ipaddress.ip_network(subnet)
    if not 1 <= count <= min(net.num_addresses - 12, 50):
        raise ClusterError(f"--hosts must be between 1 and {min(net.num_addresses - 12, 50)} for {subnet}")
    cid = cluster_id(home)
    bridge_cidr = f"{net.network_address + 1}/{net.prefixlen}"
    hosts = [ClusterHost(name=f"h{i}", netns=f"deis-{cid}-h{i}", veth=f"dv{cid}h{i}",
                         address=str(net.network_address + 10 + i),
                         state=str(Path(home) / "cluster" / f"h{i}"), run=f"/run/deis/{cid}-h{i}")
             for i in range(1, count + 1)]
    return f"dbr-{cid}", bridge_cidr, hosts


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and result.returncode != 0:
        raise ClusterError(f"ip {' '.join(args)}: {result.stderr.strip()}")
    return result


def _link_exists(name: str, netns: str | None = None) -> bool:
    prefix = ["-n", netns] if netns else []
    return _ip(*prefix, "link", "show", name, check=False).returncode == 0


def up(home: Path, count: int, registry_port: int, subnet: str = DEFAULT_SUBNET,
       router_port: int = 80) -> list[ClusterHost]:
    """Create (or complete) the cluster; idempotent. Returns its hosts. Their app containers may reach
    the platform's private network (``subnet``) only at ``router_port``."""
    bridge, bridge_cidr, hosts = plan(home, count, subnet)
    registry = f"{bridge_cidr.split('/')[0]}:{registry_port}"
    if not _link_exists(bridge):
        _ip("link", "add", bridge, "type", "bridge")
        _ip("addr", "add", bridge_cidr, "dev", bridge)
    _ip("link", "set", bridge, "up")
    _save(home, bridge, hosts)  # first, so that `down` cleans up after a failure half-way
    key = platform_key(home)
    gateway, prefixlen = bridge_cidr.split("/")
    _forward_registry(home, gateway, registry_port)
    for host in hosts:
        if host.netns not in _ip("netns", "list").stdout.split():
            _ip("netns", "add", host.netns)
        if not _link_exists("eth0", host.netns):
            _ip("link", "add", host.veth, "type", "veth", "peer", "name", f"{host.veth}p")
            _ip("link", "set", host.veth, "master", bridge, "up")
            _ip("link", "set", f"{host.veth}p", "netns", host.netns)
            _ip("-n", host.netns, "link", "set", f"{host.veth}p", "name", "eth0")
            _ip("-n", host.netns, "addr", "add", f"{host.address}/{prefixlen}", "dev", "eth0")
            _ip("-n", host.netns, "link", "set", "eth0", "up")
            _ip("-n", host.netns, "link", "set", "lo", "up")
            _ip("-n", host.netns, "route", "add", "default", "via", gateway)
        _provision(host, key, registry, router_port, subnet)
    _pin_host_keys(home, hosts)
    return hosts


def _forward_registry(home: Path, gateway: str, port: int) -> None:
    """The registry listens on loopback only; the hosts reach it on the bridge address, which only
    this machine's namespaces can see, through a read-only front (nginx): hosts pull, never push."""
    from builder.registry import render_front_config

    pidfile = Path(home) / "run" / "cluster-registry-forward.pid"
    if read_pid(pidfile) is not None:
        return
    prefix = Path(home) / "cluster" / "registry-front"
    (prefix / "tmp").mkdir(parents=True, exist_ok=True)
    config = prefix / "nginx.conf"
    config.write_text(render_front_config(f"{gateway}:{port}", port, REGISTRY_HOST_USER, prefix))
    spawn(["nginx", "-p", str(prefix), "-e", str(prefix / "error.log"), "-c", str(config)],
          Path(home) / "logs" / "cluster-registry-forward.log", pidfile)


def _provision(host: ClusterHost, key: Path, registry: str, router_port: int, subnet: str) -> None:
    argv = ["nsenter", f"--net=/run/netns/{host.netns}", "bash", str(script("provision.sh")), "--name", host.name,
            "--state", host.state, "--run", host.run, "--address", host.address, "--bip", HOST_BIP, "--registry", registry,
            "--authorized-key", f"{key}.pub", "--router-ports", str(router_port), "--platform-net", subnet]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise ClusterError(f"provisioning {host.name} failed: {result.stderr.strip() or result.stdout.strip()}")


def _pin_host_keys(home: Path, hosts: list[ClusterHost]) -> None:
    """``cluster/known_hosts``: each host's key as its provisioning wrote it (for operators and tests;
    the controller pins the same keys in ``ssh/known_hosts`` when the hosts are registered)."""
    lines = [f"{h.address} {h.host_key()}" for h in hosts]
    (Path(home) / "cluster" / "known_hosts").write_text("\n".join(lines) + "\n")


def _save(home: Path, bridge: str, hosts: list[ClusterHost]) -> None:
    path = Path(home) / "cluster" / "cluster.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"bridge": bridge, "hosts": [asdict(h) for h in hosts]}, indent=1))


def load(home: Path) -> tuple[str | None, list[ClusterHost]]:
    try:
        data = json.loads((Path(home) / "cluster" / "cluster.json").read_text())
    except FileNotFoundError:
        return None, []
    return data["bridge"], [ClusterHost(**h) for h in data["hosts"]]


def down(home: Path) -> list[str]:
    """Stop every host's daemons and containers, delete namespaces, veths and the bridge."""
    bridge, hosts = load(home)
    removed = []
    for host in hosts:
        _remove_containers(host)
        for daemon in ("registry-forward", "sshd", "dockerd"):
            pid = read_pid(Path(host.run) / f"{daemon}.pid")
            if pid:
                stop_pid(pid, timeout=20)
        data_root = Path(host.state) / "docker"
        if subprocess.run(["mountpoint", "-q", str(data_root)]).returncode == 0:  # left by a killed dockerd
            subprocess.run(["umount", "--lazy", str(data_root)], check=False)
        shutil.rmtree(host.run, ignore_errors=True)
        _ip("link", "del", host.veth, check=False)
        _ip("netns", "del", host.netns, check=False)
        removed.append(host.name)
    stop_pidfile(Path(home) / "run" / "cluster-registry-forward.pid")
    if bridge:
        _ip("link", "del", bridge, check=False)
    (Path(home) / "cluster" / "cluster.json").unlink(missing_ok=True)
    return removed


def _remove_containers(host: ClusterHost) -> None:
    socket = Path(host.run) / "docker.sock"
    if not socket.exists():
        return
    env = {**os.environ, "DOCKER_HOST": f"unix://{socket}"}
    ids = subprocess.run(["docker", "ps", "-aq"], env=env, capture_output=True, text=True).stdout.split()
    if ids:
        subprocess.run(["docker", "rm", "-f", *ids], env=env, capture_output=True)

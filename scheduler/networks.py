"""A Docker network per app on every host, so apps cannot reach each other's containers directly and a
freed container address is only ever reused by a container of the same app (the router may still
hold it for a moment after the container died).

The scheduler creates an app's network on a host before the app's first container there and removes
it when the app is destroyed. Docker's default address pools hold only about 30 networks, so each
network gets its subnet explicitly from the platform's pool (``DEIS_APP_NETWORKS`` in
``DEIS_APP_SUBNET_PREFIX`` subnets), and its bridge an interface name starting with
:data:`BRIDGE_PREFIX`, so one firewall rule (:mod:`scheduler.firewall`) covers every app bridge.
Networks carry the platform's labels like containers: two platforms can share an engine.
"""
from __future__ import annotations

import hashlib
import ipaddress
import logging
import threading
from dataclasses import dataclass
from typing import Iterator

import docker.errors
import docker.types

from scheduler.containers import LABEL_APP, LABEL_PLATFORM
from scheduler.errors import HostError, SchedulerError

log = logging.getLogger(__name__)

BRIDGE_PREFIX = "dapp"  # + 11 hex digits: Linux interface names have at most 15 characters
BRIDGE_NAME_OPTION = "com.docker.network.bridge.name"
CREATE_ATTEMPTS = 32  # subnets tried before giving up (each failure: another creator took that subnet)


@dataclass(frozen=True)
class AddressPool:
    """Where app subnets come from: ``network`` cut into subnets of ``prefix`` bits."""

    network: str = "10.224.0.0/12"
    prefix: int = 24

    def __post_init__(self):
        try:
            net = ipaddress.ip_network(self.network)
        except ValueError as exc:
            raise SchedulerError(f"DEIS_APP_NETWORKS: {exc}") from None
        if net.version != 4 or not net.prefixlen <= self.prefix <= 28:
            raise SchedulerError(f"DEIS_APP_NETWORKS {self.network} cannot hold /{self.prefix} subnets "
                                 "(an IPv4 network, subnets of /28 or larger)")

    @classmethod
    def from_settings(cls, settings) -> "AddressPool":
        pool = cls(settings.app_networks, settings.app_subnet_prefix)
        if pool.overlaps(settings.cluster_subnet):
            raise SchedulerError(f"DEIS_APP_NETWORKS {pool.network} overlaps DEIS_CLUSTER_SUBNET {settings.cluster_subnet}")
        return pool

    def overlaps(self, other: str) -> bool:
        try:
            return ipaddress.ip_network(self.network).overlaps(ipaddress.ip_network(other, strict=False))
        except (ValueError, TypeError):
            return False

    def candidates(self, key: str) -> Iterator[ipaddress.IPv4Network]:
        """Every subnet of the pool once, starting at one that depends on ``key``: concurrent creators
        of different apps mostly try different subnets first."""
        net = ipaddress.ip_network(self.network)
        count = 1 << (self.prefix - net.prefixlen)
        size = 1 << (32 - self.prefix)
        start = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") % count
        base = int(net.network_address)
        for i in range(count):
            yield ipaddress.ip_network((base + ((start + i) % count) * size, self.prefix))


def network_name(platform: str, app: str) -> str:
    return f"{platform}.{app}"


def bridge_name(platform: str, app: str) -> str:
    return BRIDGE_PREFIX + hashlib.sha256(f"{platform}/{app}".encode()).hexdigest()[:11]


class AppNetworks:
    """The app networks of one platform on one engine; remembers which exist (one lookup per app)."""

    def __init__(self, client, platform: str, pool: AddressPool, host: str = "local"):
        self.client = client
        self.platform = platform
        self.pool = pool
        self.host = host
        self._known: set[str] = set()
        self._lock = threading.Lock()

    def ensure(self, app: str) -> str:
        """The name of ``app``'s network on this engine, created if missing."""
        name = network_name(self.platform, app)
        if name in self._known:
            return name
        with self._lock:
            if name not in self._known:
                if not self._exists(app):
                    self._create(app)
                self._known.add(name)
        return name

    def forget(self, app: str) -> None:
        """The network vanished (destroyed by another process): the next :meth:`ensure` looks again."""
        self._known.discard(network_name(self.platform, app))

    def remove(self, app: str) -> None:
        name = network_name(self.platform, app)
        self.forget(app)
        for network in self._list(app):
            try:
                self.client.api.remove_network(network["Id"])
                log.info("%s: removed network %s", self.host, name)
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as exc:
                raise HostError(self.host, f"removing network {name}", str(exc.explanation or exc)) from exc

    def _list(self, app: str) -> list[dict]:
        labels = [f"{LABEL_PLATFORM}={self.platform}", f"{LABEL_APP}={app}"]
        return self.client.api.networks(filters={"label": labels})

    def _exists(self, app: str) -> bool:
        return any(n.get("Name") == network_name(self.platform, app) for n in self._list(app))

    def _taken(self) -> list[ipaddress.IPv4Network]:
        taken = []
        for network in self.client.api.networks():
            for config in (network.get("IPAM") or {}).get("Config") or []:
                try:
                    taken.append(ipaddress.ip_network(config.get("Subnet"), strict=False))
                except (ValueError, TypeError):
                    continue
        return taken

    def _create(self, app: str) -> None:
        """Engine errors other than a lost race propagate (the host wraps them)."""
        name, bridge = network_name(self.platform, app), bridge_name(self.platform, app)
        taken = self._taken()
        tried = 0
        for subnet in self.pool.candidates(name):
            if any(subnet.overlaps(t) for t in taken):
                continue
            tried += 1
            try:
                self.client.api.create_network(
                    name, driver="bridge", check_duplicate=True, options={BRIDGE_NAME_OPTION: bridge},
                    ipam=docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=str(subnet))]),
                    labels={LABEL_PLATFORM: self.platform, LABEL_APP: app})
                log.info("%s: created network %s (%s, bridge %s)", self.host, name, subnet, bridge)
                return
            except docker.errors.APIError as exc:
                text = str(exc.explanation or exc)
                if "already exists" in text and self._exists(app):
                    return  # another process created it first
                if "overlap" not in text or tried >= CREATE_ATTEMPTS:
                    raise
                taken.append(subnet)  # another network took it since we listed them
        raise HostError(self.host, f"creating network {name}",
                        f"no free /{self.pool.prefix} subnet left in {self.pool.network}")

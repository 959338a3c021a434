"""The hosts the scheduler may use right now: registered hosts, their engines' clients and health.

Hosts are platform state (the controller's ``hosts`` table, plus this machine's own engine unless
``DEIS_LOCAL_HOST=off``); :class:`HostPool` turns those records into :class:`~scheduler.hosts.Host`
objects, reusing SSH clients between calls. Health is decided by the reconcile loop, which probes
every engine each round (:meth:`HostPool.probe`) and records the verdict in ``health.json`` under the
scheduler's state directory, so every process (controller workers, the loop) agrees on which hosts
are down: a host that did not answer for ``down_after`` seconds gets no new processes, and its
processes are placed elsewhere.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

from scheduler.hosts import PUBLISHED_PORTS, Host
from scheduler.networks import AddressPool
from scheduler.spread import HostInfo

log = logging.getLogger(__name__)

HEALTH_NAME = "health.json"


@dataclass(frozen=True)
class HostRecord:
    """A registered host. ``url`` None is this machine's own engine."""

    name: str
    address: str
    url: str | None = None
    memory: int = 1 << 62
    tags: Mapping[str, str] = field(default_factory=dict)
    draining: bool = False  # being removed: keeps its processes until they are moved, gets no new ones


class HostPool:
    def __init__(self, records: Callable[[], Sequence[HostRecord]], connect: Callable[[HostRecord], object],
                 platform: str, state_dir: Path | str, *, down_after: float = 5.0, probe_timeout: float = 4.0,
                 local_via_bridge: bool = False, networks: AddressPool = AddressPool(),
                 ports: tuple[int, int] = PUBLISHED_PORTS, registry_auth: dict | None = None):
        self.records = records
        self.registry_auth = registry_auth  # see Host.pull
        self.networks = networks  # see Host: app subnets and published ports, the same on every host
        self.ports = ports
        self.local_via_bridge = local_via_bridge  # see Host: for this machine's engine (url None) only
        self.connect = connect  # record -> docker client
        self.platform = platform
        self.health_path = Path(state_dir) / HEALTH_NAME
        self.down_after = down_after
        self.probe_timeout = probe_timeout
        self._hosts: dict[str, tuple[HostRecord, Host]] = {}
        self._lock = threading.Lock()

    # -- what the scheduler uses -----------------------------------------------------------

    def hosts(self) -> dict[str, Host]:
        """Every registered host (down ones too: their containers still need to be seen and removed)."""
        records = list(self.records())
        with self._lock:
            for record in records:
                known = self._hosts.get(record.name)
                if known is None or known[0] != record:
                    via_bridge = self.local_via_bridge and record.url is None
                    self._hosts[record.name] = (record, Host(record.name, _Lazy(self.connect, record),
                                                             record.address, self.platform, via_bridge,
                                                             networks=self.networks, ports=self.ports,
                                                             registry_auth=self.registry_auth))
            for name in set(self._hosts) - {r.name for r in records}:
                del self._hosts[name]
            return {name: host for name, (_, host) in self._hosts.items()}

    def down(self) -> set[str]:
        return {name for name, state in self._health().items() if state.get("down")}

    def infos(self, load: Mapping[str, tuple[int, int]] | None = None) -> list[HostInfo]:
        """Placement's view: capacity, tags, health, and ``load`` (containers, reserved bytes) per host."""
        down = self.down()
        load = load or {}
        return [HostInfo(r.name, r.memory, dict(r.tags), healthy=r.name not in down and not r.draining,
                         containers=load.get(r.name, (0, 0))[0], reserved=load.get(r.name, (0, 0))[1])
                for r in sorted(self.records(), key=lambda r: r.name)]

    # -- health (the reconcile loop) --------------------------------------------------------

    def probe(self, now: float | None = None) -> tuple[set[str], set[str]]:
        """Ping every engine in parallel; record the verdicts. Returns (newly down, back up)."""
        now = time.time() if now is None else now
        records = list(self.records())
        with ThreadPoolExecutor(max_workers=max(1, min(16, len(records)))) as pool:
            answers = dict(zip((r.name for r in records), pool.map(self._ping, records)))
        before = self._health()
        after, newly_down, back = {}, set(), set()
        for name, ok in answers.items():
            previous = before.get(name, {"last_seen": now, "down": False})
            last_seen = now if ok else previous.get("last_seen", now)
            down = not ok and now - last_seen >= self.down_after
            after[name] = {"last_seen": last_seen, "down": down}
            if down and not previous.get("down"):
                newly_down.add(name)
            if not down and previous.get("down"):
                back.add(name)
        self._save(after)
        for name in newly_down:
            log.warning("host %s is down (no answer for %.0fs)", name, now - after[name]["last_seen"])
        for name in back:
            log.warning("host %s is back", name)
        return newly_down, back

    def _ping(self, record: HostRecord) -> bool:
        try:
            client = self.connect(record, timeout=self.probe_timeout)
            try:
                return bool(client.ping())
            finally:
                if record.url is not None:  # the local engine's client is shared, not ours to close
                    client.close()
        except Exception:  # noqa: BLE001 - unreachable in any way means not answering
            return False

    def _health(self) -> dict:
        try:
            return json.loads(self.health_path.read_text())
        except (FileNotFoundError, ValueError):
            return {}

    def _save(self, health: dict) -> None:
        self.health_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.health_path.with_suffix(f".{os.getpid()}.next")
        tmp.write_text(json.dumps(health, sort_keys=True))
        tmp.replace(self.health_path)


class _Lazy:
    """A docker client connected on first use (an unreachable host must not block building the pool)."""

    def __init__(self, connect, record: HostRecord):
        self._connect, self._record, self._client = connect, record, None
        self._lock = threading.Lock()

    def __getattr__(self, name):
        with self._lock:
            if self._client is None:
                self._client = self._connect(self._record)
        return getattr(self._client, name)

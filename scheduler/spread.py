"""Cluster placement (pure, deterministic): which host runs each process of each app.

Rules, in order:
1. a host must be healthy, carry every tag the app asks for (``deis tags:set``, Deis v1 semantics)
   and have the process's memory limit free;
2. spread: replicas of one process type go to distinct hosts while an eligible host without one has
   room (at most ``ceil(count / eligible hosts)`` on any host);
3. stability: a process that already runs on a host that satisfies 1 and 2 stays there;
4. balance: a new process goes to the eligible host with the fewest containers, then the least
   memory reserved, then the earlier host in the given order.
If any process cannot be placed, :class:`Unschedulable` says which and why, and nothing is returned:
callers apply all of a placement or none of it.

Fast enough for large clusters: one lazily updated heap of hosts per distinct tag constraint, so
placing ``n`` processes costs about ``n log hosts``.
"""
from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

from scheduler.errors import Unschedulable


@dataclass(frozen=True)
class HostInfo:
    """A host as placement sees it. ``containers``/``reserved`` count what runs there outside the demands."""

    name: str
    memory: int  # bytes available to containers
    tags: Mapping[str, str] = field(default_factory=dict)
    healthy: bool = True
    containers: int = 0
    reserved: int = 0


@dataclass(frozen=True)
class Demand:
    """``count`` processes of one type of one app, each reserving ``memory`` bytes (0: no limit set)."""

    app: str
    type: str
    count: int
    memory: int = 0
    tags: Mapping[str, str] = field(default_factory=dict)


Key = tuple[str, str, int]  # (app, type, num)


class _Hosts:
    """Mutable load of every host, and one lazy min-heap per tag constraint."""

    def __init__(self, hosts: Sequence[HostInfo]):
        self.info = [h for h in hosts if h.healthy]
        self.load = [h.containers for h in self.info]
        self.reserved = [h.reserved for h in self.info]
        self.version = [0] * len(self.info)
        self.index = {h.name: i for i, h in enumerate(self.info)}
        self._eligible: dict[frozenset, list[int]] = {}
        self._heaps: dict[frozenset, list[tuple]] = {}

    def eligible(self, tags: Mapping[str, str]) -> list[int]:
        constraint = frozenset(tags.items())
        if constraint not in self._eligible:
            self._eligible[constraint] = [i for i, h in enumerate(self.info)
                                          if all(h.tags.get(k) == v for k, v in constraint)]
        return self._eligible[constraint]

    def heap(self, tags: Mapping[str, str]) -> list[tuple]:
        constraint = frozenset(tags.items())
        if constraint not in self._heaps:
            heap = [self.entry(i) for i in self.eligible(tags)]
            heapq.heapify(heap)
            self._heaps[constraint] = heap
        return self._heaps[constraint]

    def entry(self, i: int) -> tuple:
        return (self.load[i], self.reserved[i], i, self.version[i])

    def fits(self, i: int, memory: int) -> bool:
        return self.reserved[i] + memory <= self.info[i].memory

    def add(self, i: int, memory: int) -> None:
        self.load[i] += 1
        self.reserved[i] += memory
        self.version[i] += 1


def spread(demands: Iterable[Demand], hosts: Sequence[HostInfo],
           current: Mapping[Key, str] | None = None) -> dict[Key, str]:
    """Place every process of ``demands`` on ``hosts``; ``current`` maps running processes to their host."""
    state = _Hosts(hosts)
    current = current or {}
    result: dict[Key, str] = {}
    for demand in sorted(demands, key=lambda d: (d.app, d.type)):
        result.update(_place_demand(state, demand, current))
    return result


def _place_demand(state: _Hosts, demand: Demand, current: Mapping[Key, str]) -> dict[Key, str]:
    if demand.count <= 0:
        return {}
    eligible = state.eligible(demand.tags)
    if not eligible:
        raise Unschedulable(demand.app, demand.type, _why_none(state, demand))
    cap = math.ceil(demand.count / len(eligible))
    per_host: dict[int, int] = {}
    placed: dict[Key, str] = {}
    missing = []
    eligible_set = set(eligible) if demand.tags else None
    for num in range(1, demand.count + 1):
        i = state.index.get(current.get((demand.app, demand.type, num), ""))
        if (i is not None and (eligible_set is None or i in eligible_set) and per_host.get(i, 0) < cap
                and state.fits(i, demand.memory)):
            state.add(i, demand.memory)
            per_host[i] = per_host.get(i, 0) + 1
            placed[(demand.app, demand.type, num)] = state.info[i].name
        else:
            missing.append(num)
    heap = state.heap(demand.tags)
    level = 0
    while missing:
        level += 1  # this round, hosts with fewer than `level` replicas of the type take one more
        aside, round_hosts, any_fit = [], [], False
        while heap and len(round_hosts) < len(missing):
            entry = heapq.heappop(heap)
            i = entry[2]
            if entry[3] != state.version[i]:  # stale: the host's load changed since this entry was pushed
                heapq.heappush(heap, state.entry(i))
                continue
            aside.append(i)
            if state.fits(i, demand.memory):
                any_fit = True
                if per_host.get(i, 0) < level:
                    round_hosts.append(i)
        for i, num in zip(round_hosts, missing):
            state.add(i, demand.memory)
            per_host[i] = per_host.get(i, 0) + 1
            placed[(demand.app, demand.type, num)] = state.info[i].name
        for i in aside:
            heapq.heappush(heap, state.entry(i))
        if not any_fit:
            raise Unschedulable(demand.app, demand.type, _why_full(state, demand, len(missing)))
        missing = missing[len(round_hosts):]
    return placed


def _why_none(state: _Hosts, demand: Demand) -> str:
    if not state.info:
        return "no healthy hosts"
    tags = ", ".join(f"{k}={v}" for k, v in sorted(demand.tags.items()))
    return f"no healthy host has the tags {tags}"


def _why_full(state: _Hosts, demand: Demand, left: int) -> str:
    free = max((state.info[i].memory - state.reserved[i] for i in state.eligible(demand.tags)), default=0)
    return (f"{left} of {demand.count} processes do not fit: each needs {_size(demand.memory)} of memory; "
            f"the most any eligible host has free is {_size(free)}")


def _size(n: int) -> str:
    for unit, factor in (("G", 1024 ** 3), ("M", 1024 ** 2), ("K", 1024)):
        if n >= factor:
            return f"{n / factor:.4g}{unit}"
    return f"{n}B"

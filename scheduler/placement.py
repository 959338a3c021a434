"""Where processes run and what must change to get there (pure).

:func:`place` assigns every wanted process (type, num) to a host; :func:`converge` compares those
slots with the containers hosts report and says what to keep, start, replace and retire.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from scheduler.containers import ONEOFF_TYPE, Container
from scheduler.errors import SchedulerError
from scheduler.spread import Demand, HostInfo, spread

APP = "app"  # placement of one app at a time: other apps count as host load (HostInfo.containers)
UNLIMITED = 1 << 62


@dataclass(frozen=True, order=True)
class Slot:
    """Process ``type.num`` of a release, placed on ``host``."""

    type: str
    num: int
    host: str

    @property
    def key(self) -> str:
        return f"{self.type}.{self.num}"


@dataclass(frozen=True)
class Convergence:
    keep: tuple[Container, ...]  # running containers of the release in their slot: untouched
    start: tuple[Slot, ...]  # slots that need a new container
    replace: tuple[Container, ...]  # dead containers of the release in a slot: removed before their slot restarts
    retire: tuple[Container, ...]  # everything else: stopped once the new containers are up

    @property
    def changes(self) -> bool:
        return bool(self.start or self.replace or self.retire)


def place(scale: Mapping[str, int], hosts: Sequence[str | HostInfo], current: Iterable[Container] = (),
          memory: Mapping[str, int] | None = None, tags: Mapping[str, str] | None = None) -> list[Slot]:
    """Slots ``1..count`` of every type of one app, placed by :func:`scheduler.spread.spread`: replicas
    spread over hosts, a process that runs somewhere stays there, new ones go to the least loaded
    host (ties: earlier host in ``hosts``). ``hosts`` are names (no capacity limits) or
    :class:`HostInfo`; ``memory`` is the limit of each type in bytes; Unschedulable if it cannot fit."""
    infos = [h if isinstance(h, HostInfo) else HostInfo(h, memory=UNLIMITED) for h in hosts]
    if not any(h.healthy for h in infos):
        raise SchedulerError("no hosts to place processes on")
    running: dict[tuple[str, str, int], str] = {}
    for container in sorted(current, key=lambda c: (not c.running, c.name)):
        running.setdefault((APP, container.type, container.num), container.host)
    demands = [Demand(APP, ptype, count, (memory or {}).get(ptype, 0), tags or {}) for ptype, count in scale.items()]
    return sorted(Slot(ptype, num, host) for (_, ptype, num), host in spread(demands, infos, running).items())


def converge(version: int, slots: Iterable[Slot], actual: Iterable[Container]) -> Convergence:
    """What to do so that exactly ``slots`` of release ``version`` run (one-off containers are ignored)."""
    wanted = {(s.type, s.num): s for s in slots}
    keep: dict[tuple[str, int], Container] = {}
    replace, retire = [], []
    # Running containers first, so a running duplicate is kept rather than a dead one.
    for container in sorted(actual, key=lambda c: (not c.running, c.name)):
        if container.type == ONEOFF_TYPE:
            continue
        slot = wanted.get((container.type, container.num))
        in_slot = container.version == version and slot is not None and slot.host == container.host
        if in_slot and container.running and (container.type, container.num) not in keep:
            keep[(container.type, container.num)] = container
        elif in_slot and not container.running:
            replace.append(container)
        else:
            retire.append(container)
    start = [slot for key, slot in sorted(wanted.items()) if key not in keep]
    return Convergence(keep=tuple(keep.values()), start=tuple(start), replace=tuple(replace), retire=tuple(retire))

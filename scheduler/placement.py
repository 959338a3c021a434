"""Where processes run and what must change to get there (pure).

:func:`place` assigns every wanted process (type, num) to a host; :func:`converge` compares those
slots with the containers hosts report and says what to keep, start, replace and retire.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from scheduler.containers import ONEOFF_TYPE, Container
from scheduler.errors import SchedulerError


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


def place(scale: Mapping[str, int], hosts: Sequence[str], current: Iterable[Container] = ()) -> list[Slot]:
    """Slots ``1..count`` of every type. A process that already runs somewhere stays there; a new one
    goes to the host running fewest of the app's processes (ties: earlier host in ``hosts``)."""
    if not hosts:
        raise SchedulerError("no hosts to place processes on")
    load = {host: 0 for host in hosts}
    existing: dict[tuple[str, int], str] = {}
    for container in sorted(current, key=lambda c: (not c.running, c.name)):
        slot = (container.type, container.num)
        if container.host in load and slot not in existing and container.num <= scale.get(container.type, 0):
            existing[slot] = container.host
            load[container.host] += 1
    order = {host: i for i, host in enumerate(hosts)}
    slots = []
    for ptype in sorted(scale):
        for num in range(1, scale[ptype] + 1):
            host = existing.get((ptype, num))
            if host is None:
                host = min(hosts, key=lambda h: (load[h], order[h]))
                load[host] += 1
            slots.append(Slot(ptype, num, host))
    return slots


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

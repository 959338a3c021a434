"""Aggregated output of an app's containers (``deis logs [-n N] [-f]``).

Lines look like ``2026-11-23T09:30:00.123456Z myapp[web.1]: message``; merging and formatting are
pure, reading and following go through each container's host.
"""
from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

from scheduler.containers import Container


@dataclass(frozen=True, order=True)
class LogLine:
    timestamp: str  # RFC 3339 with nanoseconds from Docker: sorts as text
    source: str  # process key, e.g. "web.1", or "run"
    text: str

    def format(self, app: str) -> str:
        return f"{self.timestamp} {app}[{self.source}]: {self.text}"


def parse_line(raw: str, source: str) -> LogLine:
    """Split Docker's ``timestamps=True`` prefix from the message."""
    stamp, _, text = raw.partition(" ")
    return LogLine(stamp, source, text.rstrip("\r"))


def merge_tail(per_container: Iterable[list[LogLine]], lines: int | None) -> list[LogLine]:
    """All lines in time order, the last ``lines`` of them (all when None)."""
    merged = sorted(line for chunk in per_container for line in chunk)
    return merged if lines is None else merged[-lines:] if lines > 0 else []


def source_of(container: Container) -> str:
    return container.key if container.num else container.type


def tail(containers: Iterable[Container], hosts: dict, lines: int | None = 100) -> list[LogLine]:
    """The last ``lines`` lines over all ``containers`` (running or exited)."""
    limit = "all" if lines is None else max(lines, 0)
    return merge_tail(([parse_line(raw, source_of(c)) for raw in hosts[c.host].logs(c.id, tail=limit, timestamps=True)]
                       for c in containers), lines)


def follow(list_containers: Callable[[], list[Container]], hosts: dict, lines: int = 100,
           rescan_interval: float = 1.0, stop: threading.Event | None = None) -> Iterator[LogLine]:
    """Yield the last ``lines`` lines, then new lines as they come, picking up new containers.

    Runs until the caller closes the generator or ``stop`` is set.
    """
    stop = stop or threading.Event()
    current = list_containers()
    yield from tail(current, hosts, lines)
    lines_queue: queue.Queue[LogLine] = queue.Queue()
    streams = []
    followed: set[str] = set()

    def pump(container: Container, since_start: bool) -> None:
        stream = hosts[container.host].follow_logs(container.id, tail="all" if since_start else 0)
        streams.append(stream)
        buffer = b""
        try:
            for chunk in stream:
                buffer += chunk
                *complete, buffer = buffer.split(b"\n")
                for raw in complete:
                    lines_queue.put(parse_line(raw.decode("utf-8", errors="replace"), source_of(container)))
        except Exception:  # noqa: BLE001 - a closed stream ends this pump, nothing else to do
            return

    def start(container: Container, since_start: bool) -> None:
        followed.add(container.id)
        threading.Thread(target=pump, args=(container, since_start), daemon=True).start()

    try:
        for container in current:
            if container.running:
                start(container, since_start=False)
        next_scan = time.monotonic() + rescan_interval
        while not stop.is_set():
            try:
                yield lines_queue.get(timeout=0.2)
            except queue.Empty:
                pass
            if time.monotonic() >= next_scan:
                for container in list_containers():
                    if container.id not in followed:
                        start(container, since_start=True)
                next_scan = time.monotonic() + rescan_interval
    finally:
        for stream in streams:
            stream.close()

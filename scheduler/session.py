"""Interactive and detached one-off processes (``deis run``, ``deis run --detach``).

An attached one-off (:func:`start_session`) is a container of the release with its stdin open (and a
TTY when asked), attached through the engine's API before it starts: :class:`OneoffSession` forwards
stdin (and its end), resizes the TTY, delivers signals, yields stdout and stderr apart (the engine
multiplexes them when there is no TTY: :class:`Demuxer`), returns the exit code and always removes the
container. A detached one-off (:func:`start_detached`) runs in the background; its output is read by
``deis logs`` as ``app[run.<num>]`` while the container exists.

Both carry the same hardening, labels, network and user as every one-off (:func:`plan_oneoff`), plus
two labels: :data:`LABEL_MODE` (attached or detached) and :data:`LABEL_EXPIRES` (a deadline, seconds
since the epoch). :func:`sweep` removes what is past its deadline, detached runs some time after they
exit, and attached ones whose session is gone (the controller restarted): the deadline lives on the
container, so whatever enforces it survives a controller restart (the reconcile loop sweeps each round,
and every new one-off sweeps its host first).
"""
from __future__ import annotations

import logging
import random
import socket
import struct
import time
import uuid
from dataclasses import replace
from typing import Iterable, Iterator, Sequence

from scheduler.containers import DEFAULT_HARDENING, LABEL_NUM, ONEOFF_TYPE, Container, Hardening, plan_oneoff
from scheduler.errors import HostError, InvalidSpec
from scheduler.hosts import ENGINE_ERRORS, Host
from scheduler.oneoff import command_text
from scheduler.spec import ReleaseSpec

log = logging.getLogger(__name__)

LABEL_MODE = "deis.run"  # "attached" or "detached"
LABEL_EXPIRES = "deis.expires"  # seconds since the epoch after which the one-off is removed
STDOUT, STDERR = 1, 2  # the engine's stream numbers, also the tags of the controller's frames
# Signals a user may send a one-off (``{"signal": "INT"}``): those a terminal or a shell's kill would.
SIGNALS = frozenset({"INT", "TERM", "HUP", "QUIT", "KILL", "USR1", "USR2", "WINCH", "CONT", "STOP", "TSTP"})
ORPHAN_GRACE = 60.0  # seconds an exited attached one-off may stay (its session removes it at once)
DETACHED_KEEP = 600.0  # seconds an exited detached one-off stays, so that `deis logs` still shows its output
DETACHED_NUMBERS = (1000, 99999)  # run.<num>, as Heroku numbers its one-off dynos
READ_SIZE = 65536


class Demuxer:
    """The engine's multiplexed attach stream (no TTY): frames of an 8-byte header (stream, 3 zero
    bytes, big-endian length) and that many bytes. Fed raw chunks, returns ``(stream, data)`` pairs."""

    HEADER = struct.Struct(">BxxxL")

    def __init__(self):
        self.buffer = b""

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self.buffer += data
        frames = []
        while len(self.buffer) >= self.HEADER.size:
            stream, length = self.HEADER.unpack_from(self.buffer)
            end = self.HEADER.size + length
            if len(self.buffer) < end:
                break
            frames.append((STDERR if stream == STDERR else STDOUT, self.buffer[self.HEADER.size:end]))
            self.buffer = self.buffer[end:]
        return frames


class OneoffSession:
    """A running attached one-off. Use it as a context manager: leaving it removes the container."""

    def __init__(self, host: Host, container: Container, sock, tty: bool):
        self.host, self.container, self.tty = host, container, tty
        self._sock = sock  # keeps the engine's response (and so the connection) alive
        self._raw = getattr(sock, "_sock", sock)  # a socket (local engine) or an SSH channel (remote host)
        self._raw.settimeout(None)  # an idle shell is not an error

    @property
    def name(self) -> str:
        return self.container.name

    def output(self) -> Iterator[tuple[int, bytes]]:
        """``(STDOUT or STDERR, data)`` as it comes (a TTY has one stream: STDOUT), until the process ends."""
        demux = None if self.tty else Demuxer()
        while True:
            try:
                data = self._raw.recv(READ_SIZE)
            except OSError as exc:
                log.info("%s: attach stream ended: %s", self.name, exc)
                return
            if not data:
                return
            if demux is None:
                yield STDOUT, data
            else:
                yield from demux.feed(data)

    def write(self, data: bytes) -> None:
        """Bytes to the process's stdin (ignored once it no longer reads it)."""
        try:
            self._raw.sendall(data)
        except OSError as exc:
            log.info("%s: stdin closed: %s", self.name, exc)

    def close_stdin(self) -> None:
        """End of the process's stdin (the engine closes it when the attached stream is half-closed)."""
        try:
            self._raw.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def resize(self, cols: int, rows: int) -> None:
        if self.tty:
            self.host.resize(self.container.id, cols, rows)

    def signal(self, name: str) -> None:
        """Deliver ``SIG<name>`` (one of :data:`SIGNALS`) to the process and its children."""
        if name not in SIGNALS:
            raise InvalidSpec("signal", name, f"expected one of {', '.join(sorted(SIGNALS))}")
        self.host.kill(self.container.id, f"SIG{name}")

    def kill(self) -> None:
        self.host.kill(self.container.id)

    def wait(self) -> int:
        return self.host.wait(self.container.id)

    def close(self) -> None:
        """Remove the container (killing it if it still runs) and drop the connection."""
        try:
            self._raw.close()
        except OSError:
            pass
        self.host.remove(self.container.id)

    def __enter__(self) -> "OneoffSession":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def start_session(host: Host, spec: ReleaseSpec, command: str | Sequence[str], *, tty: bool = False,
                  size: tuple[int, int] | None = None, ttl: float, hardening: Hardening = DEFAULT_HARDENING,
                  clock=time.time) -> OneoffSession:
    """Start ``command`` attached (a TTY of ``size`` = (cols, rows) if ``tty``); removed by :func:`sweep`
    ``ttl`` seconds from now if its session never does it."""
    plan = plan_oneoff(spec, command_text(command), host.platform, uuid.uuid4().hex[:8], hardening)
    plan = replace(plan, labels={**plan.labels, LABEL_MODE: "attached", LABEL_EXPIRES: f"{clock() + ttl:.0f}"},
                   # tini (the container's init) forwards signals to the whole process group, as a
                   # terminal's Ctrl-C would: `sh -c 'a; b'` waits for `a`, which must get the SIGINT too
                   env={**plan.env, "TINI_KILL_PROCESS_GROUP": "1"})
    container, sock = host.run_attached(plan, tty)
    session = OneoffSession(host, container, sock, tty)
    if tty and size is not None:
        session.resize(*size)
    log.info("attached one-off %s started", plan.name)
    return session


def start_detached(host: Host, spec: ReleaseSpec, command: str | Sequence[str], *, ttl: float,
                   hardening: Hardening = DEFAULT_HARDENING, clock=time.time) -> Container:
    """Start ``command`` in the background as ``<app>_v<N>.run.<num>``; removed ``ttl`` seconds from now."""
    text, attempts = command_text(command), 0
    while True:
        attempts += 1
        num = random.randint(*DETACHED_NUMBERS)
        plan = plan_oneoff(spec, text, host.platform, str(num), hardening)
        plan = replace(plan, num=num, labels={**plan.labels, LABEL_NUM: str(num), LABEL_MODE: "detached",
                                              LABEL_EXPIRES: f"{clock() + ttl:.0f}"})
        try:
            container = host.run(plan)
        except HostError as exc:
            if "already in use" not in exc.detail or attempts >= 5:
                raise
            continue  # another one-off of this release took that number
        log.info("detached one-off %s started", container.name)
        return container


def expired(container: Container, now: float) -> bool:
    """Is this one-off due for removal? Only one-offs with a deadline (started here) ever are."""
    if container.type != ONEOFF_TYPE:
        return False
    try:
        deadline = float(container.labels.get(LABEL_EXPIRES, ""))
    except ValueError:
        return False
    if now >= deadline:
        return True
    if container.running or container.finished_at is None:
        return False
    keep = DETACHED_KEEP if container.labels.get(LABEL_MODE) == "detached" else ORPHAN_GRACE
    return now - container.finished_at.timestamp() >= keep


def sweep(hosts: Iterable[Host], now: float | None = None) -> list[str]:
    """Remove the expired one-offs on ``hosts``; return their names. A host that fails is skipped."""
    now = time.time() if now is None else now
    removed = []
    for host in hosts:
        try:
            for container in host.containers():
                if expired(container, now):
                    host.remove(container.id)
                    removed.append(container.name)
                    log.info("%s: removed expired one-off %s", host.name, container.name)
        except (HostError, *ENGINE_ERRORS) as exc:
            log.warning("%s: could not remove expired one-offs: %s", host.name, exc)
    return removed


"""What the controller asks of a scheduler backend, whichever it is.

:class:`SchedulerBackend` is the one interface the controller codes against. Three classes implement
it: :class:`scheduler.scheduler.Scheduler` (this machine's engine and hosts over SSH),
:class:`scheduler.swarm.SwarmScheduler` (Docker Swarm) and :class:`scheduler.memory.MemoryScheduler`
(an in-memory twin for fast tests of the controller's glue).

Errors are the scheduler package's (:mod:`scheduler.errors`): ``InvalidSpec`` and ``Unschedulable``
mean nothing was changed, ``DeployError`` that the previous release keeps serving, ``Superseded``
that a newer release runs already, ``HostError`` that an engine could not be reached.
"""
from __future__ import annotations

import threading
from typing import Callable, Iterable, Iterator, Protocol, Sequence, runtime_checkable

from scheduler.containers import Container
from scheduler.oneoff import BeforeRemove, OnStart
from scheduler.placement import Slot
from scheduler.scheduler import DeployResult, ProcessStatus
from scheduler.session import OneoffSession
from scheduler.spec import ReleaseSpec

Progress = Callable[[str], None]
OnLive = Callable[[], None]


@runtime_checkable
class SchedulerBackend(Protocol):
    # -- changes: each converges the app to ``spec`` and returns what it did ------------------------
    # ``progress`` gets one line per step; ``on_live`` is called once the router serves ``spec``'s
    # release, before old containers are drained and stopped (not at all if it never serves).

    def deploy(self, spec: ReleaseSpec, progress: Progress | None = None, *,
               on_live: OnLive | None = None) -> DeployResult:
        """Bring ``spec`` up with zero downtime (DeployError: the old release keeps serving)."""

    def scale(self, spec: ReleaseSpec, progress: Progress | None = None, *,
              on_live: OnLive | None = None) -> DeployResult:
        """Apply ``spec.scale``: start or stop processes, leaving the others running."""

    def restart(self, spec: ReleaseSpec, target: str | None = None, progress: Progress | None = None, *,
                on_live: OnLive | None = None) -> DeployResult:
        """Replace the processes of ``target`` ("web", "web.2"; all when None) with fresh ones."""

    def destroy(self, app: str, progress: Progress | None = None) -> list[str]:
        """Remove everything of ``app`` (containers, route); return what was removed."""

    def slots_for(self, spec: ReleaseSpec, current: Iterable[Container]) -> list[Slot]:
        """Where each process of ``spec`` would run (``current``: its containers running now), without
        changing anything; the fit check before a change is committed. Raises Unschedulable when the
        processes do not fit on the hosts."""

    # -- queries -----------------------------------------------------------------------------------

    def deployed_version(self, app: str) -> int | None:
        """The release the router was last switched to for ``app`` (None: none yet)."""

    def status(self, app: str) -> list[ProcessStatus]:
        """The app's processes (``deis ps``)."""

    def run(self, spec: ReleaseSpec, command: str | Sequence[str], output: Callable[[bytes], None],
            timeout: float | None = None, on_start: OnStart | None = None,
            before_remove: BeforeRemove | None = None) -> int:
        """``deis run``: ``command`` in a one-off container of ``spec``; its output to ``output``;
        returns its exit code (124 after ``timeout``). ``on_start``, ``before_remove``: see
        :func:`scheduler.oneoff.run_oneoff`."""

    def session(self, spec: ReleaseSpec, command: str | Sequence[str], *, tty: bool = False,
                size: tuple[int, int] | None = None, ttl: float = 86400) -> OneoffSession:
        """``deis run`` attached: ``command`` in a one-off container of ``spec`` with its stdin open (a
        TTY of ``size`` = (cols, rows) if ``tty``); the session streams stdin, output, resizes and
        signals and removes the container when closed (see :mod:`scheduler.session`)."""

    def detach(self, spec: ReleaseSpec, command: str | Sequence[str], *, ttl: float = 86400) -> Container:
        """``deis run --detach``: ``command`` in the background (its output in ``logs``, as
        ``app[run.<num>]``), removed ``ttl`` seconds later; returns the container started."""

    def logs(self, app: str, lines: int | None = 100, follow: bool = False,
             stop: threading.Event | None = None) -> Iterator[str]:
        """The app's output lines, oldest first; with ``follow``, until closed or ``stop`` is set."""

    def deployed_version(self, app: str) -> int | None:
        """The release the router was last switched to for ``app`` (None: never deployed)."""

    def events(self, app: str, lines: int | None = 100) -> list[str]:
        """The scheduler's own events of ``app`` (crashes, restarts), formatted like log lines."""

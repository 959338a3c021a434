"""Take a dead container out of the router the moment its engine says it died.

The reconcile loop notices a dead container on its next round, seconds later; until then nginx keeps
sending the app's requests to an address the engine may already have given to another container.
:class:`DeathWatch` follows every host's engine events (a thread per host; re-subscribed after errors,
started and stopped as hosts come and go) and, on each ``die`` of one of the platform's containers,
drops from that app's route every upstream on that host which no running container of the app has
any more. ``die`` is what the engine reports for every end of a container's process (crash, kill,
stop, OOM); a ``kill`` with SIGKILL or SIGTERM (``docker kill``, ``docker stop``) comes a little
earlier and is acted on at once.
Restarting the process and re-syncing the route stay the reconcile loop's work.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Callable, Iterable, Mapping

from scheduler.containers import LABEL_APP, LABEL_PLATFORM, LABEL_TYPE, ONEOFF_TYPE
from scheduler.hosts import Host

log = logging.getLogger(__name__)

RETRY_MAX = 5.0  # seconds between attempts to reach an engine that does not answer
WINDOW = 30  # seconds of one subscription to a host's events (the engine ends it)
HUNG_AFTER = 15.0  # seconds past its end after which a window is given up for a fresh subscription
EVENTS = ("start", "kill", "die")  # a start only teaches the container's address
# A kill with one of these signals ends the container (or starts its graceful stop): the engine
# reports it tens of milliseconds before the die, and the router had better stop sending there now.
STOP_SIGNALS = {"9", "15", "SIGKILL", "SIGTERM", "KILL", "TERM"}


def _fatal(event: Mapping) -> bool:
    """A die, or a kill that ends the container (not a reload signal such as HUP)."""
    action = event.get("Action") or event.get("status")
    signal = ((event.get("Actor") or {}).get("Attributes") or {}).get("signal")
    return action == "die" or (action == "kill" and signal in STOP_SIGNALS)


class DeathWatch:
    """Keeps ``router`` free of dead containers on the hosts ``hosts()`` returns (checked every
    ``refresh`` seconds)."""

    def __init__(self, hosts: Callable[[], Mapping[str, Host]], router, refresh: float = 2.0):
        self.hosts = hosts
        self.router = router
        self.refresh = refresh
        self._watches: dict[str, _HostWatch] = {}
        self._addresses: frozenset[str] = frozenset()
        self._known: dict[str, dict[str, tuple[str, str]]] = {}  # host -> container id -> (app, address)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "DeathWatch":
        """Subscribe to every host's events now, then follow the hosts in the background."""
        self._sync()
        self._thread = threading.Thread(target=self._supervise, name="deathwatch", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for watch in list(self._watches.values()):
            watch.stop()
        self._watches.clear()

    def __enter__(self) -> "DeathWatch":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def subscribed(self) -> set[str]:
        """Names of the hosts whose events are being followed right now."""
        return {name for name, watch in list(self._watches.items()) if watch.subscribed.is_set()}

    # -- what a death changes -------------------------------------------------------------------

    def handle(self, host: Host, events: Iterable[Mapping]) -> list[str]:
        """React to engine events of ``host``: those that end an app's process (a die, or a kill with a
        stop signal) take it out of the router; a start makes its address known beforehand. Return
        the upstreams taken out."""
        dying: dict[str, dict[str, Mapping]] = {}
        started = set()
        for event in events:
            attributes = (event.get("Actor") or {}).get("Attributes") or {}
            app = attributes.get(LABEL_APP)
            if not app or attributes.get(LABEL_TYPE) == ONEOFF_TYPE or not event.get("id"):
                continue
            if (event.get("Action") or event.get("status")) == "start":
                started.add(app)
            elif _fatal(event):
                dying.setdefault(app, {})[event["id"]] = event
        removed = []
        for app, by_id in dying.items():
            gone = self._take_out(host, app, set(by_id))
            if gone:
                last = max(by_id.values(), key=lambda e: e.get("timeNano", 0))
                nanos = last.get("timeNano")
                after = f" {(time.time_ns() - nanos) / 1e6:.0f} ms after the engine's event" if nanos else ""
                names = ", ".join(sorted(((e.get("Actor") or {}).get("Attributes") or {}).get("name", i[:12])
                                         for i, e in by_id.items()))
                log.info("router: %s of %s taken out%s (%s of %s on %s)", ", ".join(gone), app, after,
                         last.get("Action") or last.get("status"), names, host.name)
                removed.extend(gone)
        for app in started:  # after the deaths: their addresses, for when they die in turn
            self.learn(host, app)
        return removed

    def _take_out(self, host: Host, app: str, dead: set[str]) -> list[str]:
        """Take the containers ``dead`` (ids) of ``app`` on ``host`` out of its route. Their addresses
        are known from their start (no engine call: over SSH a call costs a round trip, and a deploy
        stops containers by the dozen); those of containers never seen running come from a listing."""
        route = self.router.route(app)
        on_host = [u for u in route.upstreams if self._on_host(u, host)] if route is not None else []
        if not on_host:
            return []
        with self._lock:
            known = self._known.setdefault(host.name, {})
            seen = [known.get(i) for i in dead]
        if all(seen):
            gone = [address for _, address in seen if address in on_host]
            return gone if gone and self.router.remove_upstreams(app, gone) else []
        return self.sweep(host, [app], dead)

    def sweep(self, host: Host, apps: Iterable[str] | None = None, dead: Iterable[str] = ()) -> list[str]:
        """Take out of the routes of ``apps`` (default: every app) the upstreams on ``host`` that no
        running container of that app has; return them. The containers ``dead`` (ids) count as gone
        whatever the listing says: the engine still lists one as running for a moment after its
        ``die`` event, and a killed one until it has exited.

        The routes are read before the containers are listed: an upstream routed meanwhile is not
        among the candidates, and the router drops only the candidates found dead, whatever else
        changed in the route since.
        """
        wanted, dead = None if apps is None else set(apps), set(dead)
        candidates = {}
        for route in self.router.routes():
            if wanted is None or route.app in wanted:
                on_host = [u for u in route.upstreams if self._on_host(u, host)]
                if on_host:
                    candidates[route.app] = on_host
        if not candidates and wanted is not None:
            return []
        listed = self.learn(host, next(iter(wanted)) if wanted is not None and len(wanted) == 1 else None)
        running = {seen for i, seen in listed.items() if i not in dead}
        removed = []
        for app, upstreams in candidates.items():
            gone = [u for u in upstreams if (app, u) not in running]
            if gone and self.router.remove_upstreams(app, gone):
                removed.extend(gone)
        return removed

    def learn(self, host: Host, app: str | None = None) -> dict[str, tuple[str, str]]:
        """List the running containers of ``app`` (default: all) on ``host`` and remember their addresses;
        return ``{id: (app, address)}``."""
        listed = {c.id: (c.app, c.address) for c in host.containers(app) if c.running and c.address}
        with self._lock:
            known = self._known.setdefault(host.name, {})
            for i in [i for i, (owner, _) in known.items() if app is None or owner == app]:
                del known[i]
            known.update(listed)
        return listed

    def _on_host(self, upstream: str, host: Host) -> bool:
        """Whether ``upstream`` is a container of ``host``: its published port at the host's address, or
        (an engine on this machine reached over its bridges) an address that is no host's."""
        address = upstream.rpartition(":")[0]
        return address == host.address or (host.via_bridge and address not in self._addresses)

    # -- following the hosts --------------------------------------------------------------------

    def _supervise(self) -> None:
        while not self._stop.wait(self.refresh):
            self._sync()

    def _sync(self) -> None:
        try:
            hosts = dict(self.hosts())
        except Exception:  # noqa: BLE001 - keep the current watches until the host list answers again
            log.exception("listing hosts for the death watch failed")
            return
        self._addresses = frozenset(h.address for h in hosts.values())
        for name in list(self._watches):
            watch = self._watches[name]
            if hosts.get(name) is not watch.host or watch.hung():  # removed, re-registered differently, or stuck
                if watch.hung():
                    log.warning("death watch: the events of %s stopped answering; subscribing afresh", name)
                self._watches.pop(name).stop()
        for name, host in hosts.items():
            if name not in self._watches and not self._stop.is_set():
                self._watches[name] = _HostWatch(self, host)


class _HostWatch:
    """One host's event stream, in windows of :data:`WINDOW` seconds that the engine itself closes (an
    event stream has no read timeout: a host that vanished would otherwise hold it open for ever).
    Each window is subscribed first and swept second, so a container that died before it is found by
    the sweep and one that dies after by its event. Errors (engine restarting, host unreachable)
    are retried with a growing delay. Events are handled by a second thread, all those that piled up
    meanwhile at once (a scale-down stops many containers in a burst)."""

    def __init__(self, owner: DeathWatch, host: Host):
        self.owner, self.host = owner, host
        self.subscribed = threading.Event()
        self._stopped = threading.Event()
        self._stream = None
        self._events: queue.SimpleQueue = queue.SimpleQueue()
        self._deadline = float("inf")  # monotonic time by which the current window must have ended
        threading.Thread(target=self._run, name=f"deathwatch-{host.name}", daemon=True).start()
        threading.Thread(target=self._work, name=f"deathwatch-{host.name}-handler", daemon=True).start()

    def hung(self) -> bool:
        """Still inside a window that should have ended long ago (its host vanished mid-stream)."""
        return time.monotonic() > self._deadline

    def stop(self) -> None:
        self._stopped.set()
        self._events.put(None)
        self._close()

    def _run(self) -> None:
        delay, failing, since = 0.0, False, None
        filters = {"type": "container", "event": list(EVENTS), "label": [f"{LABEL_PLATFORM}={self.host.platform}"]}
        while not self._stopped.wait(delay):
            # Each window after the first starts where the one before stopped following (the engine
            # replays what happened in between): a death between two windows is not missed, even by
            # the sweep, which still sees a container that was killed but has not exited yet as running.
            began = int(time.time())
            until = began + WINDOW
            self._deadline = time.monotonic() + WINDOW + HUNG_AFTER
            try:
                self._stream = self.host.client.api.events(since=since, until=until, filters=filters, decode=True)
                since = began
                if self._stopped.is_set():
                    break
                self.subscribed.set()
                self.owner.sweep(self.host)
                if failing:
                    log.info("death watch: following the events of %s again", self.host.name)
                failing = False
                for event in self._stream:
                    self._events.put(event)
                    since = max(since, int(event.get("time") or 0))
                # The window ended, or the engine closed the stream early (then wait a little).
                delay = 0.0 if time.time() >= until else 0.1
                since = max(since, min(until, int(time.time())) - 1)
            except Exception as exc:  # noqa: BLE001 - whatever the engine or transport raised, subscribe again
                if self._stopped.is_set():
                    break
                if not failing:
                    log.warning("death watch: the events of %s stopped (%s); subscribing again",
                                self.host.name, exc or type(exc).__name__)
                failing = True
                delay = min(max(delay * 2, 0.25), RETRY_MAX)
            finally:
                self.subscribed.clear()
                self._close()
        self._deadline = float("inf")

    def _work(self) -> None:
        while True:
            batch = [self._events.get()]
            while not self._events.empty():
                batch.append(self._events.get())
            if self._stopped.is_set():
                return
            try:
                self.owner.handle(self.host, [event for event in batch if event is not None])
            except Exception:  # noqa: BLE001 - one failed update (nginx refusing, engine call failing) is logged
                log.exception("death watch: handling %d event(s) of %s failed", len(batch), self.host.name)

    def _close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.close()
            except Exception:  # noqa: BLE001 - the SDK cannot cancel an SSH stream: its window ends it
                log.debug("closing the event stream of %s failed", self.host.name, exc_info=True)

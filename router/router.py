"""The router of one platform: persisted routes, rendered to nginx.conf, checked, swapped and reloaded.

Two nginx masters share the prefix (see :mod:`router.nginxconf`): the routing tier (``PREFIX``) is
reloaded on every change; the edge (``PREFIX/edge``) holds the clients' connections and is not.
:meth:`Router.start` and :meth:`Router.serve` (``python -m router``) run both. A router whose
edge was never configured renders the routing tier to listen on the router port itself, so an
nginx started directly with ``-p PREFIX -c PREFIX/nginx.conf`` serves on its own.
Several processes (controller workers, the reconcile loop) update routes; every update holds an
exclusive file lock on ``<prefix>/router.lock`` for its read-render-check-swap-reload cycle, and the
full configuration is always re-rendered from the persisted state in ``<prefix>/routes.json``.
"""
from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Callable, Iterable, Mapping

from deiscore.processes import port_answers
from router import nginx
from router.errors import RouterError
from router.nginxconf import ROUTING_SOCKET, listen_address, render, render_edge
from router.routes import Route, make_route, route_from_dict, upsert, validate_app, without

log = logging.getLogger(__name__)

STATE_NAME = "routes.json"
EDGE_DIR = "edge"
LOCK_NAME = "router.lock"
DEATH_MEMORY = 60.0  # seconds a dead upstream is remembered against stale container listings


class Router:
    """Routes of one platform, served by the nginx masters running with ``prefix``."""

    def __init__(self, prefix: Path | str, port: int, listen_address: str = "0.0.0.0", binary: str = "nginx",
                 worker_processes: int | str | None = None, access_log: bool = True):
        """``worker_processes`` of each tier; by default the two tiers share the cores (half each)."""
        self.prefix = Path(prefix).resolve()
        self.edge_prefix = self.prefix / EDGE_DIR
        self.port = port
        self.listen_address = listen_address
        self.binary = binary
        self.worker_processes = worker_processes or max(1, (os.cpu_count() or 2) // 2)
        self.access_log = access_log
        self._deaths: dict[tuple[str, str], float] = {}  # (app, upstream) -> when its container died

    @classmethod
    def from_settings(cls, settings, **kwargs) -> "Router":
        """The platform's router: prefix ``$DEIS_HOME/router``, port ``DEIS_ROUTER_PORT``."""
        return cls(Path(settings.home) / "router", settings.router_port, **kwargs)

    # -- reading -------------------------------------------------------------------------------

    def routes(self) -> list[Route]:
        return self._load()

    def route(self, app: str) -> Route | None:
        return next((r for r in self._load() if r.app == app), None)

    def render(self, routes: Iterable[Route] | None = None) -> str:
        routes = self._load() if routes is None else routes
        listen = None if self.has_edge else listen_address(self.port, self.listen_address)
        return render(routes, self.worker_processes, self.access_log, listen)

    @property
    def has_edge(self) -> bool:
        return (self.edge_prefix / nginx.CONF_NAME).exists()

    def render_edge(self) -> str:
        return render_edge(self.port, self.listen_address, self.worker_processes)

    # -- updating ------------------------------------------------------------------------------

    def set_app_routes(self, app: str, hostnames: Iterable[str], upstreams: Iterable[str] = (),
                       settings: Mapping | None = None, listed_at: float | None = None) -> bool:
        """Route ``hostnames`` of ``app`` to ``upstreams``; return False when nothing changed.

        ``listed_at`` (``time.monotonic()``): when the caller listed the containers behind ``upstreams``;
        any of them that :meth:`remove_upstreams` took out since then is left out (its container died
        after that listing). Raises InvalidRoute/HostnameConflict before touching anything,
        ConfigRejected when nginx refuses the result (the running configuration stays as it was).
        """
        if listed_at is not None:
            upstreams = [u for u in upstreams if self._deaths.get((app, u), float("-inf")) <= listed_at]
        route = make_route(app, hostnames, upstreams, settings)
        return self._update(lambda routes: upsert(routes, route))

    def set_upstreams(self, app: str, upstreams: Iterable[str]) -> bool:
        """Replace only the upstreams of an app that already has a route; False if it has none."""
        def change(routes: list[Route]) -> list[Route]:
            current = next((r for r in routes if r.app == app), None)
            if current is None:
                return routes
            return upsert(routes, make_route(app, current.hostnames, upstreams, current.settings))
        return self._update(change)

    def remove_upstreams(self, app: str, upstreams: Iterable[str]) -> bool:
        """Take ``upstreams`` (their containers died) out of the app's route, keeping whatever else it
        holds, even what another process set since the caller read it; False when none was routed."""
        gone = set(upstreams)
        now = time.monotonic()
        self._deaths = {key: at for key, at in self._deaths.items() if now - at < DEATH_MEMORY}
        self._deaths.update({(app, upstream): now for upstream in gone})

        def change(routes: list[Route]) -> list[Route]:
            current = next((r for r in routes if r.app == app), None)
            if current is None or not gone & set(current.upstreams):
                return routes
            kept = tuple(u for u in current.upstreams if u not in gone)
            return upsert(routes, dataclasses.replace(current, upstreams=kept))
        return self._update(change)

    def remove_app(self, app: str) -> bool:
        validate_app(app)
        return self._update(lambda routes: without(routes, app))

    def apply(self) -> None:
        """Re-render the configuration from the persisted routes, check it and reload."""
        self._update(lambda routes: routes, force=True)

    # -- the nginx master ----------------------------------------------------------------------

    def start(self, timeout: float = 10.0, new_session: bool = True) -> int:
        """Write both configurations and start the routing tier, then the edge (each a no-op when it
        runs already); return the edge's master pid."""
        self._write_edge()
        self.apply()
        socket = self.prefix / ROUTING_SOCKET
        if nginx.master_pid(self.prefix) is None:
            nginx.socket_dir(socket.parent)
            socket.unlink(missing_ok=True)  # left by a master that was killed
        nginx.start(self.prefix, self.binary, timeout, ready=socket.exists, cwd=self.prefix, new_session=new_session)
        host = "127.0.0.1" if self.listen_address in ("0.0.0.0", "127.0.0.1") else self.listen_address
        return nginx.start(self.edge_prefix, self.binary, timeout, ready=lambda: port_answers(self.port, host),
                           cwd=self.prefix, new_session=new_session)

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop the edge, then the routing tier, gracefully; False when neither was running."""
        edge = nginx.stop(self.edge_prefix, timeout)
        return nginx.stop(self.prefix, timeout) or edge

    def pid(self) -> int | None:
        """The edge's master pid, None when the router is not running."""
        return nginx.master_pid(self.edge_prefix)

    def serve(self, stop: threading.Event | None = None, poll: float = 0.5) -> int:
        """Run both masters in this process group until ``stop`` is set or one of them dies; then stop
        both. For ``deisctl up`` (``python -m router``); returns an exit status."""
        stop = stop or threading.Event()
        try:
            self.start(new_session=False)
            while not stop.wait(poll):
                if nginx.master_pid(self.prefix) is None or nginx.master_pid(self.edge_prefix) is None:
                    log.error("an nginx master of %s exited; stopping the router", self.prefix)
                    return 1
            return 0
        finally:
            self.stop()

    # -- internals -----------------------------------------------------------------------------

    def _update(self, change: Callable[[list[Route]], list[Route]], force: bool = False) -> bool:
        nginx.ensure_dirs(self.prefix)
        with _locked(self.prefix / LOCK_NAME):
            routes = self._load()
            new = change(list(routes))
            conf = self.prefix / nginx.CONF_NAME
            if new == routes and not force and conf.exists():
                return False
            candidate = self.prefix / (nginx.CONF_NAME + ".next")
            candidate.write_text(self.render(new))
            try:
                nginx.check_config(self.prefix, candidate, self.binary)
            except RouterError:
                candidate.unlink(missing_ok=True)
                raise
            os.replace(candidate, conf)
            self._save(new)
            reloaded = nginx.reload(self.prefix)
            log.info("router config updated (%d apps, reloaded=%s)", len(new), reloaded)
            return True

    def _write_edge(self) -> None:
        """The edge's configuration depends only on the port and address: rewritten (and the edge
        reloaded) only when those settings changed."""
        nginx.ensure_dirs(self.edge_prefix)
        with _locked(self.prefix / LOCK_NAME):
            conf, text = self.edge_prefix / nginx.CONF_NAME, self.render_edge()
            if conf.exists() and conf.read_text() == text:
                return
            candidate = self.edge_prefix / (nginx.CONF_NAME + ".next")
            candidate.write_text(text)
            nginx.check_config(self.edge_prefix, candidate, self.binary)
            os.replace(candidate, conf)
            nginx.reload(self.edge_prefix)

    def _load(self) -> list[Route]:
        try:
            data = json.loads((self.prefix / STATE_NAME).read_text())
        except FileNotFoundError:
            return []
        return [route_from_dict(item) for item in data["routes"]]

    def _save(self, routes: list[Route]) -> None:
        path = self.prefix / STATE_NAME
        tmp = path.with_suffix(".json.next")
        tmp.write_text(json.dumps({"routes": [r.as_dict() for r in routes]}, indent=1, sort_keys=True))
        os.replace(tmp, path)


@contextlib.contextmanager
def _locked(path: Path):
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def start(prefix: Path | str, port: int, listen_address: str = "0.0.0.0", **kwargs) -> int:
    """Start the router's nginx masters in the background; return the edge's master pid."""
    return Router(prefix, port, listen_address, **kwargs).start()


def stop(prefix: Path | str, timeout: float = 10.0) -> bool:
    """Stop the router's nginx masters; False when they were not running."""
    prefix = Path(prefix).resolve()
    edge = nginx.stop(prefix / EDGE_DIR, timeout)
    return nginx.stop(prefix, timeout) or edge

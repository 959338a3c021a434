"""The router of one platform: persisted routes, rendered to nginx.conf, checked, swapped and reloaded.

Several processes (controller workers, the reconcile loop) update routes; every update holds an
exclusive file lock on ``<prefix>/router.lock`` for its read-render-check-swap-reload cycle, and the
full configuration is always re-rendered from the persisted state in ``<prefix>/routes.json``.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
from pathlib import Path
from typing import Callable, Iterable, Mapping

from router import nginx
from router.errors import RouterError
from router.nginxconf import render
from router.routes import Route, make_route, route_from_dict, upsert, validate_app, without

log = logging.getLogger(__name__)

STATE_NAME = "routes.json"
LOCK_NAME = "router.lock"


class Router:
    """Routes of one platform, served by the nginx master running with ``prefix``."""

    def __init__(self, prefix: Path | str, port: int, listen_address: str = "0.0.0.0", binary: str = "nginx",
                 worker_processes: int | str = "auto", access_log: bool = True):
        self.prefix = Path(prefix).resolve()
        self.port = port
        self.listen_address = listen_address
        self.binary = binary
        self.worker_processes = worker_processes
        self.access_log = access_log

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
        return render(routes, self.port, self.listen_address, self.worker_processes, self.access_log)

    # -- updating ------------------------------------------------------------------------------

    def set_app_routes(self, app: str, hostnames: Iterable[str], upstreams: Iterable[str] = (),
                       settings: Mapping | None = None) -> bool:
        """Route ``hostnames`` of ``app`` to ``upstreams``; return False when nothing changed.

        Raises InvalidRoute/HostnameConflict before touching anything, ConfigRejected when nginx
        refuses the result (the running configuration stays as it was).
        """
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

    def remove_app(self, app: str) -> bool:
        validate_app(app)
        return self._update(lambda routes: without(routes, app))

    def apply(self) -> None:
        """Re-render the configuration from the persisted routes, check it and reload."""
        self._update(lambda routes: routes, force=True)

    # -- the nginx master ----------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> int:
        """Write the configuration from state and start nginx (no-op if running); return the master pid."""
        self.apply()
        host = "127.0.0.1" if self.listen_address in ("0.0.0.0", "127.0.0.1") else self.listen_address
        return nginx.start(self.prefix, self.binary, timeout, port=self.port, host=host)

    def stop(self, timeout: float = 10.0) -> bool:
        return nginx.stop(self.prefix, timeout)

    def pid(self) -> int | None:
        return nginx.master_pid(self.prefix)

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
    """Start the router's nginx for ``deisctl up``; return the master pid."""
    return Router(prefix, port, listen_address, **kwargs).start()


def stop(prefix: Path | str, timeout: float = 10.0) -> bool:
    """Stop the router's nginx for ``deisctl down``; False when it was not running."""
    return nginx.stop(Path(prefix).resolve(), timeout)

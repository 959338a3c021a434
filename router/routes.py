"""Routes: which hostnames go to which upstreams of an app, and with what proxy settings.

Everything here is pure and validated: a route that passes :func:`make_route` can be rendered
into nginx configuration without any way to inject directives or break another app's server block.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Iterable, Mapping

from deiscore import validation
from deiscore.errors import InvalidInput
from deiscore.validation import DNS_LABEL as _LABEL
from router.errors import HostnameConflict, InvalidRoute

HOSTNAME = re.compile(rf"(?:\*\.)?{_LABEL}(?:\.{_LABEL})*")
UPSTREAM = re.compile(r"(?P<host>(?:\d{1,3}\.){3}\d{1,3}|\[[0-9a-fA-F:.]+\]|" + _LABEL + r"(?:\." + _LABEL + r")*)"
                      r":(?P<port>\d{1,5})")
_DURATION = re.compile(r"(?P<value>\d{1,7})(?P<unit>ms|s|m)?")
_SIZE = re.compile(r"(?P<value>\d{1,10})(?P<unit>[kKmMgG]?)")
_DURATION_MS = {"ms": 1, "s": 1000, "m": 60_000, None: 1000}
_SIZE_BYTES = {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}

MAX_BODY_SIZE = 10 * 1024 ** 3
# Upper bounds in milliseconds; nginx itself caps the connect timeout at 75 s.
TIMEOUT_LIMITS_MS = {"connect_timeout": 75_000, "read_timeout": 3_600_000, "send_timeout": 3_600_000}


@dataclass(frozen=True)
class RouteSettings:
    """Per-app proxy settings, already normalized to nginx syntax ("10m", "60s", "500ms")."""

    max_body_size: str = "1m"
    # Upstreams are on this machine or the cluster's private network, where a connection opens in
    # well under a millisecond: a host that has not answered in 2 s is gone, so fail over to the next.
    connect_timeout: str = "2s"
    read_timeout: str = "60s"
    send_timeout: str = "60s"

    def as_dict(self) -> dict:
        return {"max_body_size": self.max_body_size, "connect_timeout": self.connect_timeout,
                "read_timeout": self.read_timeout, "send_timeout": self.send_timeout}


@dataclass(frozen=True)
class Route:
    """One app's routing: hostnames served, upstreams (``host:port``) and settings."""

    app: str
    hostnames: tuple[str, ...]
    upstreams: tuple[str, ...] = ()
    settings: RouteSettings = field(default_factory=RouteSettings)

    def as_dict(self) -> dict:
        return {"app": self.app, "hostnames": list(self.hostnames), "upstreams": list(self.upstreams),
                "settings": self.settings.as_dict()}


def normalize_duration(app: str, name: str, raw) -> str:
    """Accept seconds as a number or an nginx-style "500ms"/"30s"/"2m"; return nginx syntax."""
    if isinstance(raw, bool):
        raise InvalidRoute(app, name, raw, "expected a duration such as 30, '30s' or '500ms'")
    text = str(raw) if isinstance(raw, int) else raw
    if not isinstance(text, str):
        raise InvalidRoute(app, name, raw, "expected a duration such as 30, '30s' or '500ms'")
    match = _DURATION.fullmatch(text)
    if match is None:
        raise InvalidRoute(app, name, raw, "expected a duration such as 30, '30s' or '500ms'")
    unit = match["unit"]
    millis = int(match["value"]) * _DURATION_MS[unit]
    limit = TIMEOUT_LIMITS_MS[name]
    if not 0 < millis <= limit:
        raise InvalidRoute(app, name, raw, f"must be more than 0 and at most {limit // 1000}s")
    return f"{match['value']}{unit or 's'}"


def normalize_size(app: str, name: str, raw) -> str:
    """Accept bytes as a number or "512k"/"10m"/"1g" (0 disables the limit); return nginx syntax."""
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        raise InvalidRoute(app, name, raw, "expected a size such as '10m', '512k' or a number of bytes")
    match = _SIZE.fullmatch(str(raw))
    if match is None:
        raise InvalidRoute(app, name, raw, "expected a size such as '10m', '512k' or a number of bytes")
    if int(match["value"]) * _SIZE_BYTES[match["unit"].lower()] > MAX_BODY_SIZE:
        raise InvalidRoute(app, name, raw, "must be at most 10g")
    return f"{int(match['value'])}{match['unit'].lower()}"


def make_settings(app: str, raw: Mapping | None) -> RouteSettings:
    """Validate user-provided settings; unknown keys are rejected, missing keys keep defaults."""
    raw = dict(raw or {})
    known = RouteSettings().as_dict()
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise InvalidRoute(app, "setting", unknown[0], f"unknown setting; known: {', '.join(sorted(known))}")
    values = {}
    for name, value in raw.items():
        if value is None:
            continue
        if name == "max_body_size":
            values[name] = normalize_size(app, name, value)
        else:
            values[name] = normalize_duration(app, name, value)
    return replace(RouteSettings(), **values)


def validate_app(app) -> str:
    try:
        return validation.app_name(app)
    except InvalidInput as exc:
        raise InvalidRoute(str(app), "app name", app, exc.reason) from None


def validate_hostname(app: str, hostname) -> str:
    if not isinstance(hostname, str) or len(hostname) > 253 or HOSTNAME.fullmatch(hostname) is None:
        raise InvalidRoute(app, "hostname", hostname, "expected a lowercase DNS name such as www.example.com")
    return hostname


def validate_upstream(app: str, upstream) -> str:
    match = UPSTREAM.fullmatch(upstream) if isinstance(upstream, str) else None
    if match is None:
        raise InvalidRoute(app, "upstream", upstream, "expected host:port")
    if not 0 < int(match["port"]) < 65536:
        raise InvalidRoute(app, "upstream", upstream, "port must be between 1 and 65535")
    return upstream


def make_route(app: str, hostnames: Iterable[str], upstreams: Iterable[str] = (),
               settings: Mapping | RouteSettings | None = None) -> Route:
    """Build a validated :class:`Route`; raise :class:`InvalidRoute` naming the bad value."""
    validate_app(app)
    hostnames = tuple(dict.fromkeys(validate_hostname(app, h) for h in hostnames))
    if not hostnames:
        raise InvalidRoute(app, "hostnames", [], "an app needs at least one hostname")
    upstreams = tuple(dict.fromkeys(validate_upstream(app, u) for u in upstreams))
    if not isinstance(settings, RouteSettings):
        settings = make_settings(app, settings)
    return Route(app=app, hostnames=hostnames, upstreams=upstreams, settings=settings)


def route_from_dict(data: Mapping) -> Route:
    return make_route(data["app"], data["hostnames"], data.get("upstreams", ()), data.get("settings"))


def check_conflicts(routes: Iterable[Route]) -> None:
    """Raise :class:`HostnameConflict` when two apps claim the same hostname."""
    owners: dict[str, str] = {}
    for route in routes:
        for hostname in route.hostnames:
            owner = owners.setdefault(hostname, route.app)
            if owner != route.app:
                raise HostnameConflict(route.app, hostname, owner)


def upsert(routes: Iterable[Route], route: Route) -> list[Route]:
    """Return routes with ``route`` replacing any previous route of the same app (sorted by app)."""
    merged = {r.app: r for r in routes}
    merged.pop(route.app, None)
    check_conflicts([*merged.values(), route])  # the new route is the one blamed for a clash
    merged[route.app] = route
    return [merged[name] for name in sorted(merged)]


def without(routes: Iterable[Route], app: str) -> list[Route]:
    return [r for r in routes if r.app != app]

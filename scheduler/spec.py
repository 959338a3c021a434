"""What a release should run: :class:`ReleaseSpec`, plain data validated on construction."""
from __future__ import annotations

import shlex
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from typing import Mapping

from deiscore import validation
from deiscore.errors import InvalidInput
from deiscore.validation import MEMORY, PROCESS_TYPE, memory_bytes  # noqa: F401 - for containers, scheduler
from scheduler.errors import InvalidSpec

KINDS = ("buildpack", "dockerfile", "image")
CHECK_TYPES = ("startup", "readiness", "liveness")  # app.json's (Dokku's) kinds of health checks
GATING_TYPES = ("startup", "readiness")  # the ones a new container must pass before it gets traffic
DEFAULT_PORT = 5000  # the web port of an app whose image exposes none (and of every release before ports were kept)


@dataclass(frozen=True)
class HealthCheck:
    """HTTP check of a web container, sent with the app's Host header once its port accepts connections."""

    path: str = "/"
    status: int = 200
    timeout: float = 2.0
    interval: float = 0.5
    initial_delay: float = 0.0

    def __post_init__(self):
        if not isinstance(self.path, str) or not self.path.startswith("/") or any(c in self.path for c in " \r\n"):
            raise InvalidSpec("healthcheck path", self.path, "must start with / and contain no whitespace")
        if not isinstance(self.status, int) or not 100 <= self.status <= 599:
            raise InvalidSpec("healthcheck status", self.status, "must be an HTTP status (100-599)")
        for name, low, high in (("timeout", 0.01, 60), ("interval", 0.01, 60), ("initial_delay", 0, 300)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
                raise InvalidSpec(f"healthcheck {name}", value, f"must be seconds between {low} and {high}")


@dataclass(frozen=True)
class Check:
    """One of app.json's health checks of a process type, as :mod:`deiscore.appjson` normalizes it
    (Dokku's format and defaults).

    ``path``: ``GET`` it on the web port with the app's Host header; healthy on a 2xx or 3xx answer
    whose body contains ``content`` (when given). Up to ``attempts`` tries, ``wait`` seconds apart, each
    of at most ``timeout`` seconds, the first ``initial_delay`` seconds after the container started.
    ``uptime``: the process must stay up (not exit) that many seconds after it started; a startup
    check's uptime replaces the platform's start check for its type.
    ``startup`` and ``readiness`` checks gate the cutover; ``liveness`` checks run while it serves."""

    type: str = "startup"
    name: str = "check"
    path: str | None = None
    content: str | None = None
    attempts: int = 3
    wait: float = 5.0
    timeout: float = 5.0
    initial_delay: float = 0.0
    uptime: float | None = None

    def __post_init__(self):
        if self.type not in CHECK_TYPES:
            raise InvalidSpec("check type", self.type, f"must be one of {', '.join(CHECK_TYPES)}")
        if not isinstance(self.name, str) or not self.name or len(self.name) > 200:
            raise InvalidSpec("check name", self.name, "must be a string of 1 to 200 characters")
        if self.path is not None and (not isinstance(self.path, str) or not self.path.startswith("/")
                                      or len(self.path) > 2048 or any(c.isspace() or ord(c) < 32 for c in self.path)):
            raise InvalidSpec(f"path of check {self.name!r}", self.path, "must start with / and contain no whitespace")
        if self.content is not None and (not isinstance(self.content, str) or not self.content
                                         or len(self.content) > 4096 or self.path is None):
            raise InvalidSpec(f"content of check {self.name!r}", self.content,
                              "must be a non-empty string, with a path to fetch")
        for name, low, high, kinds in (("attempts", 1, 100, int), ("wait", 0, 300, (int, float)),
                                       ("timeout", 0.01, 300, (int, float)), ("initial_delay", 0, 300, (int, float)),
                                       ("uptime", 0, 300, (int, float))):
            value = getattr(self, name)
            if value is None and name == "uptime":
                continue
            if isinstance(value, bool) or not isinstance(value, kinds) or not low <= value <= high:
                raise InvalidSpec(f"{name} of check {self.name!r}", value, f"must be from {low:g} to {high:g}")
        if self.type != "startup" and self.path is None and self.uptime is None:
            raise InvalidSpec(f"check {self.name!r}", self.type, "a readiness or liveness check needs a path")

    @classmethod
    def of(cls, value) -> "Check":
        """A check from itself or from plain data (a spec read back, a build's normalized app.json)."""
        if isinstance(value, Check):
            return value
        if not isinstance(value, Mapping):
            raise InvalidSpec("check", value, "must be a mapping")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(value) - known)
        if unknown:
            raise InvalidSpec("check setting", unknown[0], f"known: {', '.join(sorted(known))}")
        return cls(**value)


@dataclass(frozen=True)
class ReleaseSpec:
    """Desired state of one app: release ``version`` of ``image`` with these processes and settings."""

    app: str
    version: int
    image: str
    kind: str = "buildpack"
    procfile: Mapping[str, str] = field(default_factory=dict)
    config: Mapping[str, str] = field(default_factory=dict)
    scale: Mapping[str, int] = field(default_factory=dict)
    limits: Mapping[str, Mapping] = field(default_factory=dict)
    healthcheck: HealthCheck | Mapping | None = None  # HEALTHCHECK_* config's check of the web type
    checks: Mapping[str, tuple[Check, ...]] = field(default_factory=dict)  # app.json's, by process type
    domains: tuple[str, ...] = ()
    routing: Mapping = field(default_factory=dict)  # router settings: max_body_size, read_timeout, ...
    tags: Mapping[str, str] = field(default_factory=dict)  # hosts must carry these (deis tags:set)
    port: int = DEFAULT_PORT  # the web process's container port (and every process's PORT)
    entrypoint: bool = False  # the image has an ENTRYPOINT: Procfile commands reach it as words

    def __post_init__(self):
        with platform_rules():
            self._check_rules()
        if isinstance(self.version, bool) or not isinstance(self.version, int) or self.version < 1:
            raise InvalidSpec("version", self.version, "must be a positive integer")
        if not isinstance(self.image, str) or not self.image or any(c.isspace() for c in self.image):
            raise InvalidSpec("image", self.image, "must be a non-empty image reference")
        if self.kind not in KINDS:
            raise InvalidSpec("kind", self.kind, f"must be one of {', '.join(KINDS)}")
        if isinstance(self.port, bool) or not isinstance(self.port, int) or not 1 <= self.port <= 65535:
            raise InvalidSpec("port", self.port, "must be a TCP port (1-65535)")
        if not isinstance(self.entrypoint, bool):
            raise InvalidSpec("entrypoint", self.entrypoint, "must be true or false")
        if self.entrypoint and self.kind != "buildpack":
            for ptype, command in self.procfile.items():
                check_exec_command(ptype, command)
        for ptype, count in self.scale.items():
            if count and not self.has_type(ptype):
                raise InvalidSpec("process type", ptype, f"not in the Procfile of {self.app} v{self.version}")
        if isinstance(self.healthcheck, Mapping):
            known = {f.name for f in fields(HealthCheck)}
            unknown = sorted(set(self.healthcheck) - known)
            if unknown:
                raise InvalidSpec("healthcheck setting", unknown[0], f"known: {', '.join(sorted(known))}")
            object.__setattr__(self, "healthcheck", HealthCheck(**self.healthcheck))
        elif self.healthcheck is not None and not isinstance(self.healthcheck, HealthCheck):
            raise InvalidSpec("healthcheck", self.healthcheck, "must be a mapping or None")
        object.__setattr__(self, "domains", tuple(self.domains))
        object.__setattr__(self, "checks", self._checked_checks())

    def _checked_checks(self) -> dict[str, tuple[Check, ...]]:
        if not isinstance(self.checks, Mapping):
            raise InvalidSpec("checks", self.checks, "must map process types to lists of checks")
        checks = {}
        for ptype, entries in self.checks.items():
            with platform_rules():
                validation.process_type(ptype)
            if isinstance(entries, (str, bytes, Mapping)) or not hasattr(entries, "__iter__"):
                raise InvalidSpec(f"checks of {ptype}", entries, "must be a list of checks")
            checks[ptype] = tuple(Check.of(entry) for entry in entries)
            if ptype not in ("web", self.web_type) and any(c.path for c in checks[ptype]):
                raise InvalidSpec(f"checks of {ptype}", ptype, "only web processes answer HTTP checks")
        return checks

    def _check_rules(self) -> None:
        """The platform's rules (deiscore.validation), as the controller applied them to the user's input."""
        validation.app_name(self.app)
        for ptype, command in self.procfile.items():
            validation.procfile_type(ptype)
            if command != "" or self.kind == "buildpack":  # "": an image's own command
                validation.procfile_command(ptype, command)
        for ptype, count in self.scale.items():
            validation.procfile_type(ptype)
            if isinstance(count, str):  # a count here is a number; only the API takes strings of digits
                raise InvalidInput(f"count for {ptype}", count, "must be a whole number")
            validation.scale_count(ptype, count)
        for key, value in self.config.items():
            validation.env_name(key)
            validation.config_value(key, value)
        for ptype, limit in self.limits.items():
            _check_limits(ptype, limit)
        validation.tags(self.tags)

    def has_type(self, ptype: str) -> bool:
        """A type of the Procfile; an image (Dockerfile, ``deis pull``) built before its own command ran
        as ``web`` has the implicit ``cmd``."""
        return ptype in self.procfile or (ptype == "cmd" and self.kind != "buildpack" and "web" not in self.procfile)

    @property
    def web_type(self) -> str | None:
        """The process type the router sends traffic to: ``web``, else an older image's default ``cmd``."""
        if "web" in self.procfile:
            return "web"
        return "cmd" if self.kind != "buildpack" else None

    def command(self, ptype: str) -> str:
        """The Procfile command of ``ptype``; "" for an image's own command (ENTRYPOINT + CMD)."""
        return self.procfile.get(ptype, "")

    def checks_for(self, ptype: str, *types: str) -> tuple[Check, ...]:
        """app.json's checks of ``ptype`` (of ``web`` for an older image's ``cmd`` web type), in their
        order; only those of ``types`` when given."""
        found = self.checks.get(ptype, ()) or (self.checks.get("web", ()) if ptype == self.web_type else ())
        return tuple(c for c in found if not types or c.type in types)

    def start_check(self, ptype: str, default: float) -> float:
        """Seconds a new process of ``ptype`` must stay up before a change counts it as running.

        The uptime of app.json's startup checks of the type, if any says one. Otherwise ``default`` (the
        platform's start check) for every type but the web type: a web container is already gated by
        its health check before the router switches to it, and making it also wait ``default`` seconds
        would delay every deploy's switch by that much for little more assurance."""
        uptimes = [c.uptime for c in self.checks_for(ptype, "startup") if c.uptime is not None]
        if uptimes:
            return float(max(uptimes))
        return 0.0 if ptype == self.web_type else float(default)

    def desired_scale(self) -> dict[str, int]:
        return {ptype: count for ptype, count in sorted(self.scale.items()) if count > 0}

    def as_dict(self) -> dict:
        """Plain JSON-able data; :meth:`from_dict` gives an equal spec back."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data.update(procfile=dict(self.procfile), config=dict(self.config), scale=dict(self.scale),
                    limits={ptype: dict(limit) for ptype, limit in self.limits.items()},
                    healthcheck=asdict(self.healthcheck) if self.healthcheck else None,
                    checks={ptype: [asdict(c) for c in checks] for ptype, checks in self.checks.items()},
                    domains=list(self.domains), routing=dict(self.routing), tags=dict(self.tags))
        return data

    @classmethod
    def from_dict(cls, data: Mapping) -> "ReleaseSpec":
        return cls(**{**data, "domains": tuple(data.get("domains", ()))})


def check_exec_command(ptype: str, command: str) -> list[str]:
    """The words a command gives an image's ENTRYPOINT (exec form); refuses what cannot be split."""
    try:
        return shlex.split(command)
    except ValueError as exc:
        raise InvalidSpec(f"command of {ptype}", command,
                          f"cannot be split into words for the image's ENTRYPOINT ({exc})") from None


@contextmanager
def platform_rules():
    """Raise a broken rule of :mod:`deiscore.validation` as :class:`InvalidSpec`, with the rule's message
    (the one the API gives for the same value)."""
    try:
        yield
    except InvalidInput as exc:
        error = InvalidSpec(exc.field, exc.value, exc.reason)
        error.args = (exc.detail,)  # the rule's own words (a config value is never repeated in them)
        raise error from None


def _check_limits(ptype, limit) -> None:
    """Limits of a process type: "run" too, which one-off containers get."""
    validation.process_type(ptype)
    if not isinstance(limit, Mapping) or set(limit) - {"memory", "cpu"}:
        raise InvalidInput(f"limits of {ptype}", limit, "only 'memory' and 'cpu' can be limited")
    if limit.get("memory") is not None:
        validation.memory(limit["memory"], ptype)
    cpu = limit.get("cpu")
    if cpu is not None:
        if isinstance(cpu, str):  # cores here are a number; only the API takes strings of one
            raise InvalidInput(f"cpu limit of {ptype}", cpu, "must be a number")
        validation.cpu(cpu, ptype)

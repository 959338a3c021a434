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
    healthcheck: HealthCheck | Mapping | None = None
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

    def desired_scale(self) -> dict[str, int]:
        return {ptype: count for ptype, count in sorted(self.scale.items()) if count > 0}

    def as_dict(self) -> dict:
        """Plain JSON-able data; :meth:`from_dict` gives an equal spec back."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data.update(procfile=dict(self.procfile), config=dict(self.config), scale=dict(self.scale),
                    limits={ptype: dict(limit) for ptype, limit in self.limits.items()},
                    healthcheck=asdict(self.healthcheck) if self.healthcheck else None,
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

"""What a release should run: :class:`ReleaseSpec`, plain data validated on construction."""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from typing import Mapping

from scheduler.errors import InvalidSpec

APP_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
PROCESS_TYPE = re.compile(r"[a-z0-9]+(?:[-_][a-z0-9]+)*")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MEMORY = re.compile(r"[1-9]\d{0,9}[bkmgBKMG]?")
KINDS = ("buildpack", "dockerfile", "image")
MAX_SCALE = 100
RESERVED_TYPES = ("run",)  # one-off containers


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

    def __post_init__(self):
        if not isinstance(self.app, str) or len(self.app) > 63 or not APP_NAME.fullmatch(self.app):
            raise InvalidSpec("app name", self.app, "use lowercase letters, digits and single hyphens")
        if isinstance(self.version, bool) or not isinstance(self.version, int) or self.version < 1:
            raise InvalidSpec("version", self.version, "must be a positive integer")
        if not isinstance(self.image, str) or not self.image or any(c.isspace() for c in self.image):
            raise InvalidSpec("image", self.image, "must be a non-empty image reference")
        if self.kind not in KINDS:
            raise InvalidSpec("kind", self.kind, f"must be one of {', '.join(KINDS)}")
        for ptype, command in self.procfile.items():
            _check_type(ptype)
            if not isinstance(command, str) or not command.strip():
                raise InvalidSpec(f"command of {ptype}", command, "must be a non-empty string")
        for ptype, count in self.scale.items():
            _check_type(ptype)
            if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_SCALE:
                raise InvalidSpec(f"scale of {ptype}", count, f"must be an integer from 0 to {MAX_SCALE}")
            if count and not self.has_type(ptype):
                raise InvalidSpec("process type", ptype, f"not in the Procfile of {self.app} v{self.version}")
        for key, value in self.config.items():
            if not isinstance(key, str) or not ENV_NAME.fullmatch(key):
                raise InvalidSpec("config key", key, "must be a valid environment variable name")
            if not isinstance(value, str) or "\0" in value:
                raise InvalidSpec(f"config value of {key}", value, "must be a string without NUL bytes")
        for ptype, limit in self.limits.items():
            _check_limits(ptype, limit)
        if isinstance(self.healthcheck, Mapping):
            known = {f.name for f in fields(HealthCheck)}
            unknown = sorted(set(self.healthcheck) - known)
            if unknown:
                raise InvalidSpec("healthcheck setting", unknown[0], f"known: {', '.join(sorted(known))}")
            object.__setattr__(self, "healthcheck", HealthCheck(**self.healthcheck))
        elif self.healthcheck is not None and not isinstance(self.healthcheck, HealthCheck):
            raise InvalidSpec("healthcheck", self.healthcheck, "must be a mapping or None")
        object.__setattr__(self, "domains", tuple(self.domains))

    def has_type(self, ptype: str) -> bool:
        return ptype in self.procfile or (ptype == "cmd" and self.kind != "buildpack")

    @property
    def web_type(self) -> str | None:
        """The process type the router sends traffic to: ``web``, else an image's default ``cmd``."""
        if "web" in self.procfile:
            return "web"
        return "cmd" if self.kind != "buildpack" else None

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


def _check_type(ptype) -> None:
    if not isinstance(ptype, str) or len(ptype) > 63 or not PROCESS_TYPE.fullmatch(ptype):
        raise InvalidSpec("process type", ptype, "use lowercase letters, digits, - and _")
    if ptype in RESERVED_TYPES:
        raise InvalidSpec("process type", ptype, "is reserved for one-off containers")


def _check_limits(ptype, limit) -> None:
    _check_type(ptype)
    if not isinstance(limit, Mapping) or set(limit) - {"memory", "cpu"}:
        raise InvalidSpec(f"limits of {ptype}", limit, "only 'memory' and 'cpu' can be limited")
    memory = limit.get("memory")
    if memory is not None and (not isinstance(memory, str) or not MEMORY.fullmatch(memory)):
        raise InvalidSpec(f"memory limit of {ptype}", memory, "expected a size such as 256m or 1g")
    if memory is not None and memory_bytes(memory) < 6 * 1024 ** 2:
        raise InvalidSpec(f"memory limit of {ptype}", memory, "must be at least 6m (Docker's minimum)")
    cpu = limit.get("cpu")
    if cpu is not None and (isinstance(cpu, bool) or not isinstance(cpu, (int, float)) or not 0.01 <= cpu <= 64):
        raise InvalidSpec(f"cpu limit of {ptype}", cpu, "expected a number of CPUs between 0.01 and 64")


def memory_bytes(memory: str) -> int:
    units = {"b": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}
    unit = memory[-1].lower()
    return int(memory[:-1]) * units[unit] if unit in units else int(memory)

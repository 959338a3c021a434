"""Containers as plain data: what to start for a process (:class:`ContainerPlan`) and what a host
reports (:class:`Container`). Naming, labels, environment and commands are decided here, purely."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from deiscore import validation
from deiscore.errors import InvalidInput
from scheduler.errors import InvalidSpec
from scheduler.spec import DEFAULT_PORT, MEMORY, ReleaseSpec, check_exec_command, memory_bytes

CONTAINER_PORT = DEFAULT_PORT  # the web port of containers started before ports were labelled
LABEL_PLATFORM = "deis.platform"
LABEL_APP = "deis.app"
LABEL_RELEASE = "deis.release"
LABEL_TYPE = "deis.type"
LABEL_NUM = "deis.num"
LABEL_MEMORY = "deis.memory"  # bytes of the container's memory limit: what placement counts as reserved
LABEL_PORT = "deis.port"  # the container port a web container's traffic goes to
ONEOFF_TYPE = "run"
# What an ordinary app may still do as root (Dockerfile apps; a buildpack app runs as a user and has
# none): own and chmod its files, switch users, signal its processes, bind ports below 1024. Not raw
# sockets (NET_RAW: spoofing, ARP), mknod, chroot, setting file capabilities or writing the audit log.
CAPABILITIES = ("CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "NET_BIND_SERVICE", "SETGID", "SETUID")


@dataclass(frozen=True)
class Hardening:
    """What every app container gets whatever the app asks for (settings ``DEIS_DEFAULT_MEMORY``,
    ``DEIS_PIDS_LIMIT``, ``DEIS_LOG_MAX_SIZE``, ``DEIS_LOG_MAX_FILES``): no new privileges, only
    :data:`CAPABILITIES`, a pids limit, rotated logs, and ``memory`` for processes without a limit."""

    memory: str | None = "512m"
    pids: int = 1024
    log_max_size: str = "10m"
    log_max_files: int = 3
    capabilities: tuple[str, ...] = CAPABILITIES

    def __post_init__(self):
        if self.memory is not None:
            try:
                validation.memory(self.memory)
            except InvalidInput as exc:
                raise InvalidSpec("default memory limit", self.memory, exc.reason) from None
        if not 16 <= self.pids <= 1 << 22:
            raise InvalidSpec("pids limit", self.pids, "expected a number from 16 to 4194304")
        if not MEMORY.fullmatch(self.log_max_size) or not 1 <= self.log_max_files <= 100:
            raise InvalidSpec("log rotation", f"{self.log_max_size} x {self.log_max_files}",
                              "expected a size such as 10m and 1 to 100 files")

    @classmethod
    def from_settings(cls, settings) -> "Hardening":
        return cls(settings.default_memory, settings.pids_limit, settings.log_max_size, settings.log_max_files)

    @property
    def log_options(self) -> dict[str, str]:
        """Options of the json-file log driver (what ``deis logs`` reads)."""
        return {"max-size": self.log_max_size.lower(), "max-file": str(self.log_max_files)}


DEFAULT_HARDENING = Hardening()


@dataclass(frozen=True)
class ContainerPlan:
    """Everything a host needs to create one process container."""

    name: str
    app: str
    version: int
    type: str
    num: int
    image: str
    command: list[str] | None
    env: dict[str, str]
    labels: dict[str, str]
    memory: str | None = None
    nano_cpus: int | None = None
    publish: bool = False
    hardening: Hardening = DEFAULT_HARDENING
    port: int = CONTAINER_PORT  # the container port published (when ``publish``)


@dataclass(frozen=True)
class Container:
    """A process container as observed on a host."""

    id: str
    name: str
    host: str
    app: str
    version: int
    type: str
    num: int
    status: str  # docker's: created, running, restarting, paused, exited, dead, removing
    exit_code: int | None = None
    address: str | None = None  # host:port serving the web port, when published
    started_at: datetime | None = None
    finished_at: datetime | None = None
    labels: dict = field(default_factory=dict, compare=False)

    @property
    def running(self) -> bool:
        return self.status == "running"

    @property
    def key(self) -> str:
        return process_key(self.type, self.num)


def process_key(ptype: str, num: int) -> str:
    return f"{ptype}.{num}"


def container_name(app: str, version: int, ptype: str, num: int | str) -> str:
    return f"{app}_v{version}.{ptype}.{num}"


def process_command(spec: ReleaseSpec, ptype: str) -> list[str] | None:
    """The container command of a process type (None: the image's own ENTRYPOINT + CMD).

    Buildpack images have an entrypoint that sources .profile.d and runs its argument with bash -c.
    """
    if spec.kind == "buildpack":
        return [spec.procfile[ptype]]
    command = spec.command(ptype)
    return image_command(spec, ptype, command) if command else None


def oneoff_command(spec: ReleaseSpec, command: str) -> list[str]:
    if spec.kind == "buildpack":
        return [command]
    return image_command(spec, ONEOFF_TYPE, command)


def image_command(spec: ReleaseSpec, ptype: str, command: str) -> list[str]:
    """A command for a Docker image (Dokku's semantics): an image with an ENTRYPOINT receives the
    command's words as its arguments; otherwise ``sh -c`` runs it (so ``$PORT`` expands)."""
    return check_exec_command(ptype, command) if spec.entrypoint else ["sh", "-c", command]


def process_env(spec: ReleaseSpec) -> dict[str, str]:
    """Release config plus the platform's variables, which win over config keys of the same name."""
    return {**spec.config, "PORT": str(spec.port), "DEIS_APP": spec.app, "DEIS_RELEASE": f"v{spec.version}"}


def labels(platform: str, app: str, version: int, ptype: str, num: int | str,
           memory: str | None = None, port: int | None = None) -> dict[str, str]:
    found = {LABEL_PLATFORM: platform, LABEL_APP: app, LABEL_RELEASE: str(version), LABEL_TYPE: ptype,
             LABEL_NUM: str(num)}
    if memory:
        found[LABEL_MEMORY] = str(memory_bytes(memory))
    if port is not None:
        found[LABEL_PORT] = str(port)
    return found


def web_port(container_labels: dict) -> int:
    """The container port a web container serves on (its label; containers from before labels: 5000)."""
    value = (container_labels or {}).get(LABEL_PORT, "")
    return int(value) if value.isdigit() and 0 < int(value) < 65536 else CONTAINER_PORT


def reserved_memory(container: "Container") -> int:
    """Bytes of memory the container's limit reserves on its host (0: none, or started before limits had a label)."""
    value = container.labels.get(LABEL_MEMORY, "")
    return int(value) if value.isdigit() else 0


def memory_limit(spec: ReleaseSpec, ptype: str, hardening: Hardening = DEFAULT_HARDENING) -> str | None:
    """The memory limit a process gets: its own (``deis limits:set``), else the platform's default.
    Placement reserves the same amount."""
    return spec.limits.get(ptype, {}).get("memory") or hardening.memory


def plan_process(spec: ReleaseSpec, ptype: str, num: int, platform: str, name: str | None = None,
                 hardening: Hardening = DEFAULT_HARDENING) -> ContainerPlan:
    """The container of process ``ptype.num`` of ``spec`` (``name`` overrides the canonical name)."""
    cpu = spec.limits.get(ptype, {}).get("cpu")
    publish = ptype == spec.web_type
    return ContainerPlan(
        name=name or container_name(spec.app, spec.version, ptype, num),
        app=spec.app, version=spec.version, type=ptype, num=num, image=spec.image,
        command=process_command(spec, ptype), env=process_env(spec),
        labels=labels(platform, spec.app, spec.version, ptype, num, memory_limit(spec, ptype, hardening),
                      spec.port if publish else None),
        memory=memory_limit(spec, ptype, hardening), nano_cpus=int(cpu * 1e9) if cpu else None,
        publish=publish, hardening=hardening, port=spec.port,
    )


def plan_oneoff(spec: ReleaseSpec, command: str, platform: str, suffix: str,
                hardening: Hardening = DEFAULT_HARDENING) -> ContainerPlan:
    cpu = spec.limits.get(ONEOFF_TYPE, {}).get("cpu")
    return ContainerPlan(
        name=container_name(spec.app, spec.version, ONEOFF_TYPE, suffix),
        app=spec.app, version=spec.version, type=ONEOFF_TYPE, num=0, image=spec.image,
        command=oneoff_command(spec, command), env=process_env(spec),
        labels=labels(platform, spec.app, spec.version, ONEOFF_TYPE, 0, memory_limit(spec, ONEOFF_TYPE, hardening)),
        memory=memory_limit(spec, ONEOFF_TYPE, hardening), nano_cpus=int(cpu * 1e9) if cpu else None,
        hardening=hardening,
    )


def from_attrs(attrs: dict, host: str, address: str, via_bridge: bool = False) -> Container:
    """Build a :class:`Container` from ``docker inspect`` data of a container we labelled.

    A running web container is reached at ``address`` and its published port, or, ``via_bridge``,
    at its own address on the engine's bridge (when it has one).
    """
    config_labels = attrs.get("Config", {}).get("Labels") or {}
    state = attrs.get("State", {})
    network = attrs.get("NetworkSettings") or {}
    port = web_port(config_labels)
    bindings = (network.get("Ports") or {}).get(f"{port}/tcp") or []
    endpoint = None
    if bindings and state.get("Running"):
        own = via_bridge and _bridge_address(network)
        endpoint = f"{own}:{port}" if own else f"{address}:{bindings[0]['HostPort']}"
    status = state.get("Status", "unknown")
    return Container(
        id=attrs["Id"], name=attrs.get("Name", "").lstrip("/"), host=host,
        app=config_labels.get(LABEL_APP, ""), version=int(config_labels.get(LABEL_RELEASE, 0)),
        type=config_labels.get(LABEL_TYPE, ""), num=int(config_labels.get(LABEL_NUM, 0)),
        status=status, exit_code=state.get("ExitCode") if status in ("exited", "dead") else None,
        address=endpoint, started_at=_time(state.get("StartedAt")), finished_at=_time(state.get("FinishedAt")),
        labels=dict(config_labels),
    )


def from_summary(row: dict, host: str, address: str, via_bridge: bool = False) -> Container:
    """Build a :class:`Container` from a ``docker ps`` row of a *running* container: one call lists
    them all, where inspecting each costs a round trip (over SSH, a channel each). Such a row has no
    start time; a container of ours is started as soon as it is created, so creation stands in."""
    port = web_port(row.get("Labels") or {})
    ports = [{"HostIp": p.get("IP"), "HostPort": str(p["PublicPort"])} for p in row.get("Ports") or []
             if p.get("PrivatePort") == port and p.get("PublicPort")]
    created = datetime.fromtimestamp(row.get("Created", 0), timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    attrs = {"Id": row["Id"], "Name": (row.get("Names") or [""])[0], "Config": {"Labels": row.get("Labels")},
             "State": {"Status": row.get("State"), "Running": row.get("State") == "running", "StartedAt": created},
             "NetworkSettings": {"Ports": {f"{port}/tcp": ports},
                                 "Networks": (row.get("NetworkSettings") or {}).get("Networks")}}
    return from_attrs(attrs, host, address, via_bridge)


def _bridge_address(network: dict) -> str | None:
    addresses = [network.get("IPAddress")] + [n.get("IPAddress") for n in (network.get("Networks") or {}).values()]
    return next((a for a in addresses if a), None)


def _time(value: str | None) -> datetime | None:
    if not value or value.startswith("0001-"):
        return None
    # Docker gives nanoseconds; fromisoformat takes at most microseconds.
    head, _, rest = value.partition(".")
    fraction = "".join(ch for ch in rest if ch.isdigit())[:6]
    zone = "+00:00" if value.endswith("Z") else ""
    try:
        return datetime.fromisoformat(f"{head}.{fraction or '0'}{zone}")
    except ValueError:
        return None

"""Platform settings: environment variables prefixed ``DEIS_`` with documented defaults.

Every component reads its settings through :func:`load`, so two platforms with different
``DEIS_HOME`` and ports can run side by side on one machine.

| variable | default | meaning |
|---|---|---|
| DEIS_HOME | ~/.deis-platform | state directory (database, repos, logs, pid files, keys) |
| DEIS_DATABASE_URL | sqlite:///$DEIS_HOME/controller.db | any SQLAlchemy URL (PostgreSQL works) |
| DEIS_REDIS_PORT | 6379 | port of the Redis that ``deisctl up`` starts |
| DEIS_REDIS_URL | redis://:PASSWORD@127.0.0.1:$DEIS_REDIS_PORT/0 | Redis for build jobs; by default the platform's own, with the password generated once into $DEIS_HOME/redis-secret |
| DEIS_CONTROLLER_PORT | 8000 | controller REST API |
| DEIS_BUILDER_PORT | 2222 | builder SSH server |
| DEIS_ROUTER_PORT | 80 | nginx router |
| DEIS_REGISTRY_PORT | 5000 | private Docker registry (htpasswd auth; passwords generated once into $DEIS_HOME/registry-secret and registry-host-secret) |
| DEIS_DOMAIN | deis.localhost | apps answer at ``<app>.<domain>`` |
| DEIS_CONTROLLER_URL | http://127.0.0.1:$DEIS_CONTROLLER_PORT | how builder and workers reach the API |
| DEIS_BUILDER_SECRET | generated once into $DEIS_HOME/builder-secret | authenticates builder hooks |
| DEIS_STACK_IMAGE | deis/stack:bookworm | the stack's base run image (Python): what Python, static and Go apps run on |
| DEIS_STACK_RUNTIMES_IMAGE | deis/stack:bookworm-runtimes | the base plus the other language runtimes: what other buildpack apps run on |
| DEIS_STACK_BUILD_IMAGE | deis/stack:bookworm-build | the stack's build image: the runtimes plus compilers and build tools |
| DEIS_DOCKER_HOST | (docker SDK default) | Docker Engine of the local host |
| DEIS_SCHEDULER | local | ``local``: containers on this machine's engine; ``swarm``: services on a Docker Swarm; ``off``: releases are records only |
| DEIS_LOCAL_HOST | on | ``off``: this machine's engine runs no apps, only the registered hosts do |
| DEIS_LOCAL_UPSTREAMS | bridge | how the router reaches this machine's web containers: ``bridge`` (their own address, skipping the engine's port proxy) or ``published`` (the loopback port; for rootless or remote engines) |
| DEIS_MAX_REQUEST_BYTES | 1048576 | largest API request body (1 MiB); bigger ones get 413 before they are read |
| DEIS_TOKEN_TTL | 2592000 | seconds an API token is valid after login (30 days) |
| DEIS_LOGIN_FAILURES_PER_USER | 10 | failed logins one account may have in DEIS_LOGIN_WINDOW; the next get 429 |
| DEIS_LOGIN_FAILURES_PER_ADDRESS | 30 | failed logins one client address may have in DEIS_LOGIN_WINDOW, over all accounts |
| DEIS_LOGIN_WINDOW | 60 | seconds a failed login counts against its account and address |
| DEIS_BUILDER_KEEP_IMAGES | 5 | images kept per app in the registry (older releases cannot be rolled back to) |
| DEIS_CLUSTER_SUBNET | 10.213.0.0/24 | private subnet of ``deisctl cluster up``'s namespace hosts |
| DEIS_SWARM_ADVERTISE_ADDR | 127.0.0.1 | address a lone swarm manager is initialised with by ``deisctl up`` |
| DEIS_SWARM_HOST | (the local engine) | Docker URL of the swarm manager (``unix://...``, ``tcp://...``) when ``DEIS_SCHEDULER=swarm`` |
| DEIS_DEFAULT_MEMORY | 512m | memory limit of a process without one of its own (``deis limits:set``); ``off``: none |
| DEIS_PIDS_LIMIT | 1024 | most processes and threads one app container may run |
| DEIS_LOG_MAX_SIZE | 10m | an app container's json log file is rotated at this size ... |
| DEIS_LOG_MAX_FILES | 3 | ... keeping this many files |
| DEIS_APP_NETWORKS | 10.224.0.0/12 | address pool of the per-app Docker networks (one subnet per app and host); must not overlap DEIS_CLUSTER_SUBNET, the hosts' bridge (10.214.0.0/24) or the machine's own networks |
| DEIS_APP_SUBNET_PREFIX | 24 | prefix length of each app's subnet (24: 253 containers of one app per host, 4096 apps) |
| DEIS_PUBLISHED_PORTS | 20000-29999 | host ports web containers are published on (outside the kernel's ephemeral range) |
| DEIS_DEPLOY_WORKERS | 2 | deploys that run at once (of different apps: one app's deploys always run one at a time) |
| DEIS_RELEASE_TIMEOUT | 900 | seconds a release phase (Procfile ``release:``) or an app.json predeploy/postdeploy script may run |
| DEIS_START_CHECK | 3 | seconds every new process must stay up before a deploy or scale counts it as running |
| DEIS_RUN_DETACH_TTL | 86400 | seconds a ``deis run --detach`` container may run before it is removed |
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote


REGISTRY_USER = "deis"  # the registry account of the builder and controller (push and pull)
REGISTRY_HOST_USER = "deis-host"  # the hosts' registry account (pull only: see builder.registry)


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    redis_port: int
    redis_url_override: str | None  # DEIS_REDIS_URL; None: the platform's own Redis
    controller_port: int
    builder_port: int
    router_port: int
    registry_port: int
    domain: str
    controller_url: str
    stack_image: str
    stack_runtimes_image: str
    stack_build_image: str
    docker_host: str | None
    scheduler: str = "local"
    swarm_host: str | None = None
    local_host: bool = True
    local_upstreams: str = "bridge"
    max_request_bytes: int = 1024 * 1024
    token_ttl: int = 30 * 24 * 3600
    login_failures_per_user: int = 10
    login_failures_per_address: int = 30
    login_window: int = 60
    default_memory: str | None = "512m"
    pids_limit: int = 1024
    log_max_size: str = "10m"
    log_max_files: int = 3
    app_networks: str = "10.224.0.0/12"
    app_subnet_prefix: int = 24
    published_ports: tuple[int, int] = (20000, 29999)
    cluster_subnet: str = "10.213.0.0/24"
    deploy_workers: int = 2
    release_timeout: int = 900
    start_check: float = 3.0
    run_detach_ttl: int = 86400

    @property
    def registry(self) -> str:
        """Registry address as it appears in image names."""
        return f"127.0.0.1:{self.registry_port}"

    @property
    def builder_secret(self) -> str:
        env = os.environ.get("DEIS_BUILDER_SECRET")
        if env:
            return env
        return read_or_create_secret(self.home / "builder-secret")

    @property
    def registry_auth(self) -> dict[str, str]:
        """The builder's and controller's registry account (push and pull), generated on first use."""
        return {"username": REGISTRY_USER, "password": read_or_create_secret(self.home / "registry-secret")}

    @property
    def registry_host_auth(self) -> dict[str, str]:
        """The hosts' registry account: it pulls only (see :mod:`builder.registry`)."""
        return {"username": REGISTRY_HOST_USER,
                "password": read_or_create_secret(self.home / "registry-host-secret")}

    @property
    def redis_password(self) -> str:
        """The password of the platform's own Redis (``requirepass``), generated on first use."""
        return read_or_create_secret(self.home / "redis-secret")

    @property
    def redis_url(self) -> str:
        """``DEIS_REDIS_URL``, or the platform's own Redis on loopback, with its password."""
        if self.redis_url_override:
            return self.redis_url_override
        return f"redis://:{quote(self.redis_password, safe='')}@127.0.0.1:{self.redis_port}/0"


def _int(env: dict, name: str, default: int) -> int:
    raw = env.get(name, str(default))
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None


def load(env: dict | None = None) -> Settings:
    env = os.environ if env is None else env
    home = Path(env.get("DEIS_HOME") or Path.home() / ".deis-platform").expanduser().resolve()
    controller_port = _int(env, "DEIS_CONTROLLER_PORT", 8000)
    redis_port = _int(env, "DEIS_REDIS_PORT", 6379)
    return Settings(
        home=home,
        database_url=env.get("DEIS_DATABASE_URL") or f"sqlite:///{home / 'controller.db'}",
        redis_port=redis_port,
        redis_url_override=env.get("DEIS_REDIS_URL") or None,
        controller_port=controller_port,
        builder_port=_int(env, "DEIS_BUILDER_PORT", 2222),
        router_port=_int(env, "DEIS_ROUTER_PORT", 80),
        registry_port=_int(env, "DEIS_REGISTRY_PORT", 5000),
        domain=env.get("DEIS_DOMAIN") or "deis.localhost",
        controller_url=env.get("DEIS_CONTROLLER_URL") or f"http://127.0.0.1:{controller_port}",
        stack_image=env.get("DEIS_STACK_IMAGE") or "deis/stack:bookworm",
        stack_runtimes_image=env.get("DEIS_STACK_RUNTIMES_IMAGE") or "deis/stack:bookworm-runtimes",
        stack_build_image=env.get("DEIS_STACK_BUILD_IMAGE") or "deis/stack:bookworm-build",
        docker_host=env.get("DEIS_DOCKER_HOST") or None,
        scheduler=_choice(env, "DEIS_SCHEDULER", "local", ("local", "swarm", "off")),
        swarm_host=env.get("DEIS_SWARM_HOST") or None,
        local_host=_choice(env, "DEIS_LOCAL_HOST", "on", ("on", "off")) == "on",
        local_upstreams=_choice(env, "DEIS_LOCAL_UPSTREAMS", "bridge", ("bridge", "published")),
        max_request_bytes=_int(env, "DEIS_MAX_REQUEST_BYTES", Settings.max_request_bytes),
        token_ttl=_int(env, "DEIS_TOKEN_TTL", Settings.token_ttl),
        login_failures_per_user=_int(env, "DEIS_LOGIN_FAILURES_PER_USER", Settings.login_failures_per_user),
        login_failures_per_address=_int(env, "DEIS_LOGIN_FAILURES_PER_ADDRESS",
                                        Settings.login_failures_per_address),
        login_window=_int(env, "DEIS_LOGIN_WINDOW", Settings.login_window),
        default_memory=None if env.get("DEIS_DEFAULT_MEMORY") == "off" else env.get("DEIS_DEFAULT_MEMORY") or "512m",
        pids_limit=_int(env, "DEIS_PIDS_LIMIT", 1024),
        log_max_size=env.get("DEIS_LOG_MAX_SIZE") or "10m",
        log_max_files=_int(env, "DEIS_LOG_MAX_FILES", 3),
        app_networks=env.get("DEIS_APP_NETWORKS") or "10.224.0.0/12",
        app_subnet_prefix=_int(env, "DEIS_APP_SUBNET_PREFIX", 24),
        published_ports=_port_range(env, "DEIS_PUBLISHED_PORTS", "20000-29999"),
        deploy_workers=_int(env, "DEIS_DEPLOY_WORKERS", 2),
        release_timeout=_int(env, "DEIS_RELEASE_TIMEOUT", Settings.release_timeout),
        start_check=float(_int(env, "DEIS_START_CHECK", int(Settings.start_check))),
        run_detach_ttl=_int(env, "DEIS_RUN_DETACH_TTL", Settings.run_detach_ttl),
        cluster_subnet=env.get("DEIS_CLUSTER_SUBNET") or "10.213.0.0/24",
    )


def _port_range(env: dict, name: str, default: str) -> tuple[int, int]:
    raw = env.get(name) or default
    low, _, high = raw.partition("-")
    if not (low.isdigit() and high.isdigit() and 1024 <= int(low) <= int(high) <= 65535):
        raise ValueError(f"{name} must be a port range such as {default}, got {raw!r}")
    return int(low), int(high)


def _choice(env: dict, name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env.get(name) or default
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def read_or_create_secret(path: Path) -> str:
    """Return the secret stored at ``path``, creating it (mode 0600) on first use."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    value = secrets.token_urlsafe(32)
    # Written whole under a temporary name, then linked into place: a concurrent first use never
    # reads a half-written file, and the one that loses the race reads the winner's secret.
    partial = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(value + "\n")
        os.link(partial, path)
    except FileExistsError:
        return path.read_text().strip()
    finally:
        partial.unlink(missing_ok=True)
    return value

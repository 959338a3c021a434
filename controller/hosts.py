"""Hosts the scheduler may place containers on: Docker Engines reached over SSH (admin only).

Adding a host contacts it before anything is stored: its SSH host key is pinned (or, when the
caller names the key it expects, verified), and its Docker Engine must answer over SSH with the
platform's key. The platform's ``known_hosts`` is rewritten from this table, so the scheduler
trusts exactly the registered keys. ``deisctl cluster up`` registers its hosts with the platform
secret (the builder's) instead of an admin token.
"""
from __future__ import annotations

import logging
import re
from concurrent.futures import ThreadPoolExecutor

from flask import Blueprint, request
from sqlalchemy import select

from controller.access import body, check_builder_secret, require_admin, session, settings
from controller.errors import BadRequest, Conflict, NotFound
from controller.models import Host
from deiscore import validation
from deiscore.validation import TAG  # noqa: F401 - for controller.tags, until it imports deiscore itself

log = logging.getLogger(__name__)

bp = Blueprint("hosts", __name__)

HOST_URL = re.compile(r"ssh://(?P<user>[a-z_][a-z0-9_-]{0,31})@(?P<address>[A-Za-z0-9.-]{1,253}|\[[0-9a-fA-F:]+\])"
                      r"(?::(?P<port>[0-9]{1,5}))?")
HOST_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62})")
HOST_KEY = re.compile(r"(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+={0,3}")
PROBE_TIMEOUT = 5.0


def parse_url(value) -> tuple[str, str, int]:
    """``ssh://user@address[:port]`` -> (user, address, port); anything else is refused."""
    match = HOST_URL.fullmatch(value) if isinstance(value, str) else None
    port = int(match["port"] or 22) if match else 0
    if not match or not 1 <= port <= 65535:
        raise BadRequest(f"host URL must look like ssh://root@10.0.0.5[:22], got {value!r}")
    return match["user"], match["address"].strip("[]"), port


def _require_operator() -> None:
    if "X-Deis-Builder-Secret" in request.headers:
        check_builder_secret()
    else:
        require_admin()


def _ssh_files():
    from scheduler.ssh import platform_key

    home = settings().home
    return platform_key(home), home / "ssh" / "known_hosts"


def _write_known_hosts(hosts) -> None:
    from scheduler.ssh import known_hosts_line

    _, known_hosts = _ssh_files()
    tmp = known_hosts.with_suffix(".next")
    tmp.write_text("".join(known_hosts_line(h.address, h.port, h.host_key) + "\n" for h in hosts))
    tmp.replace(known_hosts)


def _contact(url: str, address: str, port: int, expected_key: str | None) -> tuple[str, dict]:
    """Pin (or verify) the host key and ask the engine for its info; raise BadRequest if unreachable."""
    import tempfile
    from pathlib import Path

    from scheduler.errors import HostError
    from scheduler.ssh import docker_over_ssh, fetch_host_key, known_hosts_line

    key, _ = _ssh_files()
    try:
        presented = fetch_host_key(address, port, PROBE_TIMEOUT)
        if expected_key is not None and presented != expected_key:
            raise BadRequest(f"{url} presented a different SSH host key than the one given; refusing")
        with tempfile.TemporaryDirectory() as tmp:
            pinned = Path(tmp) / "known_hosts"
            pinned.write_text(known_hosts_line(address, port, presented) + "\n")
            engine = docker_over_ssh(url, key, pinned, timeout=PROBE_TIMEOUT * 2, connect_timeout=PROBE_TIMEOUT)
            try:
                info = engine.info()
            finally:
                engine.close()
    except HostError as exc:
        raise BadRequest(f"cannot reach the Docker Engine of {url}: {exc.detail}") from None
    except Exception as exc:  # noqa: BLE001 - docker/paramiko errors of many kinds: all mean "unreachable"
        raise BadRequest(f"cannot reach the Docker Engine of {url}: {exc}") from None
    return presented, info


@bp.post("/hosts")
def add_host():
    _require_operator()
    data = body()
    url = data.get("url")
    user, address, port = parse_url(url)
    name = data.get("name") or address.replace(".", "-").replace(":", "-").lower()
    if not isinstance(name, str) or not HOST_NAME.fullmatch(name):
        raise BadRequest(f"host name must match {HOST_NAME.pattern}, got {name!r}")
    tags = validation.tags(data.get("tags"))
    expected = data.get("host_key")
    if expected is not None and (not isinstance(expected, str) or not HOST_KEY.fullmatch(expected)):
        raise BadRequest("host_key must be '<type> <base64>', e.g. the first two fields of a .pub file")
    # Contact the host before taking the write lock: nothing is stored for a host that does not answer.
    host_key, info = _contact(url, address, port, expected)
    db = session()
    clash = db.scalar(select(Host).where((Host.name == name) | (Host.url == url)))
    if clash is not None:
        raise Conflict(f"host {clash.name} ({clash.url}) is already registered")
    host = Host(name=name, url=url, address=address, port=port, username=user, host_key=host_key,
                memory=int(info.get("MemTotal") or 0), tags=tags)
    db.add(host)
    db.flush()
    _write_known_hosts(db.scalars(select(Host).order_by(Host.name)))
    db.commit()
    log.info("host %s added (%s, %s)", name, url, host_key.split()[0])
    return {**host.as_dict(), "state": "up", "containers": 0, "memory_used": 0,
            "engine": info.get("ServerVersion")}, 201


def probe(host: Host, connect, platform: str) -> dict:
    """Live state of a host as the scheduler sees it (its engine client, its container listing): up or
    down, the platform's containers running there and the memory their limits reserve.
    ``connect``, ``platform``: see :func:`_engine_access`."""
    from scheduler.containers import reserved_memory
    from scheduler.hosts import Host as Engine
    from scheduler.pool import HostRecord

    record = HostRecord(host.name, host.address, host.url, host.memory, dict(host.tags or {}), host.draining)
    try:
        client = connect(record, timeout=PROBE_TIMEOUT)
        try:
            running = [c for c in Engine(host.name, client, host.address, platform).containers() if c.running]
        finally:
            client.close()
    except Exception as exc:  # noqa: BLE001 - any failure to talk to the engine means the host is down
        return {"state": "down", "containers": None, "memory_used": None, "error": str(exc)[:200]}
    state = "draining" if host.draining else "up"
    return {"state": state, "containers": len(running), "memory_used": sum(reserved_memory(c) for c in running),
            "apps": sorted({c.app for c in running})}


def _engine_access() -> tuple:
    """How the scheduler reaches a registered host's engine (SSH, pinned keys), and this platform's label."""
    from scheduler.scheduler import connector, platform_id

    return connector(settings(), None), platform_id(settings().home)  # registered hosts all have an SSH URL


@bp.get("/hosts")
def list_hosts():
    _require_operator()
    hosts, access = list(session().scalars(select(Host).order_by(Host.name))), _engine_access()
    with ThreadPoolExecutor(max_workers=max(1, min(16, len(hosts)))) as pool:
        states = list(pool.map(lambda h: probe(h, *access), hosts))
    results = [{**h.as_dict(), **state} for h, state in zip(hosts, states)]
    return {"count": len(results), "results": results}


def _converge(app, lines: list[str]) -> str | None:
    """Converge ``app`` onto the hosts as they are now (placement, zero-downtime cutover); its
    deploy log goes to ``lines``; return why it failed, or None."""
    from controller import deploys, releases

    deployer, release = deploys.deployer(), releases.serving(session(), app)
    if deployer is None or release is None or release.build is None:
        return None
    outcome = deployer.scale(session(), app, release, lines.append, lambda: None)
    return outcome.detail if outcome.status == "failed" else None


@bp.post("/hosts/rebalance")
def rebalance():
    """Converge every app: processes stacked on some hosts while another host has room (one was just
    added, or came back) move there, each with the usual zero-downtime cutover."""
    _require_operator()
    from controller.models import App, Release

    db = session()
    with_builds = select(App).where(App.id.in_(select(Release.app_id).where(Release.build_id.is_not(None))))
    apps = list(db.scalars(with_builds.order_by(App.name)))
    db.commit()  # the apps' own locks are taken by each converge; hold no write lock meanwhile
    lines, failed = [], []
    for app in apps:
        error = _converge(app, lines)
        if error:
            failed.append(f"{app.name}: {error}")
    return {"apps": [a.name for a in apps], "failed": failed, "log": lines}


@bp.delete("/hosts/<name>")
def remove_host(name):
    """Drain, then forget: the host gets no new processes, every app with processes there is
    converged (new containers elsewhere, health-checked, router switched, old ones stopped), and the
    host is removed once nothing of the platform runs on it."""
    _require_operator()
    from controller.access import find_app
    from controller.desired import forget_hosts

    db = session()
    host = db.scalar(select(Host).where(Host.name == name)) if HOST_NAME.fullmatch(name) else None
    if host is None:
        raise NotFound(f"host {name!r} not found")
    host.draining = True
    db.commit()
    forget_hosts()
    access, lines = _engine_access(), []
    for app_name in sorted(probe(host, *access).get("apps", [])):
        error = _converge(find_app(app_name), lines)
        if error:
            raise Conflict(f"draining {name} stopped at {app_name}: {error}; the host stays registered (draining)")
    state = probe(host, *access)
    if state["containers"]:
        raise Conflict(f"host {name} still runs {state['containers']} container(s) of the platform after "
                       "draining; the host stays registered (draining)")
    db.delete(host)
    db.flush()
    _write_known_hosts(db.scalars(select(Host).order_by(Host.name)))
    db.commit()
    forget_hosts()
    return {"removed": name, "log": lines}

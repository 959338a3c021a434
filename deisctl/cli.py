"""``deisctl``: bring the platform's processes up and down on this machine, and report on them."""
from __future__ import annotations

import os
import sys

import click

from deiscore import processes
from deisctl.components import COMPONENTS
from deiscore.settings import Settings, load


def _env(s: Settings) -> dict:
    # Children see the same settings (and the same generated builder secret) as deisctl.
    return {**os.environ, "DEIS_HOME": str(s.home), "DEIS_BUILDER_SECRET": s.builder_secret}


def _docker(s: Settings):
    import docker

    try:
        client = docker.DockerClient(base_url=s.docker_host) if s.docker_host else docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        raise click.ClickException(f"the Docker Engine does not answer ({exc}); start dockerd") from None
    return client


def _ensure_stack(s: Settings) -> None:
    from builder.errors import StackError
    from builder.stack import ensure_stack_images, stack_images, stack_missing

    client = _docker(s)
    images = ", ".join(stack_images(s))
    try:
        missing = stack_missing(client, s)
        if missing:
            click.echo(f"{'stack':<12} making {images} "
                       "(debootstrap and apt: a few minutes the first time, seconds from the cache)")
        ensure_stack_images(client, s)
    except StackError as exc:
        raise click.ClickException(str(exc)) from None
    if missing:
        click.echo(f"{'stack':<12} {images} ready")


def _firewall(s: Settings, remove: bool = False) -> None:
    """App containers may reach this machine's router port, nothing else of it (scheduler.firewall)."""
    from scheduler.errors import SchedulerError
    from scheduler.firewall import install

    try:
        install([s.router_port], s.cluster_subnet, remove=remove)
    except SchedulerError as exc:
        raise click.ClickException(str(exc)) from None


def _accounts() -> None:
    """The system accounts of the processes that need no root (created once), or why there are none."""
    import getpass

    try:
        accounts = [processes.system_user(name) for name in (processes.PLATFORM_USER, processes.ROUTER_USER)]
    except processes.ProcessError as exc:
        raise click.ClickException(str(exc)) from None
    if None in accounts:
        click.echo(f"{'users':<12} not running as root: every process runs as {getpass.getuser()}")
    else:
        click.echo(f"{'users':<12} redis runs as {processes.PLATFORM_USER}, "
                   f"router workers as {processes.ROUTER_USER}")


def _ensure_swarm(s: Settings) -> None:
    """The swarm manager must be part of a swarm; a lone engine becomes a single-node swarm."""
    import docker

    from scheduler.errors import SchedulerError
    from scheduler.swarm import ensure_swarm

    manager = s.swarm_host or s.docker_host
    try:
        client = docker.DockerClient(base_url=manager) if manager else docker.from_env()
        ensure_swarm(client, os.environ.get("DEIS_SWARM_ADVERTISE_ADDR", "127.0.0.1"))
    except (docker.errors.DockerException, SchedulerError) as exc:
        raise click.ClickException(f"swarm manager {manager or 'local engine'}: {exc}") from None


def _migrate(s: Settings) -> str:
    """Upgrade the controller's database to this version's schema; say what was done."""
    from sqlalchemy.exc import SQLAlchemyError

    from controller import db

    try:
        done = db.upgrade(s.database_url)
    except (db.SchemaError, SQLAlchemyError) as exc:
        raise click.ClickException(f"database: not migrated: {exc}") from None
    if done.stamped:
        return f"made before migrations, at {done.stamped}; migrated to {done.after}"
    if done.before == done.after:
        return f"at {done.after}, nothing to do"
    return f"migrated from {done.before or 'an empty database'} to {done.after}"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli():
    """deisctl: operate the platform on this machine (settings from DEIS_* variables)."""


@cli.command()
def up():
    """Start every component that is not running (idempotent); build the stack image if missing."""
    s = load()
    processes.private_dir(s.home)  # state readable by the platform only
    for d in ("logs", "run"):
        (s.home / d).mkdir(parents=True, exist_ok=True)
    _accounts()
    if s.scheduler != "off":
        _ensure_stack(s)
    if s.scheduler == "swarm":
        _ensure_swarm(s)
    if s.scheduler != "off":
        _firewall(s)
        click.echo(f"{'firewall':<12} app containers reach only the router port {s.router_port} of this machine")
    click.echo(f"{'database':<12} {_migrate(s)}")  # before the controller starts: its workers only check
    for c in COMPONENTS:
        if not c.enabled(s):
            continue
        pid = processes.read_pid(c.pidfile(s))
        if pid is not None:
            click.echo(f"{c.name:<12} already running (pid {pid})")
            continue
        logfile = s.home / "logs" / f"{c.name}.log"
        try:
            if c.prepare:
                c.prepare(s)
            user = processes.system_user(c.user) if c.user else None
            workdir = processes.private_dir(c.workdir(s), user) if c.workdir else None
            proc = processes.spawn(c.argv(s), logfile, c.pidfile(s), env=_env(s), cwd=workdir, user=user,
                                   umask=processes.PRIVATE_UMASK, stdin=c.stdin(s) if c.stdin else None)
            processes.wait_for(lambda: c.answers(s), c.ready_timeout, c.name, process=proc)
        except Exception as exc:  # noqa: BLE001 - any failure: say which component and where its log is
            c.pidfile(s).unlink(missing_ok=True)
            raise click.ClickException(f"{c.name}: {exc}; see {logfile}") from None
        click.echo(f"{c.name:<12} started (pid {proc.pid})")
    click.echo(f"controller: http://127.0.0.1:{s.controller_port}")
    click.echo(f"builder:    ssh://git@127.0.0.1:{s.builder_port}/<app>.git")
    click.echo(f"apps:       http://<app>.{s.domain}:{s.router_port}")


@cli.command()
def migrate():
    """Upgrade the controller's database schema to this version's (idempotent; `up` does it too)."""
    s = load()
    processes.private_dir(s.home)
    click.echo(f"{'database':<12} {_migrate(s)}")


@cli.command()
def down():
    """Stop every component this platform started (apps' containers keep running)."""
    s = load()
    for c in reversed(COMPONENTS):
        stopped = processes.stop_pidfile(c.pidfile(s))
        click.echo(f"{c.name:<12} {'stopped' if stopped else 'not running'}")
    if s.scheduler != "off":
        try:
            _firewall(s, remove=True)  # this platform's router port; the rest protects other platforms too
        except click.ClickException as exc:
            click.echo(f"{'firewall':<12} not changed: {exc.message}", err=True)


@cli.command()
def status():
    """Show each component, its pid and whether it answers; exit 1 if any is down."""
    s = load()
    healthy = True
    for c in COMPONENTS:
        if not c.enabled(s):
            continue
        pid = processes.read_pid(c.pidfile(s))
        answers = c.answers(s)
        healthy &= answers
        state = "up" if answers else ("not answering" if pid else "down")
        click.echo(f"{c.name:<12} {state:<14} pid {pid or '-'}")
    sys.exit(0 if healthy else 1)


@cli.group()
def stack():
    """The stack images buildpack apps are built on and run on."""


@stack.command("build")
def stack_build():
    """Make the stack images if missing (debootstrap, apt, docker import; the rootfs is cached outside DEIS_HOME)."""
    from builder.stack import describe, stack_images

    s = load()
    _ensure_stack(s)
    click.echo(describe(), nl=False)
    click.echo("ready: " + ", ".join(stack_images(s)))


@cli.group()
def cluster():
    """A multi-host cluster on this machine: network-namespace hosts with their own dockerd and sshd."""


@cluster.command("up")
@click.option("--hosts", "count", type=click.IntRange(1, 50), default=3, show_default=True)
def cluster_up(count):
    """Create the hosts (idempotent) and pin their SSH host keys."""
    from deisctl import cluster as namespace_cluster

    s = load()
    subnet = os.environ.get("DEIS_CLUSTER_SUBNET", namespace_cluster.DEFAULT_SUBNET)
    try:
        hosts = namespace_cluster.up(s.home, count, s.registry_port, subnet, router_port=s.router_port)
    except namespace_cluster.ClusterError as exc:
        raise click.ClickException(str(exc)) from None
    for host in hosts:
        click.echo(f"{host.name:<4} {host.ssh_url:<24} netns {host.netns}  {_register(s, host)}")


def _register(s: Settings, host) -> str:
    """Add the host to the controller with the key its provisioning generated (verified, then pinned)."""
    import requests

    try:
        r = requests.post(f"{s.controller_url}/v1/hosts", timeout=60,
                          headers={"X-Deis-Builder-Secret": s.builder_secret},
                          json={"url": host.ssh_url, "name": host.name, "host_key": host.host_key()})
    except requests.RequestException:
        return "not registered: the controller does not answer (deisctl up, then run this again)"
    if r.status_code == 201:
        return "registered"
    if r.status_code == 409:
        return "already registered"
    raise click.ClickException(f"registering {host.name}: {r.json().get('detail', r.text)}")


@cluster.command("down")
def cluster_down():
    """Stop the hosts' daemons and containers; remove namespaces, links and the bridge."""
    from deisctl import cluster as namespace_cluster

    s = load()
    removed = namespace_cluster.down(s.home)
    for name in removed:  # gone now, so the controller lets them go
        _unregister(s, name)
    click.echo(f"removed {', '.join(removed)}" if removed else "no cluster")


def _unregister(s: Settings, name: str) -> None:
    import requests

    try:
        requests.delete(f"{s.controller_url}/v1/hosts/{name}", timeout=30,
                        headers={"X-Deis-Builder-Secret": s.builder_secret})
    except requests.RequestException:
        pass  # controller down: nothing to unregister from


def main():
    cli(prog_name="deisctl")

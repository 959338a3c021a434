"""``deisctl``: bring the platform's processes up and down on this machine, and report on them."""
from __future__ import annotations

import os
import sys

import click

from deisctl import processes
from deisctl.components import COMPONENTS, Component
from deisctl.settings import Settings, load


def _pidfile(s: Settings, c: Component):
    return s.home / "run" / f"{c.name}.pid"


def _env(s: Settings) -> dict:
    # Children see the same settings (and the same generated builder secret) as deisctl.
    return {**os.environ, "DEIS_HOME": str(s.home), "DEIS_BUILDER_SECRET": s.builder_secret}


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli():
    """deisctl: operate the platform on this machine (settings from DEIS_* variables)."""


@cli.command()
def up():
    """Start every component that is not running (idempotent)."""
    s = load()
    for d in ("logs", "run"):
        (s.home / d).mkdir(parents=True, exist_ok=True)
    for c in COMPONENTS:
        pid = processes.read_pid(_pidfile(s, c))
        if pid is not None:
            click.echo(f"{c.name:<12} already running (pid {pid})")
            continue
        proc = processes.spawn(c.argv(s), s.home / "logs" / f"{c.name}.log", _pidfile(s, c), env=_env(s))
        try:
            processes.wait_for(lambda: c.answers(s), c.ready_timeout, c.name, process=proc)
        except processes.ProcessError as exc:
            _pidfile(s, c).unlink(missing_ok=True)
            raise click.ClickException(f"{exc}; see {s.home / 'logs' / (c.name + '.log')}") from None
        click.echo(f"{c.name:<12} started (pid {proc.pid})")
    click.echo(f"controller: http://127.0.0.1:{s.controller_port}")


@cli.command()
def down():
    """Stop every component this platform started (apps' containers keep running)."""
    s = load()
    for c in reversed(COMPONENTS):
        stopped = processes.stop_pidfile(_pidfile(s, c))
        click.echo(f"{c.name:<12} {'stopped' if stopped else 'not running'}")


@cli.command()
def status():
    """Show each component, its pid and whether it answers; exit 1 if any is down."""
    s = load()
    healthy = True
    for c in COMPONENTS:
        pid = processes.read_pid(_pidfile(s, c))
        answers = c.answers(s)
        healthy &= answers
        state = "up" if answers else ("not answering" if pid else "down")
        click.echo(f"{c.name:<12} {state:<14} pid {pid or '-'}")
    sys.exit(0 if healthy else 1)


def main():
    cli(prog_name="deisctl")

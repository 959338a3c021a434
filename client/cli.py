"""The ``deis`` command: Deis v1 command names (``apps:create``) and shortcuts (``create``)."""
from __future__ import annotations

import click

from client import apps, auth, cron, hosts, processes, releases, run  # noqa: F401 - importing registers their commands
from client.base import cli
from client.errors import ClientError


@cli.command("help")
@click.argument("command", required=False)
@click.pass_context
def help_command(ctx, command):
    """Show help for COMMAND (or list all commands)."""
    root = ctx.parent
    if command is None:
        return click.echo(root.get_help())
    cmd = cli.get_command(root, command)
    if cmd is None:
        raise ClientError(f"unknown command {command!r}: see 'deis help'")
    with click.Context(cmd, info_name=cmd.name, parent=root) as sub:
        click.echo(cmd.get_help(sub))


def main():
    cli(prog_name="deis")


if __name__ == "__main__":
    main()

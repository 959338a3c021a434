"""Shared pieces of the ``deis`` CLI: the root group, the API from the profile, the app, output."""
from __future__ import annotations

import json
import sys

import click

from client import git, profile
from client.api import API
from client.errors import ClientError


class DeisGroup(click.Group):
    """Lists commands in the order users look for them and accepts Deis v1 shortcuts."""

    shortcuts: dict[str, str] = {}

    def get_command(self, ctx, name):
        return super().get_command(ctx, self.shortcuts.get(name, name))

    def resolve_command(self, ctx, args):
        name, cmd, rest = super().resolve_command(ctx, args)
        return cmd.name if cmd else name, cmd, rest


@click.group(cls=DeisGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="deis-py", prog_name="deis")
def cli():
    """deis: deploy and manage apps on a Deis-style platform with git push."""


def shortcut(short: str, full: str) -> None:
    DeisGroup.shortcuts[short] = full


def api(require_login: bool = True) -> API:
    prof = profile.load()
    if "controller" not in prof:
        raise ClientError("not logged in: run 'deis register URL' or 'deis login URL' first")
    if require_login and not prof.get("token"):
        raise ClientError("not logged in: run 'deis login' first")
    return API(prof["controller"], prof.get("token"))


def resolve_app(app: str | None) -> str:
    if app:
        return app
    inferred = git.app_from_remote()
    if inferred:
        return inferred
    raise ClientError("no app given: use -a APP, or run inside the app's git repo (with a 'deis' remote)")


app_option = click.option("-a", "--app", "app", metavar="APP", help="the app (default: from the 'deis' git remote)")
json_option = click.option("--json", "as_json", is_flag=True, help="print JSON for scripts")


def print_json(data) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False))


def table(rows: list[list], headers: list[str]) -> None:
    cells = [[str(c) for c in headers]] + [[("" if c is None else str(c)) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for row in cells:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())


def heading(text: str) -> None:
    click.echo(f"=== {text}")


def _no_wait(ctx, _param, value):
    ctx.meta["deis.no_wait"] = value


# On every command that makes a release or changes what runs; read by :func:`report_deploy`.
wait_option = click.option("--no-wait", is_flag=True, expose_value=False, callback=_no_wait,
                           help="return once the deploy is queued, without following it")


def report_deploy(deploy: dict | None) -> None:
    """Follow the deploy this command queued: print its steps as they happen and return once traffic is
    on the new release (the old one drains in the background); fail if the deploy failed."""
    if not deploy:
        return
    app, deploy_id = deploy["app"], deploy["id"]
    what = f"v{deploy['release']}" if deploy.get("release") else deploy.get("kind", "deploy")
    if click.get_current_context().meta.get("deis.no_wait"):
        click.echo(f"{app} {what}: deploy {deploy_id} queued; 'deis releases' and 'deis ps' show how it goes")
        return
    client, since = api(), 0
    while True:
        page = client.get(f"/apps/{app}/deploys/{deploy_id}?since={since}&wait=5")
        for event in page["events"]:
            if "line" in event:
                click.echo(event["line"])
            elif event.get("live"):
                return
            elif event.get("end"):
                if not event.get("ok"):
                    raise ClientError(f"deploy failed: {event.get('error') or 'unknown error'}")
                return
        since = page["next"]


def prompt_or_fail(value, label: str, hide: bool = False):
    if value is not None:
        return value
    if not sys.stdin.isatty():
        raise ClientError(f"{label} is required (pass --{label.replace(' ', '-')})")
    return click.prompt(label.capitalize(), hide_input=hide)

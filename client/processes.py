"""deis ps, ps:restart, logs, open, healthchecks:* (deis run: client.run)."""
from __future__ import annotations

import sys
import webbrowser
from urllib.parse import quote

import click
import requests

from client.base import (api, app_option, cli, heading, json_option, print_json, report_deploy, resolve_app,
                         shortcut, table, wait_option)
from client.errors import ClientError


def _path(app: str | None, rest: str) -> tuple[str, str]:
    name = resolve_app(app)
    return name, f"/apps/{quote(name, safe='')}{rest}"


def _stream(method: str, path: str, **kwargs) -> requests.Response:
    client = api()
    try:
        response = client.session.request(method, f"{client.url}/v1{path}", stream=True, timeout=(10, None),
                                          **kwargs)
    except requests.ConnectionError:
        raise ClientError(f"cannot reach the controller at {client.url}: is the platform up?") from None
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail")
        except ValueError:
            detail = response.text.strip()
        raise ClientError(detail or f"{response.status_code} {response.reason}")
    return response


@cli.command("ps:list")
@app_option
@json_option
def ps_list(app, as_json):
    """List the app's processes: state (up/starting/crashed), release and host."""
    name, path = _path(app, "/containers")
    processes = api().get(path)["results"]
    if as_json:
        return print_json(processes)
    heading(f"{name} Processes")
    table([[p["name"], p["state"], f"v{p['release']}", p["host"], p["address"] or "", p["restarts"] or ""]
           for p in processes], ["NAME", "STATE", "RELEASE", "HOST", "ADDRESS", "RESTARTS"])


@cli.command("ps:restart")
@wait_option
@click.argument("target", required=False, metavar="[TYPE[.NUM]]")
@app_option
def ps_restart(target, app):
    """Restart processes one by one with zero downtime (all, a type, or one like web.2)."""
    _, path = _path(app, "/containers/restart")
    click.echo(f"Restarting {target or 'all processes'}... ", nl=False)
    result = api().post(path, {"target": target} if target else {})
    click.echo("done")
    report_deploy(result["deploy"])


@cli.command("logs")
@app_option
@click.option("-n", "--lines", default=100, show_default=True, help="how many lines of history")
@click.option("-f", "--follow", is_flag=True, help="keep streaming new lines")
def logs(app, lines, follow):
    """Show the app's aggregated logs: its processes' output and platform events."""
    if lines < 0:
        raise ClientError("--lines must be >= 0")
    _, path = _path(app, f"/logs?lines={lines}&follow={int(follow)}")
    response = _stream("GET", path)
    try:
        for chunk in response.iter_content(chunk_size=None):
            sys.stdout.write(chunk.decode("utf-8", "replace"))
            sys.stdout.flush()
    except KeyboardInterrupt:
        pass
    finally:
        response.close()


@cli.command("open")
@app_option
def open_app(app):
    """Print the app's URL and open it in a browser when there is one."""
    name = resolve_app(app)
    url = api().get(f"/apps/{quote(name, safe='')}")["url"]
    click.echo(url)
    if sys.stdout.isatty():
        webbrowser.open(url)


HEALTHCHECK_OPTIONS = {"path": "HEALTHCHECK_URL", "status": "HEALTHCHECK_STATUS", "timeout": "HEALTHCHECK_TIMEOUT",
                       "interval": "HEALTHCHECK_INTERVAL", "initial_delay": "HEALTHCHECK_INITIAL_DELAY"}


@cli.command("healthchecks:set")
@wait_option
@click.option("--path", required=True, help="HTTP path to check, e.g. /health")
@click.option("--status", type=int, help="expected status (default 200)")
@click.option("--timeout", type=float, help="seconds per attempt")
@click.option("--interval", type=float, help="seconds between attempts")
@click.option("--initial-delay", type=float, help="seconds before the first attempt")
@app_option
def healthchecks_set(app, **options):
    """Gate deploys on an HTTP check of new web containers (stored as HEALTHCHECK_* config)."""
    name, path = _path(app, "/config")
    values = {key: str(options[opt]) for opt, key in HEALTHCHECK_OPTIONS.items() if options[opt] is not None}
    click.echo("Setting health check... ", nl=False)
    result = api().post(path, {"values": values})
    click.echo(f"done, {name} v{result['release']}")
    report_deploy(result.get("deploy"))


@cli.command("healthchecks:unset")
@wait_option
@app_option
def healthchecks_unset(app):
    """Go back to the port check only."""
    name, path = _path(app, "/config")
    values = api().get(path)["values"]
    keys = {key: None for key in HEALTHCHECK_OPTIONS.values() if key in values}
    if not keys:
        raise ClientError(f"{name} has no health check configured")
    result = api().post(path, {"values": keys})
    click.echo(f"Health check removed, {name} v{result['release']}")
    report_deploy(result.get("deploy"))


@cli.command("healthchecks:list")
@app_option
def healthchecks_list(app):
    """Show the health check."""
    name, path = _path(app, "/config")
    values = api().get(path)["values"]
    heading(f"{name} Health Check")
    for opt, key in HEALTHCHECK_OPTIONS.items():
        if key in values:
            click.echo(f"{opt + ':':<15}{values[key]}")


shortcut("ps", "ps:list")
shortcut("healthchecks", "healthchecks:list")

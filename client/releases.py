"""deis config:*, builds:*, pull, releases:*, rollback, ps:scale, limits:*, tags:*."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import click

from client import dotenv
from client.base import (api, app_option, cli, heading, json_option, print_json, report_deploy, resolve_app,
                         shortcut, table, wait_option)
from client.errors import ClientError
from deiscore import validation
from deiscore.errors import InvalidInput


def _app_path(app: str | None, rest: str = "") -> tuple[str, str]:
    name = resolve_app(app)
    return name, f"/apps/{quote(name, safe='')}{rest}"


def _pairs(items: tuple[str, ...], what: str) -> dict[str, str]:
    values = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ClientError(f"expected {what}=VALUE, got {item!r}")
        values[key] = value
    return values


@cli.command("config:list")
@app_option
@click.option("--oneline", is_flag=True, help="KEY=value pairs on one line")
@json_option
def config_list(app, oneline, as_json):
    """Show the app's environment."""
    name, path = _app_path(app, "/config")
    values = api().get(path)["values"]
    if as_json:
        return print_json(values)
    if oneline:
        return click.echo(" ".join(f"{k}={v}" for k, v in sorted(values.items())))
    heading(f"{name} Config")
    table([[k, v] for k, v in sorted(values.items())], ["KEY", "VALUE"])


def _set_config(name: str, path: str, values: dict) -> None:
    click.echo("Creating config... ", nl=False)
    result = api().post(path, {"values": values})
    click.echo(f"done, {name} v{result['release']}")
    report_deploy(result.get("deploy"))


@cli.command("config:set")
@wait_option
@click.argument("pairs", nargs=-1, required=True, metavar="KEY=VALUE...")
@app_option
def config_set(pairs, app):
    """Set environment variables (a new release)."""
    name, path = _app_path(app, "/config")
    _set_config(name, path, _pairs(pairs, "KEY"))


@cli.command("config:unset")
@wait_option
@click.argument("keys", nargs=-1, required=True, metavar="KEY...")
@app_option
def config_unset(keys, app):
    """Remove environment variables (a new release)."""
    name, path = _app_path(app, "/config")
    _set_config(name, path, {key: None for key in keys})


@cli.command("config:pull")
@app_option
@click.option("-o", "--output", "output", default=".env", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--overwrite", is_flag=True, help="replace values already in the file")
def config_pull(app, output, overwrite):
    """Write the app's config to a .env file."""
    _, path = _app_path(app, "/config")
    values = api().get(path)["values"]
    if output.exists():
        try:
            existing = dotenv.loads(output.read_text())
        except dotenv.DotenvError as exc:
            raise ClientError(f"{output}: {exc}") from None
        values = {**existing, **values} if overwrite else {**values, **existing}
    output.write_text(dotenv.dumps(values))
    click.echo(f"Wrote {len(values)} values to {output}")


@cli.command("config:push")
@wait_option
@app_option
@click.option("-p", "--path", "source", default=".env", type=click.Path(dir_okay=False, path_type=Path))
def config_push(app, source):
    """Set the app's config from a .env file."""
    name, path = _app_path(app, "/config")
    try:
        values = dotenv.loads(source.read_text())
    except FileNotFoundError:
        raise ClientError(f"{source} not found") from None
    except dotenv.DotenvError as exc:
        raise ClientError(f"{source}: {exc}") from None
    if not values:
        raise ClientError(f"{source} has no values")
    _set_config(name, path, values)


@cli.command("builds:list")
@app_option
@json_option
def builds_list(app, as_json):
    """List the app's builds."""
    name, path = _app_path(app, "/builds")
    builds = api().get(path)["results"]
    if as_json:
        return print_json(builds)
    heading(f"{name} Builds")
    table([[b["uuid"][:8], b["kind"], b["sha"][:7], b["image"], b["created"][:19]] for b in builds],
          ["UUID", "KIND", "SHA", "IMAGE", "CREATED"])


@cli.command("builds:create")
@wait_option
@click.argument("image")
@app_option
@click.option("--procfile", "procfile_items", multiple=True, metavar="TYPE=COMMAND",
              help="a process type; repeat for several")
def builds_create(image, app, procfile_items):
    """Deploy a Docker image (a new release).

    IMAGE is a full reference the platform pulls, registry host included
    (registry.example.com/team/web:1.0, or ...@sha256:DIGEST), an image of another app you may
    use (REGISTRY/APP:TAG), or the platform's stack image. The platform keeps its own copy in the
    app's repository and runs it by digest. Local image IDs and short names are refused."""
    name, path = _app_path(app, "/builds")
    click.echo(f"Creating build... ", nl=False)
    result = api().post(path, {"image": image, "procfile": _pairs(procfile_items, "TYPE")})
    click.echo(f"done, {name} v{result['release']}")
    report_deploy(result.get("deploy"))


@cli.command("registry:list")
@app_option
@json_option
def registry_list(app, as_json):
    """Show the credentials `deis pull` uses for other registries."""
    name, path = _app_path(app, "/registry")
    values = api().get(path)
    if as_json:
        return print_json(values)
    heading(f"{name} Registry")
    for key, value in sorted(values.items()):
        click.echo(f"{key:<10}{value}")


@cli.command("registry:set")
@click.argument("pairs", nargs=-1, required=True, metavar="username=USER password=PASSWORD")
@app_option
def registry_set(pairs, app):
    """Set the credentials `deis pull` uses for other registries (not a release)."""
    name, path = _app_path(app, "/registry")
    api().post(path, {"values": _pairs(pairs, "KEY")})
    click.echo(f"Registry credentials of {name} set")


@cli.command("registry:unset")
@click.argument("keys", nargs=-1, required=True, metavar="username|password...")
@app_option
def registry_unset(keys, app):
    """Remove credentials `deis pull` uses for other registries."""
    name, path = _app_path(app, "/registry")
    api().post(path, {"values": {key: None for key in keys}})
    click.echo(f"Registry credentials of {name} unset")


@cli.command("releases:list")
@app_option
@json_option
def releases_list(app, as_json):
    """List the app's releases, newest first."""
    name, path = _app_path(app, "/releases")
    releases = api().get(path)["results"]
    if as_json:
        return print_json(releases)
    heading(f"{name} Releases")
    table([[f"v{r['version']}", r["created"][:19], r["owner"], _status(r), r["summary"]] for r in releases],
          ["VERSION", "CREATED", "BY", "STATUS", "SUMMARY"])


def _status(release: dict) -> str:
    """The deploy's outcome as ``deis releases`` shows it: failed ones with their reason."""
    status = release.get("status") or ""
    if status == "failed" and release.get("status_detail"):
        return f"failed ({release['status_detail'].splitlines()[0]})"  # `deis releases:info` has all of it
    return status


@cli.command("releases:info")
@click.argument("version")
@app_option
@json_option
def releases_info(version, app, as_json):
    """Show one release."""
    name, path = _app_path(app, f"/releases/{quote(version, safe='')}")
    release = api().get(path)
    if as_json:
        return print_json(release)
    heading(f"{name} Release v{release['version']}")
    for label in ("summary", "status", "owner", "image", "created"):
        click.echo(f"{label + ':':<10}{release[label] or ''}")
    if release.get("status_detail"):
        click.echo(f"{'reason:':<10}{release['status_detail']}")
    click.echo(f"{'config:':<10}{', '.join(sorted(release['config_values'])) or '(empty)'}")


@cli.command("releases:rollback")
@wait_option
@click.argument("version", required=False)
@app_option
def releases_rollback(version, app):
    """Roll back to release VERSION (default: the previous one) as a new release."""
    name, path = _app_path(app, "/releases/rollback")
    target = f" to {version}" if version else ""
    click.echo(f"Rolling back{target}... ", nl=False)
    result = api().post(path, {"version": version} if version else {})
    click.echo(f"done, {name} v{result['version']}")
    report_deploy(result.get("deploy"))


@cli.command("ps:scale")
@wait_option
@click.argument("pairs", nargs=-1, required=True, metavar="TYPE=N...")
@app_option
def ps_scale(pairs, app):
    """Set how many containers of each process type run."""
    name, path = _app_path(app, "/scale")
    try:
        counts = {ptype: validation.scale_count(ptype, count) for ptype, count in _pairs(pairs, "TYPE").items()}
    except InvalidInput as exc:
        raise ClientError(exc.detail) from None
    click.echo(f"Scaling processes... ", nl=False)
    result = api().post(path, counts)
    click.echo("done")
    report_deploy(result.get("deploy"))
    click.echo(" ".join(f"{t}={n}" for t, n in sorted(result["structure"].items())))


@cli.command("limits:list")
@app_option
@json_option
def limits_list(app, as_json):
    """Show memory and cpu limits per process type."""
    name, path = _app_path(app, "/limits")
    limits = api().get(path)
    if as_json:
        return print_json(limits)
    heading(f"{name} Limits")
    for kind in ("memory", "cpu"):
        click.echo(f"--- {kind.capitalize()}")
        for ptype, value in sorted(limits[kind].items()) or [("", "Unlimited")]:
            click.echo(f"{ptype}{' ' if ptype else ''}{value}")


def _change_limits(app, items, cpu, unset):
    name, path = _app_path(app, "/limits")
    kind = "cpu" if cpu else "memory"
    changes = {t: None for t in items} if unset else _pairs(items, "TYPE")
    click.echo("Applying limits... ", nl=False)
    result = api().post(path, {kind: changes})
    click.echo(f"done, {name} v{result['release']}")
    report_deploy(result.get("deploy"))


@cli.command("limits:set")
@wait_option
@click.argument("pairs", nargs=-1, required=True, metavar="TYPE=LIMIT...")
@app_option
@click.option("-c", "--cpu", is_flag=True, help="set cpu limits (cores) instead of memory")
def limits_set(pairs, app, cpu):
    """Limit memory (e.g. web=512M) or, with --cpu, cores (e.g. web=0.5)."""
    _change_limits(app, pairs, cpu, unset=False)


@cli.command("limits:unset")
@wait_option
@click.argument("types", nargs=-1, required=True, metavar="TYPE...")
@app_option
@click.option("-c", "--cpu", is_flag=True, help="unset cpu limits instead of memory")
def limits_unset(types, app, cpu):
    """Remove memory (or cpu) limits."""
    _change_limits(app, types, cpu, unset=True)


shortcut("config", "config:list")
shortcut("builds", "builds:list")
shortcut("pull", "builds:create")
shortcut("releases", "releases:list")
shortcut("rollback", "releases:rollback")
shortcut("scale", "ps:scale")
shortcut("limits", "limits:list")


@cli.command("tags:list")
@app_option
@json_option
def tags_list(app, as_json):
    """Show the tags a host must carry to run the app's processes."""
    name, path = _app_path(app, "/tags")
    tags = api().get(path)["tags"]
    if as_json:
        return print_json(tags)
    heading(f"{name} Tags")
    for key, value in sorted(tags.items()):
        click.echo(f"{key} {value}")


def _change_tags(app, changes: dict) -> None:
    name, path = _app_path(app, "/tags")
    click.echo("Applying tags... ", nl=False)
    result = api().post(path, {"values": changes})
    click.echo(f"done, {name} v{result['release']}")
    report_deploy(result.get("deploy"))


@cli.command("tags:set")
@wait_option
@click.argument("pairs", nargs=-1, required=True, metavar="KEY=VALUE...")
@app_option
def tags_set(pairs, app):
    """Run the app only on hosts tagged KEY=VALUE (e.g. environ=prod); refused if no host fits."""
    _change_tags(app, _pairs(pairs, "KEY"))


@cli.command("tags:unset")
@wait_option
@click.argument("keys", nargs=-1, required=True, metavar="KEY...")
@app_option
def tags_unset(keys, app):
    """Remove tags."""
    _change_tags(app, {key: None for key in keys})


shortcut("tags", "tags:list")

"""deis hosts:add, hosts:list, hosts:remove (administrators): the Docker hosts apps run on."""
from __future__ import annotations

from urllib.parse import quote

import click

from client.base import api, cli, heading, json_option, print_json, table
from client.errors import ClientError


def _size(n) -> str:
    if n is None:
        return "?"
    return f"{n / 1024 ** 3:.1f}G" if n >= 1024 ** 3 else f"{n / 1024 ** 2:.0f}M"


def _tags(pairs: tuple[str, ...]) -> dict[str, str]:
    tags = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name or not value:
            raise ClientError(f"tags look like name=value, got {pair!r}")
        tags[name] = value
    return tags


@cli.command("hosts:add")
@click.argument("url")
@click.option("--name", help="short name (default: from the address)")
@click.option("--tag", "tags", multiple=True, metavar="NAME=VALUE", help="host metadata for tags:set (repeatable)")
@click.option("--host-key", help="the SSH host key to expect ('<type> <base64>'); default: pin the one presented")
@json_option
def hosts_add(url, name, tags, host_key, as_json):
    """Add a Docker host reached over SSH, e.g. ssh://root@10.0.0.5 (its engine must answer)."""
    payload = {"url": url, "tags": _tags(tags)}
    if name:
        payload["name"] = name
    if host_key:
        payload["host_key"] = host_key
    host = api().post("/hosts", payload)
    if as_json:
        return print_json(host)
    click.echo(f"Adding host {host['name']}... done, {host['url']} (Docker {host.get('engine')}, "
               f"{_size(host['memory'])} memory, SSH host key pinned)")


@cli.command("hosts:list")
@json_option
def hosts_list(as_json):
    """List hosts: address, state, the platform's containers there, memory capacity and use."""
    hosts = api().get("/hosts")["results"]
    if as_json:
        return print_json(hosts)
    heading("Hosts")
    table([[h["name"], h["url"], h["state"], "?" if h["containers"] is None else h["containers"],
            _size(h["memory"]), _size(h["memory_used"]),
            " ".join(f"{k}={v}" for k, v in sorted(h["tags"].items()))] for h in hosts],
          ["NAME", "URL", "STATE", "CONTAINERS", "MEMORY", "USED", "TAGS"])


@cli.command("hosts:remove")
@click.argument("name")
def hosts_remove(name):
    """Drain a host (its processes move to the others with zero downtime), then remove it."""
    click.echo(f"Draining host {name}...")
    result = api().delete(f"/hosts/{quote(name, safe='')}") or {}
    for line in result.get("log", []):
        click.echo(line)
    click.echo(f"Removing host {name}... done")


@cli.command("hosts:rebalance")
def hosts_rebalance():
    """Spread every app's processes over the hosts again (after adding one), with zero downtime."""
    click.echo("Rebalancing...")
    result = api().post("/hosts/rebalance")
    for line in result["log"]:
        click.echo(line)
    if result["failed"]:
        raise ClientError("rebalancing failed for " + "; ".join(result["failed"]))
    click.echo(f"done, {len(result['apps'])} app(s) checked")

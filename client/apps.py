"""deis apps:*, domains:*, perms:*, users:list."""
from __future__ import annotations

from urllib.parse import quote

import click

from client import git
from client.base import (api, app_option, cli, heading, json_option, print_json, resolve_app, shortcut,
                         table)
from client.errors import ClientError


@cli.command("apps:create")
@click.argument("name", required=False)
@click.option("--no-remote", is_flag=True, help="do not add the 'deis' git remote")
@json_option
def apps_create(name, no_remote, as_json):
    """Create an app (random name if NAME is omitted); adds the 'deis' git remote inside a git repo."""
    app = api().post("/apps", {"id": name} if name else {})
    action = git.set_remote(app["git_url"]) if not no_remote and git.in_repo() else None
    if as_json:
        return print_json(app)
    click.echo(f"Creating application... done, created {app['id']}")
    if action:
        click.echo(f"Git remote deis {action}: {app['git_url']}")
    click.echo(f"URL: {app['url']}")


@cli.command("apps:list")
@json_option
def apps_list(as_json):
    """List the apps you can see."""
    apps = api().get("/apps")["results"]
    if as_json:
        return print_json(apps)
    heading("Apps")
    for app in apps:
        click.echo(app["id"])


@cli.command("apps:info")
@app_option
@json_option
def apps_info(app, as_json):
    """Show an app: owner, URL, release, scale, domains."""
    name = resolve_app(app)
    info = api().get(f"/apps/{quote(name, safe='')}")
    if as_json:
        return print_json(info)
    heading(f"{name} Application")
    release = f"v{info['release']}" if info.get("release") else "(nothing serving yet)"
    for label, value in (("owner", info["owner"]), ("url", info["url"]), ("git", info["git_url"]),
                         ("release", release), ("created", info["created"])):
        click.echo(f"{label + ':':<10}{value}")
    newest = info.get("newest_release")
    if newest:
        reason = f": {newest['status_detail'].splitlines()[0]}" if newest.get("status_detail") else ""
        click.echo(f"{'newest:':<10}v{newest['version']} {newest['status']}{reason}")
    scale = " ".join(f"{t}={n}" for t, n in sorted(info["structure"].items())) or "(none)"
    click.echo(f"{'scale:':<10}{scale}")
    click.echo(f"{'domains:':<10}{', '.join(info['domains']) or '(none)'}")


@cli.command("apps:destroy")
@app_option
@click.option("--confirm", help="the app's name, to confirm")
def apps_destroy(app, confirm):
    """Destroy an app, its releases and containers (needs --confirm=APP)."""
    name = resolve_app(app)
    if confirm != name:
        raise ClientError(f"this destroys {name} and everything in it: run again with --confirm={name}")
    api().delete(f"/apps/{quote(name, safe='')}")
    click.echo(f"Destroyed {name}")
    if git.app_from_remote() == name:
        git.remove_remote()
        click.echo("Git remote deis removed")


@cli.command("apps:transfer")
@click.argument("username")
@app_option
def apps_transfer(username, app):
    """Give the app to another user."""
    name = resolve_app(app)
    api().post(f"/apps/{quote(name, safe='')}/transfer", {"username": username})
    click.echo(f"Transferred {name} to {username}")


@cli.command("domains:list")
@app_option
@json_option
def domains_list(app, as_json):
    """List the app's custom domains."""
    name = resolve_app(app)
    domains = api().get(f"/apps/{quote(name, safe='')}/domains")["results"]
    if as_json:
        return print_json(domains)
    heading(f"{name} Domains")
    for d in domains:
        click.echo(d["domain"])


@cli.command("domains:add")
@click.argument("domain")
@app_option
def domains_add(domain, app):
    """Route DOMAIN to the app."""
    name = resolve_app(app)
    api().post(f"/apps/{quote(name, safe='')}/domains", {"domain": domain})
    click.echo(f"Added {domain} to {name}")


@cli.command("domains:remove")
@click.argument("domain")
@app_option
def domains_remove(domain, app):
    """Stop routing DOMAIN to the app."""
    name = resolve_app(app)
    api().delete(f"/apps/{quote(name, safe='')}/domains/{quote(domain, safe='')}")
    click.echo(f"Removed {domain} from {name}")


@cli.command("perms:list")
@app_option
@click.option("--admin", is_flag=True, help="list platform administrators instead")
@json_option
def perms_list(app, admin, as_json):
    """List the app's collaborators (or, with --admin, the administrators)."""
    if admin:
        data = api().get("/admin/perms")
        title = "Administrators"
    else:
        name = resolve_app(app)
        data = api().get(f"/apps/{quote(name, safe='')}/perms")
        title = f"{name}'s Users (owner: {data['owner']})"
    if as_json:
        return print_json(data)
    heading(title)
    for user in data["users"]:
        click.echo(user)


@cli.command("perms:create")
@click.argument("username")
@app_option
@click.option("--admin", is_flag=True, help="make USERNAME a platform administrator")
def perms_create(username, app, admin):
    """Let USERNAME collaborate on the app (or, with --admin, administer the platform)."""
    if admin:
        api().post("/admin/perms", {"username": username})
        return click.echo(f"{username} is now an administrator")
    name = resolve_app(app)
    api().post(f"/apps/{quote(name, safe='')}/perms", {"username": username})
    click.echo(f"Added {username} to {name} collaborators")


@cli.command("perms:delete")
@click.argument("username")
@app_option
@click.option("--admin", is_flag=True, help="revoke administrator rights instead")
def perms_delete(username, app, admin):
    """Remove a collaborator (or, with --admin, an administrator)."""
    if admin:
        api().delete(f"/admin/perms/{quote(username, safe='')}")
        return click.echo(f"{username} is no longer an administrator")
    name = resolve_app(app)
    api().delete(f"/apps/{quote(name, safe='')}/perms/{quote(username, safe='')}")
    click.echo(f"Removed {username} from {name} collaborators")


@cli.command("users:list")
@json_option
def users_list(as_json):
    """(admin) List all users."""
    users = api().get("/users")["results"]
    if as_json:
        return print_json(users)
    table([[u["username"], u["email"], "yes" if u["is_admin"] else ""] for u in users],
          ["USERNAME", "EMAIL", "ADMIN"])


shortcut("create", "apps:create")
shortcut("apps", "apps:list")
shortcut("info", "apps:info")
shortcut("destroy", "apps:destroy")
shortcut("domains", "domains:list")
shortcut("perms", "perms:list")
shortcut("users", "users:list")

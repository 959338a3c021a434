"""deis register, login, logout, whoami, auth:passwd, auth:tokens, auth:regenerate, auth:cancel, keys:*."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import click

from client import profile
from client.api import API
from client.base import api, cli, json_option, print_json, prompt_or_fail, shortcut, table
from client.errors import ClientError


def _normalize_url(url: str) -> str:
    if not url.startswith(("http://", "https://")):
        url = "http://" + url
    return url.rstrip("/")


def _login(url: str, username: str, password: str) -> str:
    """Log in and keep the token; return the account's name as the controller spells it."""
    data = API(url).post("/auth/login", {"username": username, "password": password})
    profile.save({"controller": url, "username": data["username"], "token": data["token"]})
    return data["username"]


@cli.command("auth:register")
@click.argument("url")
@click.option("--username")
@click.option("--password")
@click.option("--email", default="")
def register(url, username, password, email):
    """Create an account on the controller at URL and log in (the first user becomes admin)."""
    url = _normalize_url(url)
    username = prompt_or_fail(username, "username")
    password = prompt_or_fail(password, "password", hide=True)
    user = API(url).post("/auth/register", {"username": username, "password": password, "email": email})
    _login(url, username, password)
    admin = " (administrator)" if user["is_admin"] else ""
    click.echo(f"Registered {username}{admin}")
    click.echo(f"Logged in as {username}")


@cli.command("auth:login")
@click.argument("url", required=False)
@click.option("--username")
@click.option("--password")
def login(url, username, password):
    """Log in to the controller at URL (default: the one in your profile)."""
    url = _normalize_url(url) if url else profile.load().get("controller")
    if not url:
        raise ClientError("give the controller URL: deis login http://HOST:8000")
    username = prompt_or_fail(username, "username")
    password = prompt_or_fail(password, "password", hide=True)
    click.echo(f"Logged in as {_login(url, username, password)}")


@cli.command("auth:logout")
def logout():
    """Log out and forget the token."""
    prof = profile.load()
    if prof.get("token"):
        try:
            api().post("/auth/logout")
        except ClientError:
            pass  # the token may already be revoked; forgetting it locally is what matters
    profile.save({"controller": prof["controller"]} if "controller" in prof else {})
    click.echo("Logged out")


@cli.command("auth:whoami")
@json_option
def whoami(as_json):
    """Show who you are logged in as."""
    user = api().get("/auth/whoami")
    if as_json:
        return print_json(user)
    role = " (administrator)" if user["is_admin"] else ""
    click.echo(f"You are {user['username']}{role} at {profile.load()['controller']}")


@cli.command("auth:passwd")
@click.option("--password", help="current password")
@click.option("--new-password")
def passwd(password, new_password):
    """Change your password."""
    password = prompt_or_fail(password, "password", hide=True)
    new_password = prompt_or_fail(new_password, "new password", hide=True)
    api().post("/auth/passwd", {"password": password, "new_password": new_password})
    click.echo("Password changed")


@cli.command("auth:tokens")
@json_option
def tokens(as_json):
    """List your API tokens (one per login; never their secrets)."""
    results = api().get("/auth/tokens")["results"]
    if as_json:
        return print_json(results)
    table([[t["id"], t["created"], t["last_used"] or "never", t["expires"], "*" if t["current"] else ""]
           for t in results], ["ID", "CREATED", "LAST USED", "EXPIRES", "CURRENT"])


@cli.command("auth:tokens:revoke")
@click.argument("token_id", type=click.IntRange(min=1), metavar="ID")
def tokens_revoke(token_id):
    """Revoke one of your tokens by ID (see deis auth:tokens), e.g. a forgotten login elsewhere."""
    prof = profile.load()
    current = next((t["id"] for t in api().get("/auth/tokens")["results"] if t["current"]), None)
    api().delete(f"/auth/tokens/{token_id}")
    if token_id == current:
        profile.save({"controller": prof["controller"]})
        click.echo(f"Revoked token {token_id} (this session's: you are logged out)")
    else:
        click.echo(f"Revoked token {token_id}")


@cli.command("auth:regenerate")
@click.option("-u", "--username", help="(admin) regenerate another user's token")
def regenerate(username):
    """Revoke your tokens and get a new one."""
    data = api().post("/auth/tokens", {"username": username} if username else {})
    prof = profile.load()
    if data["username"] == prof.get("username"):
        profile.save({**prof, "token": data["token"]})
    click.echo(f"Token regenerated for {data['username']}")


@cli.command("auth:cancel")
@click.option("-u", "--username", help="(admin) cancel another user's account")
@click.option("--confirm", help="the username, to confirm")
def cancel(username, confirm):
    """Delete your account (apps must be destroyed or transferred first)."""
    prof = profile.load()
    target = username or prof.get("username")
    if confirm != target:
        raise ClientError(f"this deletes the account {target!r}: run again with --confirm={target}")
    api().delete("/auth/cancel", {"username": target})
    if target == prof.get("username"):
        profile.clear()
    click.echo(f"Account {target} cancelled")


@cli.command("keys:add")
@click.argument("path", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--id", "key_id", help="a name for the key (default: its comment)")
def keys_add(path, key_id):
    """Add an SSH public key (default: ~/.ssh/id_ed25519.pub or id_rsa.pub)."""
    if path is None:
        candidates = [Path.home() / ".ssh" / n for n in ("id_ed25519.pub", "id_ecdsa.pub", "id_rsa.pub")]
        path = next((p for p in candidates if p.exists()), None)
        if path is None:
            raise ClientError("no public key found in ~/.ssh: give its path, e.g. deis keys:add ~/.ssh/id_ed25519.pub")
    try:
        public = path.read_text().strip()
    except OSError as exc:
        raise ClientError(f"cannot read {path}: {exc.strerror}") from None
    body = {"public": public} | ({"id": key_id} if key_id else {})
    key = api().post("/keys", body)
    click.echo(f"Added key {key['id']} ({key['fingerprint']})")


@cli.command("keys:list")
@json_option
def keys_list(as_json):
    """List your SSH keys."""
    keys = api().get("/keys")["results"]
    if as_json:
        return print_json(keys)
    table([[k["id"], k["fingerprint"], k["public"][:40] + "..."] for k in keys], ["ID", "FINGERPRINT", "KEY"])


@cli.command("keys:remove")
@click.argument("key_id")
def keys_remove(key_id):
    """Remove an SSH key by id or fingerprint."""
    api().delete(f"/keys/{quote(key_id, safe='')}")
    click.echo(f"Removed key {key_id}")


for _short in ("register", "login", "logout", "whoami", "passwd", "tokens", "regenerate", "cancel"):
    shortcut(_short, f"auth:{_short}")
shortcut("keys", "keys:list")

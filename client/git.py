"""The app's ``deis`` git remote: infer the app from it, add it on apps:create."""
from __future__ import annotations

import re
import subprocess

from deiscore.validation import APP_NAME

REMOTE = "deis"
APP_FROM_URL = re.compile(rf".*[/:]({APP_NAME.pattern})\.git/?")


def _git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], capture_output=True, text=True)


def in_repo() -> bool:
    return _git("rev-parse", "--git-dir").returncode == 0


def remote_url(name: str = REMOTE) -> str | None:
    result = _git("remote", "get-url", name)
    return result.stdout.strip() if result.returncode == 0 else None


def app_from_remote() -> str | None:
    url = remote_url()
    if not url:
        return None
    match = APP_FROM_URL.fullmatch(url)
    return match.group(1) if match else None


def set_remote(url: str, name: str = REMOTE) -> str:
    """Point the ``deis`` remote at ``url``; returns 'added' or 'updated'."""
    if remote_url(name) is None:
        _git("remote", "add", name, url)
        return "added"
    _git("remote", "set-url", name, url)
    return "updated"


def remove_remote(name: str = REMOTE) -> None:
    _git("remote", "remove", name)

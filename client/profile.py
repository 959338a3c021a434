"""The CLI profile: controller URL, username and token in ~/.deis/client.json (mode 0600)."""
from __future__ import annotations

import json
import os
from pathlib import Path

from client.errors import ClientError


def path() -> Path:
    return Path(os.environ.get("DEIS_PROFILE_DIR") or Path.home() / ".deis") / "client.json"


def load() -> dict:
    try:
        return json.loads(path().read_text())
    except FileNotFoundError:
        return {}
    except (ValueError, OSError) as exc:
        raise ClientError(f"cannot read {path()}: {exc}") from None


def save(profile: dict) -> None:
    target = path()
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(profile, f, indent=2)
    os.chmod(tmp, 0o600)
    os.replace(tmp, target)


def clear() -> None:
    path().unlink(missing_ok=True)

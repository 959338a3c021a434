"""``BUILDPACK_URL``: where an app's custom buildpack is fetched from, and the one rule for it.

Only network URLs (``https://``, ``http://``, ``git://``), with an optional ``#ref`` (a branch or
tag, as on Heroku). ``file://`` and local paths would read the platform's own disk; ``ssh`` would
need a key the platform does not hold for the user; git's ``transport::address`` helpers run
commands. The controller checks the rule when the config is set, the builder again before a build
(a config may predate the rule), and the clone itself runs inside the build container, restricted
to these protocols.
"""
from __future__ import annotations

import re
from urllib.parse import urlsplit

SCHEMES = ("https", "http", "git")
MAX_LENGTH = 2048
_REF = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._/-]{0,254}")
_SCP_LIKE = re.compile(r"[^/:]+:")  # git's [user@]host:path form, which is ssh
_NETWORK = "use a network URL: https://, http:// or git://"


def parse(url) -> tuple[str, str | None]:
    """``https://host/bp.git#v1`` -> (``https://host/bp.git``, ``v1``); ValueError saying why a URL is refused."""
    if not isinstance(url, str) or not url:
        raise ValueError(f"BUILDPACK_URL is empty: {_NETWORK}")
    if len(url) > MAX_LENGTH:
        raise ValueError(f"BUILDPACK_URL is longer than {MAX_LENGTH} characters")
    if any(c.isspace() or not c.isprintable() for c in url):
        raise ValueError("BUILDPACK_URL contains spaces or control characters")
    base, sep, ref = url.partition("#")
    if "::" in base.split("/", 1)[0]:
        raise ValueError(f"BUILDPACK_URL {url!r} names a git remote helper (transport::address), which runs "
                         f"commands: {_NETWORK}")
    scheme = urlsplit(base).scheme.lower() if "://" in base else ""
    if scheme == "file":
        raise ValueError(f"BUILDPACK_URL {url!r} is a file:// URL: the platform does not read buildpacks from "
                         f"its own disk; {_NETWORK}")
    if scheme in ("ssh", "git+ssh", "ssh+git") or (not scheme and _SCP_LIKE.match(base)):
        raise ValueError(f"BUILDPACK_URL {url!r} is an ssh URL: the platform has no SSH key to fetch it with; "
                         f"use the buildpack's https:// URL")
    if not scheme:
        raise ValueError(f"BUILDPACK_URL {url!r} is a local path: the platform does not read buildpacks from "
                         f"its own disk; {_NETWORK}")
    if scheme not in SCHEMES:
        raise ValueError(f"BUILDPACK_URL {url!r}: the scheme {scheme}:// is not supported; {_NETWORK}")
    if not urlsplit(base).hostname:
        raise ValueError(f"BUILDPACK_URL {url!r} has no host")
    if sep and not (_REF.fullmatch(ref) and ".." not in ref and not ref.endswith((".lock", "/"))):
        raise ValueError(f"BUILDPACK_URL {url!r}: {ref!r} after '#' is not a branch or tag name")
    return base, (ref if sep else None)

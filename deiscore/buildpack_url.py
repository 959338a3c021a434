"""``BUILDPACK_URL`` and ``.buildpacks`` lines: which buildpack they name, and the one rule for URLs.

A built-in buildpack is named by its name (``nodejs``), Heroku's short name (``heroku/nodejs``) or its
usual public repository (any URL whose repository is ``heroku-buildpack-nodejs``): so an app written for
Heroku or Dokku builds with the built-in one, which needs no download. Anything else is a URL.

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


# name -> the built-in buildpack (builder/buildpacks/<name>)
BUILTIN = {"python": "python", "nodejs": "node", "node": "node", "go": "go", "golang": "go", "ruby": "ruby",
           "php": "php", "java": "java", "gradle": "java", "static": "static", "procfile": "procfile"}
_REPOSITORY = re.compile(r"heroku-buildpack-([a-z]+)")


def builtin(spec: str) -> str | None:
    """The built-in buildpack ``spec`` names (``nodejs``, ``heroku/nodejs``, a ``heroku-buildpack-nodejs`` URL
    with or without ``.git`` and ``#ref``), else None."""
    if "://" not in spec:
        owner, _, name = spec.rpartition("/")
        return BUILTIN.get(name) if owner in ("", "heroku", "heroku-community") else None
    path = urlsplit(spec.partition("#")[0]).path.rstrip("/")
    repository = path.rpartition("/")[2].removesuffix(".git")
    match = _REPOSITORY.fullmatch(repository)
    return BUILTIN.get(match.group(1)) if match else None


def resolve(spec, what: str = "BUILDPACK_URL") -> tuple[str, str | None, str | None]:
    """(built-in name, None, None) or (None, url, ref); ValueError saying why ``spec`` is refused."""
    name = builtin(spec) if isinstance(spec, str) else None
    if name:
        return name, None, None
    if isinstance(spec, str) and spec and "://" not in spec and not _SCP_LIKE.match(spec) and " " not in spec \
            and not spec.startswith((".", "/", "~")):
        raise ValueError(f"{what} {spec!r} is not a built-in buildpack ({', '.join(sorted(BUILTIN))}, also as "
                         f"heroku/<name>) nor a network URL (https://, http:// or git://)")
    url, ref = parse(spec, what)
    return None, url, ref


def parse(url, what: str = "BUILDPACK_URL") -> tuple[str, str | None]:
    """``https://host/bp.git#v1`` -> (``https://host/bp.git``, ``v1``); ValueError saying why a URL is refused."""
    if not isinstance(url, str) or not url:
        raise ValueError(f"{what} is empty: {_NETWORK}")
    if len(url) > MAX_LENGTH:
        raise ValueError(f"{what} is longer than {MAX_LENGTH} characters")
    if any(c.isspace() or not c.isprintable() for c in url):
        raise ValueError(f"{what} contains spaces or control characters")
    base, sep, ref = url.partition("#")
    if "::" in base.split("/", 1)[0]:
        raise ValueError(f"{what} {url!r} names a git remote helper (transport::address), which runs "
                         f"commands: {_NETWORK}")
    scheme = urlsplit(base).scheme.lower() if "://" in base else ""
    if scheme == "file":
        raise ValueError(f"{what} {url!r} is a file:// URL: the platform does not fetch from "
                         f"its own disk; {_NETWORK}")
    if scheme in ("ssh", "git+ssh", "ssh+git") or (not scheme and _SCP_LIKE.match(base)):
        raise ValueError(f"{what} {url!r} is an ssh URL: the platform has no SSH key to fetch it with; "
                         f"use the buildpack's https:// URL")
    if not scheme:
        raise ValueError(f"{what} {url!r} is a local path: the platform does not fetch from "
                         f"its own disk; {_NETWORK}")
    if scheme not in SCHEMES:
        raise ValueError(f"{what} {url!r}: the scheme {scheme}:// is not supported; {_NETWORK}")
    if not urlsplit(base).hostname:
        raise ValueError(f"{what} {url!r} has no host")
    if sep and not (_REF.fullmatch(ref) and ".." not in ref and not ref.endswith((".lock", "/"))):
        raise ValueError(f"{what} {url!r}: {ref!r} after '#' is not a branch or tag name")
    return base, (ref if sep else None)

"""Name and value checks for everything that enters through the API.

Names are full-matched and rejected, never rewritten (DESIGN.md, Style 6).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from controller.errors import BadRequest

APP_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
APP_NAME_MAX = 40
RESERVED_APP_NAMES = frozenset({
    "deis", "controller", "builder", "router", "registry", "api", "www", "admin", "git", "ssh",
    "root", "localhost", "store", "logger", "database", "swarm",
})
# Lowercase, so that no two accounts differ only in case (lookups ignore case: see access.find_user);
# letters or digits at both ends, no "..".
USERNAME = re.compile(r"[a-z0-9]+(?:(?:[_-]+|\.)[a-z0-9]+)*")
USERNAME_MAX = 64
CONFIG_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
PROCESS_TYPE = re.compile(r"[a-z0-9]+(?:[-_][a-z0-9]+)*")
KEY_NAME = re.compile(r"[A-Za-z0-9_.@+-]{1,128}")
DOMAIN = re.compile(r"(?=.{1,253}\Z)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]")
MEMORY = re.compile(r"[1-9][0-9]*[bkmgBKMG]?")
# name[:tag][@digest], optionally prefixed by a registry host[:port]
IMAGE = re.compile(
    r"(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?"
)
MAX_CONFIG_VALUE = 64 * 1024
IMAGE_ID = re.compile(r"(?:sha256:)?[0-9a-f]{1,64}")  # an image ID or a prefix of one


def app_name(value) -> str:
    if not isinstance(value, str) or not APP_NAME.fullmatch(value) or len(value) > APP_NAME_MAX:
        raise BadRequest(
            f"invalid app name {value!r}: use lowercase letters, digits and single dashes "
            f"(at most {APP_NAME_MAX} characters, not starting or ending with a dash)")
    if value in RESERVED_APP_NAMES:
        raise BadRequest(f"app name {value!r} is reserved")
    return value


def username(value) -> str:
    """A new account's name."""
    if not isinstance(value, str) or len(value) > USERNAME_MAX or not USERNAME.fullmatch(value):
        raise BadRequest(f"invalid username {value!r}: use lowercase letters and digits, with '.', '-' or '_' "
                         f"only between them (no '..'; at most {USERNAME_MAX} characters)")
    return value


def config_key(value) -> str:
    if not isinstance(value, str) or not CONFIG_KEY.fullmatch(value):
        raise BadRequest(f"invalid config key {value!r}: use letters, digits and '_', not starting with a digit")
    if value.startswith("DEIS_") or value == "PORT":
        raise BadRequest(f"config key {value!r} is set by the platform")
    return value


def config_value(key: str, value) -> str:
    if not isinstance(value, str):
        raise BadRequest(f"config value of {key} must be a string")
    if "\x00" in value:
        raise BadRequest(f"config value of {key} contains a NUL byte, which an environment cannot hold")
    if len(value.encode()) > MAX_CONFIG_VALUE:
        raise BadRequest(f"config value of {key} is longer than {MAX_CONFIG_VALUE} bytes")
    return value


def process_type(value) -> str:
    if not isinstance(value, str) or not PROCESS_TYPE.fullmatch(value) or len(value) > 63:
        raise BadRequest(f"invalid process type {value!r}")
    return value


def key_name(value) -> str:
    if not isinstance(value, str) or not KEY_NAME.fullmatch(value):
        raise BadRequest(f"invalid key id {value!r}")
    return value


def domain(value) -> str:
    if not isinstance(value, str) or not DOMAIN.fullmatch(value):
        raise BadRequest(f"invalid domain {value!r}: use a lowercase hostname such as www.example.com")
    return value


def image(value) -> str:
    if not isinstance(value, str) or len(value) > 512 or not IMAGE.fullmatch(value):
        raise BadRequest(f"invalid image reference {value!r}")
    return value


@dataclass(frozen=True)
class ImageRef:
    """A full image reference: ``registry/path`` plus a tag or a digest."""
    registry: str
    path: str
    tag: str | None = None
    digest: str | None = None

    def __str__(self) -> str:
        return f"{self.registry}/{self.path}" + (f"@{self.digest}" if self.digest else f":{self.tag}")


def image_reference(value) -> ImageRef:
    """An image a user may ask the platform to pull (``deis pull``): a full reference naming its
    registry. Image IDs and their prefixes (which would pick any image on the shared engine) and
    short names (which the engine would look up on a public registry) are refused."""
    image(value)
    if IMAGE_ID.fullmatch(value):
        raise BadRequest(f"{value!r} looks like an image ID: local images are not accepted; pull by a full "
                         "reference such as registry.example.com/team/web:1.0 or ...@sha256:<digest>")
    first, slash, rest = value.partition("/")
    if not slash or not ("." in first or ":" in first or first == "localhost"):
        raise BadRequest(f"image {value!r} does not name its registry: use a full reference such as "
                         f"registry.example.com/{value}")
    rest, at, digest = rest.partition("@")
    path, colon, tag = rest.partition(":")
    return ImageRef(first, path, tag if colon else (None if at else "latest"), digest or None)


def memory(value) -> str:
    if not isinstance(value, str) or not MEMORY.fullmatch(value):
        raise BadRequest(f"invalid memory limit {value!r}: use a number with an optional unit, e.g. 512M or 1G")
    return value.upper()


def cpu(value) -> float:
    if isinstance(value, bool):  # float(True) is 1.0, but true is not a number of cores
        raise BadRequest(f"invalid cpu limit {value!r}: use a number of cores, e.g. 0.5")
    try:
        cores = float(value)
    except (TypeError, ValueError):
        raise BadRequest(f"invalid cpu limit {value!r}: use a number of cores, e.g. 0.5") from None
    if not 0.01 <= cores <= 64:
        raise BadRequest(f"invalid cpu limit {value!r}: between 0.01 and 64 cores")
    return cores


def procfile(value) -> dict[str, str]:
    if not isinstance(value, dict):
        raise BadRequest("procfile must be an object mapping process types to commands")
    for ptype, command in value.items():
        process_type(ptype)
        if not isinstance(command, str) or not command.strip() or "\x00" in command:
            raise BadRequest(f"procfile command for {ptype!r} must be a non-empty string")
    return dict(value)


def json_object(body) -> dict:
    if not isinstance(body, dict):
        raise BadRequest("request body must be a JSON object")
    return body

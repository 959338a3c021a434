"""Every rule for a name or value that users give the platform, each defined once (DESIGN.md, Style 6 and 10).

The controller checks them at the API, the builder at the SSH edge and on the Procfile before a build,
the scheduler on the specs it is given, the router on its routes, the CLI where it reads a name: all
with these functions, so a value one part accepts is never refused by another further down. Names are
full-matched and refused, never rewritten. Each rule raises :class:`deiscore.errors.InvalidInput`, whose
message names the field, the value and what is allowed.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Mapping

from deiscore.errors import InvalidInput

# -- apps and accounts ---------------------------------------------------------------------------------

# An app is served at ``<app>.<DEIS_DOMAIN>`` (one DNS label: at most 63 characters) and its Swarm
# services are named ``<app>_<type>``, which Swarm limits to 63 characters as well: 40 leaves 22 for the
# process type there (PROCESS_TYPE_MAX). Containers (``<app>_v<N>.<type>.<num>``) and networks
# (``<platform>.<app>``, with a hashed bridge name) have no tighter limit.
APP_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
APP_NAME_MAX = 40
RESERVED_APP_NAMES = frozenset({
    "deis", "controller", "builder", "router", "registry", "api", "www", "admin", "git", "ssh",
    "root", "localhost", "store", "logger", "database", "swarm",
})
# Lowercase, so that no two accounts differ only in case; letters or digits at both ends, no "..".
USERNAME = re.compile(r"[a-z0-9]+(?:(?:[_-]+|\.)[a-z0-9]+)*")
USERNAME_MAX = 64
KEY_NAME = re.compile(r"[A-Za-z0-9_.@+-]{1,128}")  # an SSH key's id (its comment, by default)


def app_name(value) -> str:
    if not isinstance(value, str) or len(value) > APP_NAME_MAX or not APP_NAME.fullmatch(value):
        raise InvalidInput("app name", value, f"use lowercase letters, digits and single dashes, at most "
                                              f"{APP_NAME_MAX} characters, not starting or ending with a dash")
    if value in RESERVED_APP_NAMES:
        raise InvalidInput("app name", value, "reserved for the platform's own services")
    return value


def username(value) -> str:
    """A new account's name."""
    if not isinstance(value, str) or len(value) > USERNAME_MAX or not USERNAME.fullmatch(value):
        raise InvalidInput("username", value, f"use lowercase letters and digits, with '.', '-' or '_' only "
                                              f"between them (no '..'; at most {USERNAME_MAX} characters)")
    return value


def key_name(value) -> str:
    if not isinstance(value, str) or not KEY_NAME.fullmatch(value):
        raise InvalidInput("key id", value, "use 1 to 128 letters, digits and '_.@+-'")
    return value


# -- processes -----------------------------------------------------------------------------------------

# Process types are part of container names (``<app>_v<N>.<type>.<num>``) and of ``deis scale type=N``.
PROCESS_TYPE = re.compile(r"[a-z0-9]+(?:[-_][a-z0-9]+)*")
SWARM_SERVICE_NAME_MAX = 63
PROCESS_TYPE_MAX = SWARM_SERVICE_NAME_MAX - len("_") - APP_NAME_MAX  # 22: <app>_<type> is a Swarm service
RESERVED_PROCESS_TYPES = frozenset({"run"})  # one-off containers (deis run) are named <app>_v<N>.run.<id>
MAX_SCALE = 100  # containers per process type


def process_type(value) -> str:
    """A process type as named in a request (scale, limits, restart)."""
    if not isinstance(value, str) or len(value) > PROCESS_TYPE_MAX or not PROCESS_TYPE.fullmatch(value):
        raise InvalidInput("process type", value, f"use lowercase letters and digits, with single '-' or '_' "
                                                  f"between them (at most {PROCESS_TYPE_MAX} characters)")
    return value


def procfile_type(value) -> str:
    """A process type a Procfile (or an image) declares: a process type that is not reserved."""
    process_type(value)
    if value in RESERVED_PROCESS_TYPES:
        raise InvalidInput("process type", value, "reserved for one-off containers (deis run)")
    return value


def procfile_command(ptype: str, command) -> str:
    if not isinstance(command, str) or not command.strip() or "\x00" in command:
        raise InvalidInput(f"command of {ptype}", command, "must be a non-empty string without NUL bytes")
    return command


def procfile(value) -> dict[str, str]:
    """``{process_type: command}``, as the builder sends it with a build."""
    if not isinstance(value, Mapping):
        raise InvalidInput("procfile", value, "must be an object mapping process types to commands",
                           detail="procfile must be an object mapping process types to commands")
    for ptype, command in value.items():
        procfile_type(ptype)
        procfile_command(ptype, command)
    return dict(value)


def scale_count(ptype: str, value) -> int:
    """How many containers of ``ptype``: a whole number (or a string of ASCII digits) from 0 to MAX_SCALE."""
    count = int(value) if isinstance(value, str) and value.isascii() and value.isdigit() else value  # not '²'
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_SCALE:
        reason = f"use a whole number between 0 and {MAX_SCALE}"
        raise InvalidInput(f"count for {ptype}", value, reason, detail=f"invalid count {value!r} for {ptype}: {reason}")
    return count


# -- resource limits -----------------------------------------------------------------------------------

MEMORY = re.compile(r"[1-9][0-9]{0,9}[bkmgBKMG]?")  # bytes without a unit
MEMORY_UNITS = {"b": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}
MEMORY_MIN = 6 * 1024 ** 2  # Docker refuses to start a container with less
CPU_MIN, CPU_MAX = 0.01, 64.0


def memory_bytes(value: str) -> int:
    """Bytes of a size that :data:`MEMORY` matches."""
    unit = value[-1].lower()
    return int(value[:-1]) * MEMORY_UNITS[unit] if unit in MEMORY_UNITS else int(value)


def memory(value, ptype: str | None = None) -> str:
    """A memory limit such as ``512M`` or ``1g``, at least 6M; returned with its unit in capitals."""
    field = f"memory limit of {ptype}" if ptype else "memory limit"
    if not isinstance(value, str) or not MEMORY.fullmatch(value):
        raise InvalidInput(field, value, "use a whole number with an optional unit (b, k, m or g), e.g. 512M or 1G")
    if memory_bytes(value) < MEMORY_MIN:
        raise InvalidInput(field, value, "at least 6M (the container engine's minimum)")
    return value.upper()


def cpu(value, ptype: str | None = None) -> float:
    """A cpu limit in cores, from 0.01 to 64 (a number, or a string of one)."""
    field = f"cpu limit of {ptype}" if ptype else "cpu limit"
    allowed = f"use a number of cores between {CPU_MIN:g} and {CPU_MAX:g}, e.g. 0.5"
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):  # float(True) is 1.0
        raise InvalidInput(field, value, allowed)
    try:
        cores = float(value)
    except ValueError:
        raise InvalidInput(field, value, allowed) from None
    if math.isnan(cores) or not CPU_MIN <= cores <= CPU_MAX:
        raise InvalidInput(field, value, allowed)
    return cores


# -- config --------------------------------------------------------------------------------------------

CONFIG_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # an environment variable's name
PLATFORM_CONFIG_PREFIX = "DEIS_"
PLATFORM_CONFIG_KEYS = frozenset({"PORT"})  # and every key starting with PLATFORM_CONFIG_PREFIX
MAX_CONFIG_VALUE = 64 * 1024  # bytes


def config_key(value) -> str:
    if not isinstance(value, str) or not CONFIG_KEY.fullmatch(value):
        raise InvalidInput("config key", value, "use letters, digits and '_', not starting with a digit")
    if value.startswith(PLATFORM_CONFIG_PREFIX) or value in PLATFORM_CONFIG_KEYS:
        raise InvalidInput("config key", value, f"set by the platform (PORT and {PLATFORM_CONFIG_PREFIX}*)")
    return value


def env_name(value) -> str:
    """A variable a container's environment can hold (platform keys included: the scheduler sets them)."""
    if not isinstance(value, str) or not CONFIG_KEY.fullmatch(value):
        raise InvalidInput("config key", value, "use letters, digits and '_', not starting with a digit")
    return value


def config_value(key: str, value) -> str:
    """Kept byte-exact; the message never repeats the value (it may be a secret)."""
    def refuse(reason: str):
        return InvalidInput(f"config value of {key}", value, reason, detail=f"invalid config value of {key}: {reason}")

    if not isinstance(value, str):
        raise refuse("must be a string")
    if "\x00" in value:
        raise refuse("contains a NUL byte, which an environment cannot hold")
    if len(value.encode()) > MAX_CONFIG_VALUE:
        raise refuse(f"longer than {MAX_CONFIG_VALUE} bytes")
    return value


# -- domains and tags ----------------------------------------------------------------------------------

DNS_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
# A custom domain of an app: lowercase, at least two labels, a top-level label starting with a letter.
DOMAIN = re.compile(rf"(?=.{{1,253}}\Z)(?:{DNS_LABEL}\.)+[a-z][a-z0-9-]{{0,61}}[a-z0-9]")
# Hosts carry tags (name: value) and apps ask for them (deis tags:set).
TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
_TAG_ALLOWED = "use letters, digits, '_', '.' and '-', starting with a letter or digit (at most 63 characters)"


def domain(value) -> str:
    if not isinstance(value, str) or not DOMAIN.fullmatch(value):
        raise InvalidInput("domain", value, "use a lowercase hostname of at most 253 characters, such as "
                                            "www.example.com")
    return value


def tag_name(value) -> str:
    if not isinstance(value, str) or not TAG.fullmatch(value):
        raise InvalidInput("tag name", value, _TAG_ALLOWED)
    return value


def tag_value(name: str, value) -> str:
    if not isinstance(value, str) or not TAG.fullmatch(value):
        raise InvalidInput(f"value of tag {name}", value, _TAG_ALLOWED)
    return value


def tags(value) -> dict[str, str]:
    """``{name: value}`` of tags (None: no tags)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidInput("tags", value, "must be an object of name: value")
    return {tag_name(name): tag_value(name, tag) for name, tag in value.items()}


# -- images --------------------------------------------------------------------------------------------

# name[:tag][@digest], optionally prefixed by a registry host[:port]
IMAGE = re.compile(
    r"(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?"
)
IMAGE_MAX = 512
IMAGE_ID = re.compile(r"(?:sha256:)?[0-9a-f]{1,64}")  # an image ID or a prefix of one


def image(value) -> str:
    if not isinstance(value, str) or len(value) > IMAGE_MAX or not IMAGE.fullmatch(value):
        raise InvalidInput("image reference", value, "use [registry/]name[:tag][@sha256:digest], e.g. "
                                                     "registry.example.com/team/web:1.0")
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
        raise InvalidInput("image reference", value, "looks like an image ID: local images are not accepted; "
                           "pull by a full reference such as registry.example.com/team/web:1.0 or ...@sha256:<digest>")
    first, slash, rest = value.partition("/")
    if not slash or not ("." in first or ":" in first or first == "localhost"):
        raise InvalidInput("image reference", value, f"does not name its registry: use a full reference such as "
                                                     f"registry.example.com/{value}")
    rest, at, digest = rest.partition("@")
    path, colon, tag = rest.partition(":")
    return ImageRef(first, path, tag if colon else (None if at else "latest"), digest or None)


# -- request bodies ------------------------------------------------------------------------------------

EMAIL = re.compile(r"[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+")
EMAIL_MAX = 254


def email(value) -> str:
    """An email address (or empty: none given): one '@' between two non-empty parts, no spaces or controls."""
    if value == "":
        return value
    if not isinstance(value, str) or len(value) > EMAIL_MAX or not EMAIL.fullmatch(value):
        raise InvalidInput("email", value, f"use an address like ada@example.com (at most {EMAIL_MAX} characters)")
    return value


def json_object(body) -> dict:
    if not isinstance(body, dict):
        raise InvalidInput("request body", body, "must be a JSON object", detail="request body must be a JSON object")
    return body

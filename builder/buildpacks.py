"""Which buildpacks a build tries, and how they get into the build container.

The shipped buildpacks live in ``builder/buildpacks/<name>/bin/{detect,compile,release}`` and
are tried in :data:`DETECT_ORDER` (most specific first: a Python app with an ``index.html`` is
still a Python app; the Procfile-only buildpack catches what is left). ``BUILDPACK_URL``
replaces them with one custom buildpack, cloned by the build container itself (``runner/build
--fetch``), never on the host: only network URLs (:mod:`deiscore.buildpack_url`), with an optional
``#ref`` selecting a branch or tag, as on Heroku.
"""
from __future__ import annotations

import io
import logging
import re
import tarfile
from pathlib import Path

import yaml

from builder.errors import BuildFailed
from builder.procfile import PROCESS_TYPE
from deiscore import buildpack_url

log = logging.getLogger(__name__)

SHIPPED_DIR = Path(__file__).resolve().parent / "buildpacks"
RUNNER_DIR = Path(__file__).resolve().parent / "runner"
DETECT_ORDER = ("python", "static", "procfile")
CONTAINER_DIR = "/tmp/buildpacks"
CUSTOM_DIR = f"{CONTAINER_DIR}/custom"  # where the build container clones BUILDPACK_URL
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def detect_order(available: list[str], preferred: tuple[str, ...] = DETECT_ORDER) -> list[str]:
    """Order buildpack names for detection: the preferred ones first, in order, then the rest by name."""
    known = [name for name in preferred if name in available]
    return known + sorted(name for name in available if name not in preferred)


def shipped_buildpacks(root: Path = SHIPPED_DIR) -> dict[str, Path]:
    return {path.name: path for path in sorted(root.iterdir()) if (path / "bin" / "detect").exists()}


def build_command(container_paths: list[str], custom_url: str | None = None) -> list[str]:
    """The build container's command: try the buildpacks at ``container_paths``, or clone
    ``custom_url`` (BUILDPACK_URL, checked here again: the config may predate the rule) and use it."""
    if custom_url is None:
        return ["/runner/build", *container_paths]
    try:
        url, ref = buildpack_url.parse(custom_url)
    except ValueError as exc:
        raise BuildFailed(str(exc)) from None
    return ["/runner/build", "--fetch", url, ref or "", CUSTOM_DIR]


def _add_tree(tar: tarfile.TarFile, source: Path, arcname: str, executable_dirs: tuple[str, ...] = ("bin",)):
    """Add ``source`` under ``arcname``; files in ``bin/`` become executable whatever the checkout did."""
    for path in sorted([source, *source.rglob("*")]):
        relative = path.relative_to(source)
        if ".git" in relative.parts:
            continue
        name = f"{arcname}/{relative.as_posix()}" if relative.parts else arcname
        info = tar.gettarinfo(str(path), arcname=name)
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        if path.is_file() and relative.parts and relative.parts[0] in executable_dirs:
            info.mode |= 0o755
        if path.is_file():
            with open(path, "rb") as f:
                tar.addfile(info, f)
        else:
            tar.addfile(info)


def _add_file(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    tar.addfile(info, io.BytesIO(data))


def build_tools_tar(buildpacks: dict[str, Path], config: dict[str, str]) -> tuple[bytes, list[str]]:
    """A tar for the build container's ``/``: the runner, the buildpacks and ENV_DIR.

    Returns the tar bytes (a few kilobytes) and the buildpack paths in detection order as
    the container sees them. Config vars become ``/tmp/env/<KEY>`` files, byte-exact.
    """
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        _add_file(tar, "runner/build", (RUNNER_DIR / "build").read_bytes(), 0o755)
        for name, path in buildpacks.items():
            _add_tree(tar, path, f"{CONTAINER_DIR.lstrip('/')}/{name}")
        info = tarfile.TarInfo("tmp/env")
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
        tar.addfile(info)
        for key, value in config.items():
            if _ENV_NAME.fullmatch(key):
                _add_file(tar, f"tmp/env/{key}", value.encode("utf-8"), 0o600)
    return buffer.getvalue(), [f"{CONTAINER_DIR}/{name}" for name in buildpacks]


def runner_init_tar() -> bytes:
    """A tar holding ``/runner/init``, the entrypoint of buildpack-built images."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        _add_file(tar, "runner/init", (RUNNER_DIR / "init").read_bytes(), 0o755)
    return buffer.getvalue()


def parse_release(text: str) -> dict[str, str]:
    """The default process types from a buildpack's ``bin/release`` output.

    That output is a YAML mapping, as on Heroku: ``default_process_types`` (``{type: command}``),
    and ``addons`` and ``config_vars``, which the platform does not use. No output means no
    defaults; anything else that is not such a mapping fails the build, saying what was wrong."""
    try:
        release = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        problem = " ".join(str(exc).split())
        raise BuildFailed(f"the buildpack's bin/release printed invalid YAML: {problem}") from None
    if release is None:
        return {}
    if not isinstance(release, dict):
        raise BuildFailed(f"the buildpack's bin/release output is not a YAML mapping: {text.strip()[:80]!r}")
    types = release.get("default_process_types")
    if types is None:
        return {}
    if not isinstance(types, dict):
        raise BuildFailed("the buildpack's default_process_types is not a mapping of process type to command")
    for name, command in types.items():
        if not isinstance(name, str) or not PROCESS_TYPE.fullmatch(name):
            raise BuildFailed(f"the buildpack's default_process_types has an invalid process type {name!r} "
                              "(letters, digits, '-' and '_' only)")
        if not isinstance(command, str) or not command.strip():
            raise BuildFailed(f"the buildpack's default process type {name!r} has no command (a string)")
    return dict(types)

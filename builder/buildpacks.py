"""Which buildpacks a build runs, and how they get into the build container.

The shipped buildpacks live in ``builder/buildpacks/<name>/bin/{detect,compile,release}`` and are
tried in :data:`DETECT_ORDER` (most specific first: a Node.js app with an ``index.html`` is still a
Node.js app; the Procfile-only buildpack catches what is left). An app chooses instead, as on Heroku
and Dokku: ``BUILDPACK_URL`` (config, or the repo's ``.env``) names one buildpack; a ``.buildpacks``
file names several, one per line, which all compile the app in turn (multi-buildpack). Either names a
built-in buildpack (:func:`deiscore.buildpack_url.resolve`) or a network URL, with an optional ``#ref``,
that the build container clones itself (``runner/build --fetch``), never the host.
"""
from __future__ import annotations

import io
import logging
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from builder.errors import BuildFailed
from builder.procfile import PROCESS_TYPE
from deiscore import buildpack_url

log = logging.getLogger(__name__)

SHIPPED_DIR = Path(__file__).resolve().parent / "buildpacks"
RUNNER_DIR = Path(__file__).resolve().parent / "runner"
DETECT_ORDER = ("python", "node", "ruby", "php", "go", "java", "static", "procfile")
CONTAINER_DIR = "/tmp/buildpacks"
FETCHED_DIR = f"{CONTAINER_DIR}/fetched"  # where the build container clones buildpacks named by URL
MAX_BUILDPACKS = 16
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DOTENV_BUILDPACK_URL = re.compile(r"\s*(?:export\s+)?BUILDPACK_URL\s*=\s*(.*?)\s*")


@dataclass(frozen=True)
class Selection:
    """The buildpacks of a build: ``detect`` (the first that detects the app compiles it) or all of them
    in order; each a shipped buildpack's name or a ``(url, ref)`` to fetch."""
    detect: bool
    entries: tuple[str | tuple[str, str | None], ...]
    origin: str  # what chose them, for the build log

    def shipped(self) -> list[str]:
        return [entry for entry in self.entries if isinstance(entry, str)]


def detect_order(available: list[str], preferred: tuple[str, ...] = DETECT_ORDER) -> list[str]:
    """Order buildpack names for detection: the preferred ones first, in order, then the rest by name."""
    known = [name for name in preferred if name in available]
    return known + sorted(name for name in available if name not in preferred)


def shipped_buildpacks(root: Path = SHIPPED_DIR) -> dict[str, Path]:
    return {path.name: path for path in sorted(root.iterdir()) if (path / "bin" / "detect").exists()}


def _entry(spec: str, what: str):
    try:
        name, url, ref = buildpack_url.resolve(spec, what)
    except ValueError as exc:
        raise BuildFailed(str(exc)) from None
    return name or (url, ref)


def dotenv_buildpack_url(text: str) -> str | None:
    """``BUILDPACK_URL`` from a repo's ``.env`` (Dokku reads it there too), unquoted; None when absent."""
    for line in text.splitlines():
        match = _DOTENV_BUILDPACK_URL.fullmatch(line)
        if match:
            value = match.group(1)
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            return value or None
    return None


def select(files: dict[str, bytes], config: dict[str, str], shipped: list[str]) -> Selection:
    """Which buildpacks build the app with the repo root ``files`` and the app's ``config``."""
    dotenv = files.get(".env")
    url = config.get("BUILDPACK_URL") or (dotenv_buildpack_url(dotenv.decode("utf-8", "replace")) if dotenv else None)
    if url:
        return Selection(detect=False, entries=(_entry(url, "BUILDPACK_URL"),), origin="BUILDPACK_URL")
    if ".buildpacks" in files:
        try:
            text = files[".buildpacks"].decode("utf-8")
        except UnicodeDecodeError:
            raise BuildFailed(".buildpacks is not UTF-8 text") from None
        lines = [(number, line.strip()) for number, line in enumerate(text.splitlines(), 1)]
        entries = tuple(_entry(spec, f".buildpacks line {number}:") for number, spec in lines
                        if spec and not spec.startswith("#"))
        if not entries:
            raise BuildFailed(".buildpacks names no buildpack (one per line: a built-in name or a git URL)")
        if len(entries) > MAX_BUILDPACKS:
            raise BuildFailed(f".buildpacks names {len(entries)} buildpacks; at most {MAX_BUILDPACKS}")
        return Selection(detect=False, entries=entries, origin=".buildpacks")
    return Selection(detect=True, entries=tuple(detect_order(shipped)), origin="detection")


def build_command(selection: Selection, submodules: list[tuple[str, str, str]] = ()) -> list[str]:
    """The build container's command (see ``runner/build``): fetch what the selection names by URL and
    the app's ``submodules`` (path, commit, url), then detect or compile all."""
    argv, dirs = ["/runner/build"], []
    for index, entry in enumerate(selection.entries):
        if isinstance(entry, str):
            dirs.append(f"{CONTAINER_DIR}/{entry}")
        else:
            url, ref = entry
            directory = f"{FETCHED_DIR}/{index}"
            argv += ["--fetch", url, ref or "", directory]
            dirs.append(directory)
    for path, commit, url in submodules:
        argv += ["--submodule", path, commit, url]
    return [*argv, "--detect" if selection.detect else "--all", *dirs]


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


def build_tools_tar(buildpacks: dict[str, Path], config: dict[str, str]) -> bytes:
    """A tar for the build container's ``/``: the runner, the buildpacks and ENV_DIR.

    Config vars become ``/tmp/env/<KEY>`` files, byte-exact.
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
    return buffer.getvalue()


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

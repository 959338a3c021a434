"""Dockerfile builds (Dokku's semantics): the Docker engine builds the repo's root; config vars are
offered as build args only for the ARGs the Dockerfile declares, and their values are taken out of
the image's history afterwards. The image's first exposed TCP port becomes the web port, and whether it
has an ENTRYPOINT decides how Procfile commands reach it (see :mod:`scheduler.containers`)."""
from __future__ import annotations

import hashlib
import io
import json
import logging
import re
import shlex
import tarfile
from dataclasses import dataclass
from pathlib import Path

from builder.buildlog import iter_lines, strip_ansi
from builder.errors import BuildFailed, BuilderError
from deiscore.validation import PLATFORM_CONFIG_KEYS, PLATFORM_CONFIG_PREFIX
from scheduler.spec import DEFAULT_PORT

log = logging.getLogger(__name__)

# Never offered to a build even when declared: the platform's own keys and what changes which programs
# and libraries the build's tools load.
WITHHELD_KEYS = frozenset({"PATH", "LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT"}) | PLATFORM_CONFIG_KEYS
_DIRECTIVE = re.compile(r"#\s*([A-Za-z]+)\s*=\s*(\S+)\s*$")
_ARG = re.compile(r"ARG(?:\s+(.*))?$", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class DockerfileImage:
    """What a Dockerfile build made: its default command (ENTRYPOINT + CMD, shell-quoted), its web
    port (None: it exposes no TCP port) and whether it has an ENTRYPOINT."""

    command: str
    port: int | None
    entrypoint: bool


def instructions(text: str) -> list[str]:
    """The Dockerfile's instructions, one string each: comments and blank lines dropped, continued
    lines (ending in the escape character, ``\\`` unless a ``# escape=`` directive says otherwise)
    joined."""
    escape = "\\"
    lines = text.replace("\r\n", "\n").split("\n")
    for number, line in enumerate(lines):  # parser directives: only before anything else
        match = _DIRECTIVE.match(line.strip())
        if not match:
            break
        if match.group(1).lower() == "escape" and match.group(2) in ("\\", "`"):
            escape = match.group(2)
    found, current = [], None
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("#") or (current is None and not stripped):
            continue  # comments, also between continued lines
        body = line.rstrip()
        continued = body.endswith(escape)
        if continued:
            body = body[:-1]
        current = body.lstrip() if current is None else current + body
        if not continued:
            found.append(current.strip())
            current = None
    if current is not None and current.strip():
        found.append(current.strip())
    return found


def declared_args(text: str) -> set[str]:
    """Names of the ARGs the Dockerfile declares, in any stage (``ARG NAME``, ``ARG NAME=default``,
    several on one line); keywords in any case."""
    names = set()
    for instruction in instructions(text):
        match = _ARG.match(instruction)
        if not match or not match.group(1):
            continue
        try:
            words = shlex.split(match.group(1), posix=True)
        except ValueError:
            words = match.group(1).split()
        for word in words:
            name = word.split("=", 1)[0]
            if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                names.add(name)
    return names


def withheld(key: str) -> bool:
    return key in WITHHELD_KEYS or key.startswith(PLATFORM_CONFIG_PREFIX)


def build_args(dockerfile_text: str, config: dict[str, str]) -> dict[str, str]:
    """The config vars a build is given: those the Dockerfile declares as ARGs, never withheld keys."""
    declared = declared_args(dockerfile_text)
    return {key: value for key, value in config.items() if key in declared and not withheld(key)}


def image_port(config: dict) -> int | None:
    """The image's first exposed TCP port. Docker keeps ``ExposedPorts`` as a map, which loses the
    Dockerfile's order, so the lowest of them; None when it exposes no TCP port."""
    ports = []
    for spec in (config.get("ExposedPorts") or {}):
        number, _, protocol = str(spec).partition("/")
        if (protocol or "tcp").lower() == "tcp" and number.isdigit() and 0 < int(number) < 65536:
            ports.append(int(number))
    return min(ports) if ports else None


def image_entrypoint(config: dict) -> bool:
    return bool(config.get("Entrypoint"))


def image_command(config: dict) -> str:
    """The command an image runs by default (ENTRYPOINT + CMD), as a shell-quoted string."""
    argv = list(config.get("Entrypoint") or []) + list(config.get("Cmd") or [])
    return shlex.join(argv)


def scrub_text(text: str, args: dict[str, str]) -> str:
    """``text`` with each ``KEY=value`` of ``args`` (how the builder records build args) as ``KEY``."""
    for key, value in sorted(args.items(), key=lambda item: -len(item[1])):
        if value:
            text = text.replace(f"{key}={value}", key)
    return text


def scrub_config(image_config: dict, args: dict[str, str]) -> dict:
    """An image's config JSON without the build args' values in its history and build containers' commands."""
    scrubbed = json.loads(json.dumps(image_config))
    for entry in scrubbed.get("history") or []:
        if "created_by" in entry:
            entry["created_by"] = scrub_text(entry["created_by"], args)
    for key in ("container_config", "config"):
        section = scrubbed.get(key) or {}
        for field in ("Cmd", "Entrypoint"):
            if isinstance(section.get(field), list):
                section[field] = [scrub_text(word, args) for word in section[field]]
    return scrubbed


def rewrite_saved_image(source: Path, dest: Path, args: dict[str, str]) -> None:
    """Copy a ``docker save`` archive, its image config scrubbed of ``args`` (layers unchanged)."""
    with tarfile.open(source) as archive:
        manifest = json.load(archive.extractfile("manifest.json"))
        if len(manifest) != 1:
            raise BuilderError(f"expected one image in the saved archive, found {len(manifest)}")
        config_name = manifest[0]["Config"]
        config = scrub_config(json.load(archive.extractfile(config_name)), args)
        config_bytes = json.dumps(config, separators=(",", ":")).encode()
        new_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
        manifest[0]["Config"] = new_name
        manifest_bytes = json.dumps(manifest).encode()
        with tarfile.open(dest, "w") as out:
            for member in archive:
                if member.name in (config_name, "manifest.json"):
                    continue
                out.addfile(member, archive.extractfile(member) if member.isfile() else None)
            for name, data in ((new_name, config_bytes), ("manifest.json", manifest_bytes)):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                info.mode = 0o644
                out.addfile(info, io.BytesIO(data))


def scrub_history(docker_client, reference: str, args: dict[str, str], work_dir: Path) -> None:
    """Replace image ``reference`` by one whose history holds no value of ``args`` (``docker save``,
    the config rewritten, ``docker load``: same layers, a new image ID); the old image and its
    intermediate images are removed."""
    import docker.errors

    saved, rewritten = work_dir / "image.tar", work_dir / "image-scrubbed.tar"
    try:
        old = docker_client.images.get(reference)
        with open(saved, "wb") as out:
            for chunk in docker_client.api.get_image(reference):
                out.write(chunk)
        rewrite_saved_image(saved, rewritten, args)
        saved.unlink()
        with open(rewritten, "rb") as archive:
            for _ in docker_client.api.load_image(archive, quiet=True):
                pass
        new = docker_client.images.get(reference)
        if new.id == old.id:
            raise BuilderError(f"the image {reference} was not replaced by its scrubbed copy")
        docker_client.images.remove(old.id, noprune=False)
    except docker.errors.DockerException as exc:
        raise BuilderError(f"taking build args out of the history of {reference} failed: {exc}") from exc
    finally:
        for path in (saved, rewritten):
            path.unlink(missing_ok=True)


def build_dockerfile_image(docker_client, *, context_tar: Path, dockerfile: str, config: dict[str, str],
                           repository: str, tag: str, emit, network: str | None = None) -> DockerfileImage:
    """Build ``repository:tag`` from the tarred repo (whose ``Dockerfile`` reads ``dockerfile``)."""
    import docker.errors

    reference = f"{repository}:{tag}"
    args = build_args(dockerfile, config)
    if args:
        emit(f"-----> Build args from config: {', '.join(sorted(args))}")
    try:
        with open(context_tar, "rb") as context:
            events = docker_client.api.build(
                fileobj=context, custom_context=True, tag=reference, buildargs=args,
                rm=True, forcerm=True, pull=False, decode=True, network_mode=network,
            )
            for event in events:
                if "stream" in event:
                    for line in iter_lines([event["stream"].encode("utf-8")]):
                        if line.strip():
                            emit(f"       {line}")
                elif "error" in event:
                    raise BuildFailed(f"docker build failed: {strip_ansi(event['error']).strip()}")
        if any(args.values()):
            scrub_history(docker_client, reference, args, context_tar.parent)
        image = docker_client.images.get(reference)
    except docker.errors.DockerException as exc:
        raise BuilderError(f"docker build of {reference} failed: {exc}") from exc
    image_config = image.attrs.get("Config") or {}
    built = DockerfileImage(image_command(image_config), image_port(image_config), image_entrypoint(image_config))
    emit(f"-----> Web port {built.port} (exposed by the image)" if built.port else
         f"-----> Web port {DEFAULT_PORT} (the image exposes no TCP port)")
    return built


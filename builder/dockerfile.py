"""Dockerfile builds: the Docker engine builds the repo's root with config vars as build args."""
from __future__ import annotations

import logging
import shlex
from pathlib import Path

from builder.buildlog import iter_lines
from builder.errors import BuildFailed, BuilderError

log = logging.getLogger(__name__)


def build_dockerfile_image(docker_client, *, context_tar: Path, config: dict[str, str],
                           repository: str, tag: str, emit, network: str | None = None) -> str:
    """Build ``repository:tag`` from the tarred repo; return the image's CMD as one string."""
    import docker.errors

    reference = f"{repository}:{tag}"
    try:
        with open(context_tar, "rb") as context:
            events = docker_client.api.build(
                fileobj=context, custom_context=True, tag=reference, buildargs=dict(config),
                rm=True, forcerm=True, pull=False, decode=True, network_mode=network,
            )
            for event in events:
                if "stream" in event:
                    for line in iter_lines([event["stream"].encode("utf-8")]):
                        if line.strip():
                            emit(f"       {line}")
                elif "error" in event:
                    raise BuildFailed(f"docker build failed: {event['error'].strip()}")
        image = docker_client.images.get(reference)
    except docker.errors.DockerException as exc:
        raise BuilderError(f"docker build of {reference} failed: {exc}") from exc
    return image_command(image.attrs.get("Config") or {})


def image_command(config: dict) -> str:
    """The command an image runs by default (ENTRYPOINT + CMD), as a shell-quoted string."""
    argv = list(config.get("Entrypoint") or []) + list(config.get("Cmd") or [])
    return shlex.join(argv)

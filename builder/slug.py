"""Buildpack builds: compile the app in an ephemeral container, tar ``/app`` into a slug, and
make the image: the stack image + the slug + ``/runner/init`` as entrypoint.

The build container gets the source, the buildpacks and ENV_DIR through ``put_archive``
(no host paths except the per-app cache dir, bind-mounted at ``/tmp/cache``). The image is
committed from a fresh, never-started container of the stack image holding only the slug
and the runner, so nothing the compile step left outside ``/app`` reaches the app image.
The app runs as the stack's unprivileged user, which owns ``/app`` (the slug's files are
re-owned as they are read out of the build container), so it can write its own files.
"""
from __future__ import annotations

import io
import logging
import tarfile
from dataclasses import dataclass
from pathlib import Path

from builder.buildlog import iter_lines
from builder.buildpacks import build_tools_tar, parse_release, runner_init_tar
from builder.errors import BuildFailed, BuilderError
from builder.stack import RUN_UID, RUN_USER
from scheduler.containers import CAPABILITIES

log = logging.getLogger(__name__)

BUILD_TIMEOUT = 1800
# A build runs the app's own code (its package manager's scripts): hardened like the app's processes,
# without their memory limit (compilers and package managers need more than a web process).
BUILD_HARDENING = {"security_opt": ["no-new-privileges"], "cap_drop": ["ALL"], "cap_add": list(CAPABILITIES),
                   "pids_limit": 4096, "privileged": False}
IMAGE_CHANGES = ["WORKDIR /app", "ENV HOME=/app", f"USER {RUN_UID}:{RUN_UID}"]
EXIT_MESSAGES = {
    3: "no buildpack detected this app",
    4: "the buildpack's compile step failed",
    5: "the buildpack's release step failed",
    6: "could not fetch a buildpack",
    7: "a buildpack URL names no buildpack (it needs bin/detect and bin/compile)",
    8: "a Procfile command names a program the built app does not have",
    9: "could not fetch a git submodule",
}


def _read_file_from_archive(stream) -> str:
    data = b"".join(stream)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        member = tar.next()
        extracted = tar.extractfile(member) if member is not None else None
        return extracted.read().decode("utf-8", "replace") if extracted else ""


class _ChunkReader(io.RawIOBase):
    """A readable file over an iterator of byte chunks (what ``get_archive`` streams)."""

    def __init__(self, chunks):
        self._chunks, self._rest = iter(chunks), b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._rest:
            self._rest = next(self._chunks, b"")
            if not self._rest:
                return 0
        n = min(len(buffer), len(self._rest))
        buffer[:n], self._rest = self._rest[:n], self._rest[n:]
        return n


def write_owned_by_run_user(chunks, out) -> None:
    """Copy the tar stream ``chunks`` to the file ``out`` with every member owned by the run user."""
    reader = io.BufferedReader(_ChunkReader(chunks), 1 << 16)
    with tarfile.open(fileobj=reader, mode="r|") as source, tarfile.open(fileobj=out, mode="w|") as copy:
        for member in source:
            member.uid = member.gid = RUN_UID
            member.uname = member.gname = RUN_USER
            copy.addfile(member, source.extractfile(member) if member.isfile() else None)


def remove_container(container) -> None:
    import docker.errors

    try:
        container.remove(force=True, v=True)
    except docker.errors.DockerException as exc:  # the build's outcome matters more than cleanup
        log.warning("could not remove container %s: %s", container.id[:12], exc)


def _append_tar(dest: Path, data: bytes) -> None:
    """Append the members of the tar ``data`` to the tar file ``dest``."""
    with tarfile.open(dest, "a") as tar, tarfile.open(fileobj=io.BytesIO(data)) as extra:
        for member in extra:
            tar.addfile(member, extra.extractfile(member) if member.isfile() else None)


# Apps built only by these buildpacks run on the stack's base run image (Python); the others on the
# runtimes image (Go binaries are static; any other buildpack, or one fetched by URL, may need a runtime).
BASE_IMAGE_BUILDPACKS = frozenset({"python", "static", "go"})


@dataclass(frozen=True)
class Compiled:
    defaults: dict[str, str]  # the default process types of the last buildpack's bin/release
    buildpacks: tuple[str, ...]  # the buildpacks that compiled the app (shipped names; fetched ones by index)

    def needs_runtimes(self) -> bool:
        """Whether the app runs on the stack's runtimes image rather than its base run image."""
        return not set(self.buildpacks) <= BASE_IMAGE_BUILDPACKS


def compile_slug(docker_client, *, build_image: str, source_tar: Path, buildpacks: dict[str, Path],
                 command: list[str], config: dict[str, str], cache_dir: Path, slug_path: Path, emit,
                 discard=remove_container, network: str | None = None) -> Compiled:
    """Run detect/compile/release on the source; write the slug to ``slug_path``.

    ``source_tar`` holds the app under ``app/``; the runner, buildpacks and ENV_DIR are added
    to it, so one upload fills the container.
    ``buildpacks`` are the shipped ones ``command`` (:func:`builder.buildpacks.build_command`) names.
    ``discard(container)`` disposes of the build container (the job removes it after the
    user has their result: removal takes a noticeable part of a second).
    """
    import docker.errors

    tools = build_tools_tar(buildpacks, config)
    _append_tar(source_tar, tools)
    cache_dir.mkdir(parents=True, exist_ok=True)
    try:
        container = docker_client.containers.create(
            build_image, command=command, working_dir="/app",
            volumes={str(cache_dir): {"bind": "/tmp/cache", "mode": "rw"}},
            environment={"STACK": build_image, "HOME": "/app"}, labels={"deis.role": "build"},
            network=network, **BUILD_HARDENING,
        )
    except docker.errors.DockerException as exc:
        raise BuilderError(f"could not create the build container from {build_image}: {exc}") from exc
    try:
        with open(source_tar, "rb") as source:
            container.put_archive("/", source)
        container.start()
        for line in iter_lines(container.logs(stream=True, follow=True)):
            emit(line)
        status = container.wait(timeout=BUILD_TIMEOUT)["StatusCode"]
        if status != 0:
            raise BuildFailed(EXIT_MESSAGES.get(status, f"the build container exited with status {status}"))
        stream, _ = container.get_archive("/tmp/release.yml")
        defaults = parse_release(_read_file_from_archive(stream))
        stream, _ = container.get_archive("/tmp/buildpacks-used")
        used = tuple(_read_file_from_archive(stream).split())
        stream, _ = container.get_archive("/app")
        slug_path.parent.mkdir(parents=True, exist_ok=True)
        partial = slug_path.with_suffix(".partial")
        with open(partial, "wb") as out:
            write_owned_by_run_user(stream, out)
        partial.rename(slug_path)
        return Compiled(defaults, used)
    except docker.errors.DockerException as exc:
        raise BuilderError(f"build container failed: {exc}") from exc
    finally:
        discard(container)


def slug_image(docker_client, *, stack_image: str, slug_path: Path, repository: str, tag: str,
               discard=remove_container) -> str:
    """Commit the stack's run image ``stack_image`` + slug + runner into ``repository:tag``; return the image id."""
    import docker.errors

    try:
        container = docker_client.containers.create(stack_image, entrypoint=["/runner/init"],
                                                    labels={"deis.role": "slug-image"})
    except docker.errors.DockerException as exc:
        raise BuilderError(f"could not create a container from {stack_image}: {exc}") from exc
    try:
        container.put_archive("/", runner_init_tar())
        with open(slug_path, "rb") as slug:
            container.put_archive("/", slug)
        image = container.commit(repository=repository, tag=tag, changes=IMAGE_CHANGES,
                                 message=f"slug {slug_path.name}")
        return image.id
    except docker.errors.DockerException as exc:
        raise BuilderError(f"could not make the image {repository}:{tag}: {exc}") from exc
    finally:
        discard(container)

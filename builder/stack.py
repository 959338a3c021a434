"""The stack image: the Debian root filesystem that buildpack apps are built and run on.

Built locally with ``debootstrap --variant=minbase`` and ``docker import`` (no image can be
pulled from a public registry here). The rootfs tarball is cached outside the repo, so a
rebuild of the image after ``docker system prune`` takes seconds, not a minute.

The stack has the user buildpack apps run as (:data:`RUN_USER`, uid :data:`RUN_UID`, home ``/app``);
a stack image made before it had one gets it added by :func:`ensure_stack_image`.
"""
from __future__ import annotations

import io
import logging
import shutil
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

from builder.errors import StackError

log = logging.getLogger(__name__)

SUITE = "bookworm"
PACKAGES = ["python3", "python3-pip", "python3-venv", "ca-certificates", "bash", "curl", "git"]
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
DEFAULT_CACHE = Path.home() / ".cache" / "deis" / "stack"
RUN_USER = "u"
RUN_UID = 1000  # and gid: what buildpack apps run as, owning /app
RUN_USER_LABEL = "deis.stack.user"  # on stack images that have the run user


def host_debian_mirror(sources_dir: Path = Path("/etc/apt/sources.list.d"),
                       sources_list: Path = Path("/etc/apt/sources.list")) -> str:
    """The Debian mirror this machine's apt already uses (so we name no mirror ourselves)."""
    candidates = []
    for path in sorted(sources_dir.glob("*.sources")):
        for line in path.read_text().splitlines():
            if line.startswith("URIs:"):
                candidates.extend(line.split()[1:])
    if sources_list.exists():
        for line in sources_list.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[0] == "deb":
                candidates.append(next(p for p in parts[1:] if not p.startswith("[")))
    for uri in candidates:
        if uri.rstrip("/").endswith("/debian"):
            return uri
    raise StackError("no Debian mirror found in the host's apt sources")


def rootfs_tarball(cache_dir: Path = DEFAULT_CACHE, mirror: str | None = None) -> Path:
    """Return the cached stack rootfs tarball, building it with debootstrap when missing."""
    tarball = cache_dir / f"{SUITE}-rootfs.tar"
    if tarball.exists():
        return tarball
    if shutil.which("debootstrap") is None:
        raise StackError("debootstrap is not installed (apt-get install debootstrap)")
    cache_dir.mkdir(parents=True, exist_ok=True)
    mirror = mirror or host_debian_mirror()
    with tempfile.TemporaryDirectory(dir=cache_dir) as tmp:
        root = Path(tmp) / "rootfs"
        log.info("debootstrap %s into %s", SUITE, root)
        subprocess.run(
            ["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE, str(root), mirror],
            check=True, stdout=subprocess.DEVNULL,
        )
        if HOST_CA_BUNDLE.exists():
            # Downloads from containers go through a TLS-intercepting proxy on some machines;
            # the host's bundle trusts it.
            shutil.copyfile(HOST_CA_BUNDLE, root / "etc/ssl/certs/ca-certificates.crt")
        subprocess.run(["rm", "-rf", str(root / "var/cache/apt/archives"), str(root / "var/lib/apt/lists")],
                       check=True)
        partial = tarball.with_suffix(".partial")
        subprocess.run(["tar", "-C", str(root), "--numeric-owner", "-cf", str(partial), "."], check=True)
        partial.rename(tarball)
    return tarball


def ensure_stack_image(docker_client, image: str, cache_dir: Path = DEFAULT_CACHE) -> str:
    """Make sure ``image`` exists in the engine, with the run user; import it from the cached rootfs
    if it is missing or older than the run user."""
    import docker.errors

    try:
        if docker_client.images.get(image).labels.get(RUN_USER_LABEL) == _run_user_label():
            return image
    except docker.errors.ImageNotFound:
        pass
    _import(docker_client, image, cache_dir)
    _add_run_user(docker_client, image)
    return image


def _run_user_label() -> str:
    return f"{RUN_USER}:{RUN_UID}"


def with_run_user(passwd: str, group: str) -> tuple[str, str]:
    """``/etc/passwd`` and ``/etc/group`` with the run user and its group added (pure)."""
    if not any(line.split(":")[0] == RUN_USER for line in passwd.splitlines()):
        passwd = passwd.rstrip("\n") + f"\n{RUN_USER}:x:{RUN_UID}:{RUN_UID}::/app:/bin/bash\n"
    if not any(line.split(":")[0] == RUN_USER for line in group.splitlines()):
        group = group.rstrip("\n") + f"\n{RUN_USER}:x:{RUN_UID}:\n"
    return passwd, group


def _add_run_user(docker_client, image: str) -> None:
    """Build the stack image again with the run user in its passwd and group files (a build copies
    files only: nothing runs, and the image keeps its configuration)."""
    import docker.errors

    try:
        reader = docker_client.containers.create(image, ["true"])  # never started: only read from
        try:
            passwd, group = with_run_user(_read(reader, "/etc/passwd"), _read(reader, "/etc/group"))
        finally:
            reader.remove(force=True)
        files = {"Dockerfile": f"FROM {image}\nCOPY passwd group /etc/\nLABEL {RUN_USER_LABEL}={_run_user_label()}\n",
                 "passwd": passwd, "group": group}
        context = io.BytesIO()
        with tarfile.open(fileobj=context, mode="w") as tar:
            for name, text in files.items():
                data = text.encode()
                info = tarfile.TarInfo(name)
                info.size, info.mode, info.mtime = len(data), 0o644, int(time.time())
                tar.addfile(info, io.BytesIO(data))
        context.seek(0)
        docker_client.images.build(fileobj=context, custom_context=True, tag=image, rm=True, pull=False)
    except docker.errors.DockerException as exc:
        raise StackError(f"could not add the run user to {image}: {exc}") from exc
    log.info("%s: added the run user %s (%d)", image, RUN_USER, RUN_UID)


def _read(container, path: str) -> str:
    stream, _ = container.get_archive(path)
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        return tar.extractfile(tar.next()).read().decode()


def _split(image: str) -> tuple[str, str, str]:
    return image.rpartition(":") if ":" in image.split("/")[-1] else (image, "", "latest")


def _import(docker_client, image: str, cache_dir: Path) -> None:
    tarball = rootfs_tarball(cache_dir)
    repository, _, tag = _split(image)
    log.info("importing %s as %s", tarball, image)
    # From the file, not a stream: the SDK sends streams chunked, which dockerd 20.10 rejects.
    docker_client.api.import_image_from_file(
        str(tarball), repository=repository, tag=tag,
        changes=["ENV LANG=C.UTF-8", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
    )
    docker_client.images.get(image)

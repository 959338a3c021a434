"""The stack image: the Debian root filesystem that buildpack apps are built and run on.

Built locally with ``debootstrap --variant=minbase`` and ``docker import`` (no image can be
pulled from a public registry here). The rootfs tarball is cached outside the repo, so a
rebuild of the image after ``docker system prune`` takes seconds, not a minute.
"""
from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from pathlib import Path

from builder.errors import StackError

log = logging.getLogger(__name__)

SUITE = "bookworm"
PACKAGES = ["python3", "python3-pip", "python3-venv", "ca-certificates", "bash", "curl", "git"]
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
DEFAULT_CACHE = Path.home() / ".cache" / "deis" / "stack"


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
    """Make sure ``image`` exists in the engine; import it from the cached rootfs if not."""
    import docker.errors

    try:
        docker_client.images.get(image)
        return image
    except docker.errors.ImageNotFound:
        pass
    tarball = rootfs_tarball(cache_dir)
    repository, _, tag = image.rpartition(":") if ":" in image.split("/")[-1] else (image, "", "latest")
    log.info("importing %s as %s", tarball, image)
    # From the file, not a stream: the SDK sends streams chunked, which dockerd 20.10 rejects.
    docker_client.api.import_image_from_file(
        str(tarball), repository=repository, tag=tag,
        changes=["ENV LANG=C.UTF-8", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
    )
    docker_client.images.get(image)
    return image

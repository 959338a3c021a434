"""The stack: the Debian images buildpack apps are built on and run on, Heroku's way, in three layers.

- the **base run image** (``DEIS_STACK_IMAGE``, ``deis/stack:bookworm``): Debian bookworm with Python;
  what apps of the Python, static and Go buildpacks run on (Go binaries are static), and what
  Dockerfile apps build ``FROM``;
- the **runtimes run image** (``DEIS_STACK_RUNTIMES_IMAGE``, ``deis/stack:bookworm-runtimes``): the base plus
  one layer of the other runtimes apps need at run time (Node.js + npm, Ruby + Bundler, PHP-FPM with
  Apache and nginx, the Java runtime); what other buildpack apps run on;
- the **build image** (``DEIS_STACK_BUILD_IMAGE``, ``deis/stack:bookworm-build``): the runtimes image plus one
  layer of what only builds need (Go, the JDK and Maven, Composer, compilers and headers, git, pip).

The layers are shared, and an app image carries only what its app runs on: a Python app's image does
not grow (nor take longer to push to the registry and pull onto hosts) by the other languages' runtimes.

Both come from Debian's packages: ``debootstrap --variant=minbase``, then apt in the rootfs (debootstrap
alone cannot resolve npm's dependencies), no image pulled from a public registry. The run rootfs and the
build layer are cached as tarballs outside the repo, named after :func:`stack_id` (the suite and the
package lists), so importing the images again after ``docker system prune`` takes seconds, and a change
of the package lists builds a new stack. Both images carry the user buildpack apps run as
(:data:`RUN_USER`, uid :data:`RUN_UID`, home ``/app``).
"""
from __future__ import annotations

import hashlib
import io
import logging
import os
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path

from builder.errors import StackError

log = logging.getLogger(__name__)

SUITE = "bookworm"
# debootstrap resolves these itself; the rest goes in with apt.
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates", "bash", "curl")
RUN_PACKAGES = ("nodejs", "npm", "ruby", "bundler", "ruby-rack", "ruby-webrick", "php-cli", "php-fpm",
                # the PHP extensions most apps expect (Composer pulls some into the build image anyway)
                "php-mbstring", "php-intl", "php-curl", "php-xml", "php-zip", "php-mysql", "php-pgsql",
                "php-sqlite3", "php-gd", "php-bcmath",
                "apache2", "nginx", "openjdk-17-jre-headless")
BUILD_PACKAGES = ("golang-go", "openjdk-17-jdk-headless", "maven", "composer", "git", "python3-pip",
                  "python3-dev", "build-essential", "ruby-dev", "yarnpkg", "pkg-config",
                  # Maven's own plugins, from Debian (/usr/share/maven-repo): the build works where
                  # the Maven repository on the network cannot be reached
                  "libmaven-compiler-plugin-java", "libmaven-jar-plugin-java", "libmaven-resources-plugin-java",
                  "libsurefire-java", "libmaven-install-plugin-java", "libmaven-clean-plugin-java",
                  "libmaven-shade-plugin-java", "libmaven-dependency-plugin-java")
STACK_FORMAT = 2  # bump when the way the rootfs is made changes
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
DEFAULT_CACHE = Path.home() / ".cache" / "deis" / "stack"
RUN_USER = "u"
RUN_UID = 1000  # and gid: what buildpack apps run as, owning /app
STACK_LABEL = "deis.stack"  # the stack id an image was made from
IMAGE_CHANGES = ["ENV LANG=C.UTF-8", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
# Documentation, manual pages and translations are not installed: they would only make the images bigger.
DPKG_EXCLUDES = """\
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
path-include=/usr/share/locale/locale.alias
"""


def stack_id() -> str:
    """Names the stack's contents: the cache files and the images' label change when they do."""
    spec = repr((SUITE, BASE_PACKAGES, RUN_PACKAGES, BUILD_PACKAGES, STACK_FORMAT))
    return f"{SUITE}-{hashlib.sha256(spec.encode()).hexdigest()[:12]}"


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


def with_run_user(passwd: str, group: str) -> tuple[str, str]:
    """``/etc/passwd`` and ``/etc/group`` with the run user and its group added (pure)."""
    if not any(line.split(":")[0] == RUN_USER for line in passwd.splitlines()):
        passwd = passwd.rstrip("\n") + f"\n{RUN_USER}:x:{RUN_UID}:{RUN_UID}::/app:/bin/bash\n"
    if not any(line.split(":")[0] == RUN_USER for line in group.splitlines()):
        group = group.rstrip("\n") + f"\n{RUN_USER}:x:{RUN_UID}:\n"
    return passwd, group


def cached_tarballs(cache_dir: Path = DEFAULT_CACHE) -> tuple[Path, Path, Path]:
    """Where the base rootfs, the runtimes layer and the build layer of this stack are cached."""
    name = stack_id()
    return (cache_dir / f"{name}-base.tar", cache_dir / f"{name}-runtimes-layer.tar",
            cache_dir / f"{name}-build-layer.tar")


def rootfs_tarballs(cache_dir: Path = DEFAULT_CACHE, mirror: str | None = None) -> tuple[Path, Path, Path]:
    """The cached base rootfs, runtimes layer and build layer tarballs, made with debootstrap and apt
    when missing (a few minutes, once per stack)."""
    tarballs = base_tar, runtimes_tar, build_tar = cached_tarballs(cache_dir)
    if all(path.exists() for path in tarballs):
        return tarballs
    if shutil.which("debootstrap") is None:
        raise StackError("debootstrap is not installed (apt-get install debootstrap)")
    cache_dir.mkdir(parents=True, exist_ok=True)
    mirror = mirror or host_debian_mirror()
    with tempfile.TemporaryDirectory(dir=cache_dir) as tmp:
        root = Path(tmp) / "rootfs"
        log.info("debootstrap %s into %s", SUITE, root)
        _run(["debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}", SUITE, str(root), mirror])
        (root / "etc/dpkg/dpkg.cfg.d/deis-excludes").write_text(DPKG_EXCLUDES)
        with _apt_ready(root):
            _finish(root)
            _tar(root, base_tar, exclude=("./proc", "./var/lib/apt/lists", "./var/cache/apt"))
            for packages, layer in ((RUN_PACKAGES, runtimes_tar), (BUILD_PACKAGES, build_tar)):
                before = _snapshot(root)
                _apt_install(root, packages)
                _finish(root)
                _tar(root, layer, members=_changed(root, before))
    for stale in cache_dir.glob(f"{SUITE}-*.tar"):  # earlier stacks' files
        if stale not in tarballs:
            stale.unlink()
    return tarballs


def _run(argv: list[str], **kwargs) -> None:
    result = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs)
    if result.returncode != 0:
        tail = "\n".join(result.stdout.strip().splitlines()[-15:])
        raise StackError(f"{' '.join(argv[:4])}... failed (status {result.returncode}):\n{tail}")


@contextmanager
def _apt_ready(root: Path):
    """apt can run in the rootfs: the host's resolver, /proc, and no service started by a postinst."""
    shutil.copyfile("/etc/resolv.conf", root / "etc/resolv.conf")
    policy = root / "usr/sbin/policy-rc.d"
    policy.write_text("#!/bin/sh\nexit 101\n")
    policy.chmod(0o755)
    _run(["mount", "-t", "proc", "proc", str(root / "proc")])
    try:
        _run(["chroot", str(root), "apt-get", "update", "-qq"])
        yield
    finally:
        subprocess.run(["umount", str(root / "proc")], check=False)
        policy.unlink(missing_ok=True)


def _apt_install(root: Path, packages: tuple[str, ...]) -> None:
    log.info("installing %d packages into the stack", len(packages))
    _run(["chroot", str(root), "apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
         env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    _run(["chroot", str(root), "apt-get", "clean"])


def _finish(root: Path) -> None:
    """The run user, and the host's CA bundle: downloads from containers go through a TLS-intercepting
    proxy on some machines, which the host's bundle trusts (copied after apt, which rewrites the file)."""
    passwd, group = root / "etc/passwd", root / "etc/group"
    new_passwd, new_group = with_run_user(passwd.read_text(), group.read_text())
    passwd.write_text(new_passwd)
    group.write_text(new_group)
    if HOST_CA_BUNDLE.exists():
        shutil.copyfile(HOST_CA_BUNDLE, root / "etc/ssl/certs/ca-certificates.crt")


def _signature(path: Path) -> tuple:
    st = path.lstat()
    link = os.readlink(path) if path.is_symlink() else None
    return st.st_mode, st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns, link


def _walk(root: Path):
    """Every path under ``root`` but the mounted /proc and apt's lists and archives."""
    skip = {"proc", "var/lib/apt/lists", "var/cache/apt"}
    for directory, dirs, files in os.walk(root):
        here = Path(directory)
        dirs[:] = [d for d in dirs if str((here / d).relative_to(root)) not in skip]
        for name in dirs + files:
            yield here / name


def _snapshot(root: Path) -> dict[str, tuple]:
    return {str(path.relative_to(root)): _signature(path) for path in _walk(root)}


def _changed(root: Path, before: dict[str, tuple]) -> list[str]:
    """Paths (relative to ``root``) that are new or changed since ``before``: the build layer."""
    return sorted(relative for relative, signature in _snapshot(root).items() if before.get(relative) != signature)


def _tar(root: Path, dest: Path, exclude: tuple[str, ...] = (), members: list[str] | None = None) -> None:
    partial = dest.with_suffix(".partial")
    argv = ["tar", "-C", str(root), "--numeric-owner", "-cf", str(partial)]
    argv += [f"--exclude={pattern}/*" for pattern in exclude]
    if members is None:
        argv.append(".")
        _run(argv)
    else:
        argv += ["--no-recursion", "--null", "-T", "-"]
        result = subprocess.run(argv, input="\0".join(members).encode(), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        if result.returncode != 0:
            raise StackError(f"tar of the build layer failed: {result.stdout.decode()[-500:]}")
    partial.rename(dest)


def stack_images(settings) -> tuple[str, str, str]:
    """The base run image, the runtimes run image and the build image ``settings`` name."""
    return settings.stack_image, settings.stack_runtimes_image, settings.stack_build_image


def ensure_stack_images(docker_client, settings, cache_dir: Path = DEFAULT_CACHE) -> None:
    """Make sure the three images of this stack are in the engine; import them from the cached tarballs
    (built first if need be) when missing or made from another stack."""
    import docker.errors

    if not stack_missing(docker_client, settings):
        return
    base_image, runtimes_image, build_image = stack_images(settings)
    base_tar, runtimes_tar, build_tar = rootfs_tarballs(cache_dir)
    wanted = stack_id()
    try:
        _import(docker_client, base_tar, base_image, wanted)
        _add_layer(docker_client, base_image, runtimes_tar, runtimes_image, wanted)
        _add_layer(docker_client, runtimes_image, build_tar, build_image, wanted)
    except docker.errors.DockerException as exc:
        raise StackError(f"could not make the stack images: {exc}") from exc


def stack_missing(docker_client, settings) -> bool:
    """Whether :func:`ensure_stack_images` has work to do (for progress messages)."""
    import docker.errors

    try:
        return any(docker_client.images.get(image).labels.get(STACK_LABEL) != stack_id()
                   for image in stack_images(settings))
    except docker.errors.ImageNotFound:
        return True


def _split(image: str) -> tuple[str, str]:
    repository, _, tag = image.rpartition(":") if ":" in image.split("/")[-1] else (image, "", "latest")
    return repository, tag


def _import(docker_client, tarball: Path, image: str, wanted: str) -> None:
    repository, tag = _split(image)
    log.info("importing %s as %s", tarball, image)
    # From the file, not a stream: the SDK sends streams chunked, which dockerd 20.10 rejects.
    docker_client.api.import_image_from_file(str(tarball), repository=repository, tag=tag,
                                             changes=[*IMAGE_CHANGES, f"LABEL {STACK_LABEL}={wanted}"])
    docker_client.images.get(image)


def _add_layer(docker_client, base: str, layer: Path, image: str, wanted: str) -> None:
    """``image`` = ``base`` + the files of ``layer``, as one more layer (shared with the run image)."""
    repository, tag = _split(image)
    container = docker_client.containers.create(base, ["true"], labels={"deis.role": "stack"})  # never started
    try:
        with open(layer, "rb") as data:
            container.put_archive("/", data)
        container.commit(repository=repository, tag=tag, changes=[f"LABEL {STACK_LABEL}={wanted}"],
                         message=f"build layer of {wanted}")
    finally:
        container.remove(force=True)


def describe() -> str:
    """What the stack has, for ``deisctl stack build``."""
    out = io.StringIO()
    out.write(f"stack {stack_id()}: Debian {SUITE}\n")
    out.write(f"  base run image:        {', '.join(BASE_PACKAGES)}\n")
    out.write(f"  runtimes image adds:   {', '.join(RUN_PACKAGES)}\n")
    out.write(f"  build image adds:      {', '.join(BUILD_PACKAGES)}\n")
    return out.getvalue()

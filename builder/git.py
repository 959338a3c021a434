"""Git over the builder's SSH channel: command parsing, app repositories, receive-pack.

dulwich's receive-pack handler speaks the protocol over ``read``/``write`` callables; the
subclass here changes what happens to the pack and after it: the pack streams into
``git index-pack`` (:mod:`builder.packs`), and each pushed ref goes to an ``update`` callback
(build, release, then move the ref) instead of being written directly, so a ref moves only
when its build succeeded. (A fetch, by the app's owner, is dulwich's upload-pack as it is.)
"""
from __future__ import annotations

import logging
import shlex
import shutil
import subprocess
import threading
from pathlib import Path

from dulwich.protocol import (
    CAPABILITY_ATOMIC,
    CAPABILITY_DELETE_REFS,
    CAPABILITY_SIDE_BAND_64K,
    SIDE_BAND_CHANNEL_PROGRESS,
)
from dulwich.repo import Repo
from dulwich.server import ReceivePackHandler

from builder.errors import CommandRefused, PackError
from builder.packs import POLL, index_pack
from deiscore import validation
from deiscore.errors import InvalidInput

log = logging.getLogger(__name__)

ZERO_SHA = b"0" * 40
RECEIVE_PACK = "git-receive-pack"
UPLOAD_PACK = "git-upload-pack"
APP_ID_FILE = "deis-app-id"


def parse_git_command(command: str) -> tuple[str, str]:
    """``git-receive-pack '/myapp.git'`` -> (``git-receive-pack``, ``myapp``), likewise
    ``git-upload-pack`` (a fetch); refuse anything else."""
    not_allowed = (f"command not allowed: {command!r}; the Deis builder only accepts git push "
                   "(git-receive-pack '<app>.git') and, for the app's owner, git fetch (git-upload-pack)")
    try:
        argv = shlex.split(command)
    except ValueError:
        raise CommandRefused(command, not_allowed) from None
    if not argv:
        raise CommandRefused(command, "interactive shells are not available; "
                                      "the Deis builder only accepts git push")
    if len(argv) == 3 and argv[0] == "git" and argv[1] in ("receive-pack", "upload-pack"):
        argv = [f"git-{argv[1]}", argv[2]]
    if argv[0] == "git-upload-archive":
        raise CommandRefused(command, "git archive --remote is not supported; clone the app instead")
    if argv[0] not in (RECEIVE_PACK, UPLOAD_PACK) or len(argv) != 2:
        raise CommandRefused(command, not_allowed)
    path = argv[1]
    name = path[1:] if path.startswith("/") else path
    name = name[:-4] if name.endswith(".git") else name
    try:
        validation.app_name(name)
    except InvalidInput as exc:
        raise CommandRefused(command, f"{exc.detail} (in {path!r})") from None
    return argv[0], name


class AppRepos:
    """The bare repositories of the apps, ``<root>/<app>.git``.

    When the controller tells the app's identity, a repository left over from a destroyed
    app of the same name is replaced rather than reused.
    """

    def __init__(self, root: Path):
        self.root = root
        self._lock = threading.Lock()

    def path(self, app: str) -> Path:
        return self.root / f"{app}.git"

    def open_existing(self, app: str, app_id: str) -> Repo | None:
        """The app's repository if something was pushed to this very app (not to a destroyed
        app of the same name), else None."""
        marker = self.path(app) / APP_ID_FILE
        with self._lock:
            if not marker.exists() or marker.read_text().strip() != app_id:
                return None
            return Repo(str(self.path(app)))

    def open(self, app: str, app_id: str | None = None) -> Repo:
        path = self.path(app)
        with self._lock:
            marker = path / APP_ID_FILE
            if path.exists() and app_id and marker.exists() and marker.read_text().strip() != app_id:
                log.info("replacing the repository of a destroyed app %s", app)
                shutil.rmtree(path)
            if not path.exists():
                self.root.mkdir(parents=True, exist_ok=True)
                Repo.init_bare(str(path), mkdir=True).close()
            if app_id and not marker.exists():
                marker.write_text(app_id + "\n")
        return Repo(str(path))

    def maintain(self, app: str) -> None:
        """``git gc --auto``, as ``git-receive-pack`` does after a push: each push adds a pack,
        and lookups slow down as packs pile up; this repacks them once there are many.

        In the foreground (the pusher already has its answer), so no detached gc outlives us."""
        result = subprocess.run(["git", f"--git-dir={self.path(app)}", "-c", "gc.autoDetach=false",
                                 "gc", "--auto", "--quiet"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if result.returncode != 0:
            log.warning("git gc --auto of %s failed: %s", app, result.stdout.strip())


class BuildingReceivePackHandler(ReceivePackHandler):
    """receive-pack whose ref updates go through ``update(repo, ref, old, new, progress)``.

    ``update`` returns None when it moved the ref, or the reason (``str``) it refused.
    """

    def __init__(self, backend, args, proto, update, settimeout):
        super().__init__(backend, args, proto)
        self.update = update
        self.settimeout = settimeout  # of the channel under ``proto``: the pack copy polls
        self.client_gone = False

    def capabilities(self):
        # No deletes (a deleted master would leave the app without source) and no atomic
        # multi-ref pushes: each ref is a build of its own.
        return [cap for cap in super().capabilities() if cap not in (CAPABILITY_ATOMIC, CAPABILITY_DELETE_REFS)]

    def progress(self, text: str) -> None:
        """Send ``text`` to the pushing user (``remote: ...`` lines); never fails the push."""
        if self.client_gone or not self.has_capability(CAPABILITY_SIDE_BAND_64K):
            return
        try:
            self.proto.write_sideband(SIDE_BAND_CHANNEL_PROGRESS, text.encode("utf-8", "replace"))
        except (OSError, EOFError) as exc:
            log.info("client went away during the push (%s); the build goes on", exc)
            self.client_gone = True

    def _apply_pack(self, refs):
        if any(new != ZERO_SHA for _, new, _ in refs):
            self.settimeout(POLL)
            try:
                index_pack(Path(self.repo.path), self.proto.recv)
            except PackError as exc:
                yield (b"unpack", str(exc).replace("\n", " ").encode("utf-8"))
                return
            finally:
                self.settimeout(None)
        yield (b"unpack", b"ok")
        for old, new, ref in refs:
            error = self.update(self.repo, ref, old, new, self.progress)
            yield (ref, b"ok" if error is None else error.replace("\n", " ").encode("utf-8"))


def submodules(repo_path: Path, sha: str) -> list[tuple[str, str, str]]:
    """The git submodules of commit ``sha``: (path, commit, url) each, from its tree's gitlinks and
    ``.gitmodules``. A URL must be a network URL (the build container fetches it, like a buildpack);
    a relative one would resolve against this platform's own repositories, so it is refused."""
    from builder.errors import BuildFailed
    from deiscore import buildpack_url

    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", f"--git-dir={repo_path}", *args], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)

    listing = git("ls-tree", "-r", "-z", sha)
    links = {}
    for entry in listing.stdout.split(b"\0"):
        meta, _, path = entry.partition(b"\t")
        if meta.startswith(b"160000 commit "):
            links[path.decode("utf-8", "replace")] = meta.split()[2].decode()
    if not links:
        return []
    config = git("config", "--blob", f"{sha}:.gitmodules", "-z", "--get-regexp", r"^submodule\..*\.(path|url)$")
    if config.returncode not in (0, 1):  # 1: no such keys
        raise BuildFailed(f".gitmodules cannot be read: {config.stderr.decode('utf-8', 'replace').strip()}")
    declared: dict[str, dict[str, str]] = {}
    for item in config.stdout.decode("utf-8", "replace").split("\0"):
        key, _, value = item.partition("\n")
        name, _, field = key.removeprefix("submodule.").rpartition(".")
        if name:
            declared.setdefault(name, {})[field] = value
    urls = {entry["path"]: entry.get("url", "") for entry in declared.values() if "path" in entry}
    found = []
    for path, commit in sorted(links.items()):
        url = urls.get(path)
        if not url:
            raise BuildFailed(f"the submodule {path} has no url in .gitmodules")
        if url.startswith(("./", "../")):
            raise BuildFailed(f"the submodule {path} has a relative URL {url!r}: give its full https:// URL in "
                              ".gitmodules (the platform fetches submodules over the network)")
        try:
            buildpack_url.parse(url, f"the submodule {path}'s URL")
        except ValueError as exc:
            raise BuildFailed(str(exc)) from None
        found.append((path, commit, url))
    return found

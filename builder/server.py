"""``python -m builder.server``: the builder's SSH server, serving git pushes until SIGTERM.

Wires the parts together: the SSH server (:mod:`builder.sshd`) hands each session to
:class:`Builder`, which checks the command and the user's right to push through the
controller, then runs dulwich's receive-pack (:mod:`builder.git`) whose ref updates go
through :class:`builder.push.RefUpdater` (build job, release, ref). The app's owner may also
fetch (``git clone``) its repository: dulwich's upload-pack.
"""
from __future__ import annotations

import logging
import signal

from dulwich.errors import GitProtocolError, HangupException
from dulwich.protocol import Protocol, ReceivableProtocol
from dulwich.server import DictBackend, UploadPackHandler

from builder.errors import CommandRefused, HookError
from builder.git import UPLOAD_PACK, AppRepos, BuildingReceivePackHandler, parse_git_command
from builder.push import RefUpdater

log = logging.getLogger(__name__)

SHUTDOWN_GRACE = 120.0


def refusal_message(error: Exception, identity=None) -> str:
    """What the user reads when their SSH request is refused (Heroku's `` !     `` style)."""
    if isinstance(error, HookError) and error.status in (403, 404):
        # Another user's app answers like a missing one (names cannot be probed): both get the hint.
        lines = [error.detail, "If it is someone else's app, ask its owner to add you: "
                               "deis perms:create <username> -a <app>"]
    elif isinstance(error, HookError):
        lines = [error.detail]
    elif isinstance(error, CommandRefused):
        lines = [error.reason]
    else:
        lines = [str(error)]
    return "\n" + "".join(f" !     {line}\n" for line in lines) + "\n"


def unknown_key_message(identity) -> str:
    if identity.error:
        return identity.error
    if not identity.offered:
        return "no SSH public key was offered; add one with: deis keys:add ~/.ssh/id_ed25519.pub"
    keys = ", ".join(identity.offered)
    return (f"your SSH key is not registered with Deis ({keys}); "
            "add it with: deis keys:add ~/.ssh/id_ed25519.pub")


class Builder:
    """Serves one SSH session: a push to an app, a fetch by its owner, or a clear refusal."""

    def __init__(self, *, hooks, repos: AppRepos, redis, queue):
        self.hooks = hooks
        self.repos = repos
        self.redis = redis
        self.queue = queue

    def handle_session(self, channel, command: str, identity) -> None:
        try:
            if identity.user is None:
                raise CommandRefused(command, unknown_key_message(identity))
            verb, app = parse_git_command(command)
            fetch = verb == UPLOAD_PACK
            if fetch:
                grant = self.hooks.authorize_fetch(identity.fingerprint, app)
                repo = self.repos.open_existing(app, grant.app_id)
                if repo is None:
                    raise CommandRefused(command, f"nothing has been pushed to app {app!r} yet")
            else:
                grant = self.hooks.authorize_push(identity.fingerprint, app)
                repo = self.repos.open(app, grant.app_id)
        except (CommandRefused, HookError) as exc:
            log.info("refused %r from %s: %s", command, identity.user or identity.offered, exc)
            self._exit(channel, 1, refusal_message(exc))
            return
        what = "fetch" if fetch else "push"
        log.info("%s of %s by %s", what, app, grant.user)
        backend = DictBackend({"/": repo})  # dulwich's handlers open their repository by path ("/")
        try:
            if fetch:
                UploadPackHandler(backend, ["/"], Protocol(channel.recv, channel.sendall)).handle()
            else:
                updater = RefUpdater(redis=self.redis, queue=self.queue, hooks=self.hooks, grant=grant,
                                     repo_path=self.repos.path(app))
                proto = ReceivableProtocol(channel.recv, channel.sendall)
                BuildingReceivePackHandler(backend, ["/"], proto, updater, channel.settimeout).handle()
        except (HangupException, GitProtocolError, EOFError, OSError) as exc:
            log.info("%s of %s by %s ended early: %s", what, app, grant.user, exc)
            self._exit(channel, 1, "")
            return
        finally:
            repo.close()
        self._exit(channel, 0, "")
        if not fetch:
            self.repos.maintain(app)

    @staticmethod
    def _exit(channel, status: int, stderr: str) -> None:
        try:
            if stderr:
                channel.sendall_stderr(stderr.encode("utf-8"))
            channel.send_exit_status(status)
        except OSError:
            pass


def main() -> None:
    import requests
    from redis import Redis

    from builder.hooks import ControllerHooks
    from builder.jobs import build_queue
    from builder.sshd import SSHServer, load_or_create_host_key
    from deiscore.settings import load

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # paramiko logs every dropped connection (port probes included) as an error traceback;
    # builder.sshd logs how each connection ended in one line instead.
    logging.getLogger("paramiko").setLevel(logging.CRITICAL)
    settings = load()
    redis = Redis.from_url(settings.redis_url)
    hooks = ControllerHooks(requests.Session(), settings.controller_url, settings.builder_secret)
    builder = Builder(hooks=hooks, repos=AppRepos(settings.home / "repos"), redis=redis,
                      queue=build_queue(redis))
    host_key = load_or_create_host_key(settings.home / "builder" / "ssh_host_ed25519_key")
    server = SSHServer(host_key, hooks.user_for_key, builder.handle_session, "0.0.0.0", settings.builder_port)
    server.bind()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: server.shutdown())
    server.serve_forever()
    log.info("stopping: waiting up to %.0fs for pushes in flight", SHUTDOWN_GRACE)
    server.wait(SHUTDOWN_GRACE)


if __name__ == "__main__":
    main()

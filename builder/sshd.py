"""The builder's SSH server (paramiko): public-key auth resolved through the controller.

Authentication: a key the controller knows succeeds as its user. An unknown key fails, so
the client goes on to its next key; when it runs out, ``keyboard-interactive`` (with no
questions) lets it in as "nobody", and the exec request is then refused with a message
naming the keys it offered. The user reads "your key is not registered" instead of an
opaque "Permission denied (publickey)", and a client holding several keys still logs in
with whichever one is registered.

Each connection is served in its own thread; ``handle_session(channel, command, identity)``
gets the channel once the client asked to exec ``command``.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path

import paramiko
from paramiko import AUTH_FAILED, AUTH_SUCCESSFUL, OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED, OPEN_SUCCEEDED

from builder.errors import HookError

log = logging.getLogger(__name__)

# paramiko buffers up to a window of unread data per channel: 4 MB keeps loopback pushes at
# full speed while the builder's memory stays flat (64 MB grew the RSS by as much per push).
WINDOW_SIZE = 4 * 1024 * 1024
MAX_PACKET_SIZE = 32768
NEGOTIATION_TIMEOUT = 30.0
CLIENT_CLOSE_GRACE = 5.0


def load_or_create_host_key(path: Path) -> paramiko.PKey:
    """The server's Ed25519 host key, generated on first start and kept (mode 0600)."""
    if not path.exists():
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        path.parent.mkdir(parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption())
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        log.info("generated the builder host key %s", path)
    return paramiko.Ed25519Key(filename=str(path))


@dataclass
class Identity:
    """Who is on the other end: the proven key's fingerprint and user, or the keys that failed."""

    user: str | None = None
    fingerprint: str | None = None
    offered: list[str] = field(default_factory=list)
    error: str | None = None  # the controller could not be asked


class _Interface(paramiko.ServerInterface):
    def __init__(self, lookup_user):
        self.lookup_user = lookup_user
        self.identity = Identity()
        self.known: dict[str, str | None] = {}
        self.command: str | None = None
        self.command_ready = threading.Event()

    def get_allowed_auths(self, username):
        return "publickey,keyboard-interactive"

    def check_auth_publickey(self, username, key):
        fp = key.fingerprint  # OpenSSH's SHA256:<base64>, as the controller records keys
        if fp not in self.known:
            try:
                self.known[fp] = self.lookup_user(fp)
            except HookError as exc:
                self.identity.error = str(exc)
                self.known[fp] = None
        user = self.known[fp]
        if user is None:
            if fp not in self.identity.offered:
                self.identity.offered.append(fp)
            return AUTH_FAILED
        self.identity.user, self.identity.fingerprint = user, fp
        return AUTH_SUCCESSFUL

    def check_auth_interactive(self, username, submethods):
        return paramiko.InteractiveQuery()

    def check_auth_interactive_response(self, responses):
        return AUTH_SUCCESSFUL  # as nobody: the exec request explains the refusal

    def check_channel_request(self, kind, chanid):
        if kind == "session":
            return OPEN_SUCCEEDED
        return OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_env_request(self, channel, name, value):
        return True  # GIT_PROTOCOL and friends: receive-pack speaks v0 whatever they ask

    def check_channel_exec_request(self, channel, command):
        if self.command_ready.is_set():
            return False
        self.command = command.decode("utf-8", "replace") if isinstance(command, bytes) else command
        self.command_ready.set()
        return True

    def check_channel_shell_request(self, channel):
        return self.check_channel_exec_request(channel, "")


class SSHServer:
    def __init__(self, host_key: paramiko.PKey, lookup_user, handle_session, address: str, port: int):
        self.host_key = host_key
        self.lookup_user = lookup_user
        self.handle_session = handle_session
        self.address = address
        self.port = port
        self._listener: socket.socket | None = None
        self._stopping = threading.Event()
        self._threads: set[threading.Thread] = set()
        self._threads_lock = threading.Lock()

    def bind(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.address, self.port))
        listener.listen(64)
        self._listener = listener

    def serve_forever(self) -> None:
        if self._listener is None:
            self.bind()
        log.info("builder listening on %s:%d", self.address, self.port)
        while not self._stopping.is_set():
            try:
                sock, peer = self._listener.accept()
            except OSError:
                if self._stopping.is_set():
                    break
                raise
            thread = threading.Thread(target=self._serve_connection, args=(sock, peer),
                                      name=f"ssh-{peer[0]}:{peer[1]}", daemon=True)
            with self._threads_lock:
                self._threads.add(thread)
            thread.start()

    def shutdown(self) -> None:
        """Stop accepting connections (safe to call from a signal handler)."""
        self._stopping.set()
        if self._listener is not None:
            try:
                self._listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._listener.close()

    def wait(self, grace: float = 60.0) -> None:
        """Give pushes in flight ``grace`` seconds to finish."""
        with self._threads_lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(grace)

    def _serve_connection(self, sock: socket.socket, peer) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transport = paramiko.Transport(sock, default_window_size=WINDOW_SIZE,
                                       default_max_packet_size=MAX_PACKET_SIZE)
        transport.add_server_key(self.host_key)
        interface = _Interface(self.lookup_user)
        try:
            transport.start_server(server=interface)
            channel = transport.accept(NEGOTIATION_TIMEOUT)
            if channel is None:
                log.info("%s opened no session", peer[0])
                return
            if not interface.command_ready.wait(NEGOTIATION_TIMEOUT):
                log.info("%s sent no command", peer[0])
                return
            try:
                self.handle_session(channel, interface.command, interface.identity)
            finally:
                channel.close()
            # The client disconnects once it has the exit status; closing the socket first
            # resets its connection and OpenSSH then exits 255 instead of with the status.
            transport.join(CLIENT_CLOSE_GRACE)
        except (paramiko.SSHException, EOFError, OSError) as exc:
            log.info("ssh connection from %s ended: %s", peer[0], exc)
        except Exception:
            log.exception("ssh session from %s failed", peer[0])
        finally:
            transport.close()
            with self._threads_lock:
                self._threads.discard(threading.current_thread())

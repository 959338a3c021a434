"""A remote host's Docker Engine over SSH, with the platform's own key and pinned host keys.

The docker SDK's ``ssh://`` transport (paramiko) reads ``~/.ssh`` of whoever runs it; a platform
must not depend on that, nor learn host keys silently. :class:`PinnedSSHAdapter` connects with the
key under ``DEIS_HOME`` and accepts only host keys in the platform's ``known_hosts`` (pinned when
the host was added). It extends ``docker.transport.sshconn``, which is not the SDK's public API: the
SDK's version is pinned below its next minor release (pyproject.toml).
"""
from __future__ import annotations

import os
import socket
import subprocess
import tempfile
from pathlib import Path

import paramiko
from docker.transport.sshconn import SSHConnection, SSHConnectionPool, SSHHTTPAdapter

from scheduler.errors import HostError

API_VERSION = "1.41"  # Docker Engine 20.10, the oldest engine a host may run
CHANNEL_OPEN_TIMEOUT = 5.0  # milliseconds on a live connection; a host that does not answer in 5 s is gone


class _Connection(SSHConnection):
    """Opens its channel with a timeout (the SDK waits for ever on a host that vanished) and drops
    the SSH transport when that fails, so the next call connects afresh."""

    def connect(self):
        try:
            channel = self.ssh_transport.open_session(timeout=min(self.timeout or CHANNEL_OPEN_TIMEOUT,
                                                                  CHANNEL_OPEN_TIMEOUT))
        except (paramiko.SSHException, OSError, EOFError):
            self.ssh_transport.close()
            raise
        channel.settimeout(self.timeout)
        channel.exec_command("docker system dial-stdio")
        self.sock = channel


class _Pool(SSHConnectionPool):
    """A fresh channel per request. A kept-alive channel can be closed by the host side while it idles,
    and urllib3 cannot tell before it writes the next request into it ("Socket is closed"); a new
    channel on the open SSH connection costs a few milliseconds."""

    def _new_conn(self):
        return _Connection(self.ssh_transport, self.timeout, self.ssh_host)

    def _put_conn(self, conn):
        if conn is not None:
            conn.close()


class PinnedSSHAdapter(SSHHTTPAdapter):
    def __init__(self, base_url: str, key_filename: Path, known_hosts: Path, connect_timeout: float = 5.0,
                 **kwargs):
        self._key_filename = str(key_filename)
        self._known_hosts = str(known_hosts)
        self._connect_timeout = connect_timeout
        super().__init__(base_url, **kwargs)

    def _create_paramiko_client(self, base_url):
        from urllib.parse import urlparse

        url = urlparse(base_url)
        self.ssh_client = paramiko.SSHClient()
        self.ssh_client.load_host_keys(self._known_hosts)
        self.ssh_client.set_missing_host_key_policy(paramiko.RejectPolicy())
        self.ssh_params = {"hostname": url.hostname, "port": url.port or 22, "username": url.username or "root",
                           "key_filename": self._key_filename, "look_for_keys": False, "allow_agent": False,
                           "timeout": self._connect_timeout, "banner_timeout": self._connect_timeout,
                           "auth_timeout": self._connect_timeout}

    def get_connection(self, url, proxies=None):
        with self.pools.lock:
            transport = self.ssh_client.get_transport()
            if transport is None or not transport.is_active():  # first call, or the host went away
                self.pools.clear()
                self.ssh_client.close()
                self._connect()
            pool = self.pools.get(url)
            if pool is None:
                pool = _Pool(ssh_client=self.ssh_client, timeout=self.timeout, maxsize=self.max_pool_size,
                             host=self.ssh_host)
                self.pools[url] = pool
            return pool


def platform_key(home: Path) -> Path:
    """The platform's SSH key for reaching hosts: ``$DEIS_HOME/ssh/id_ed25519`` (created once, 0600;
    several processes may ask at the same moment, so it is generated aside and renamed into place)."""
    key = Path(home) / "ssh" / "id_ed25519"
    if key.exists():
        return key
    key.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with tempfile.TemporaryDirectory(dir=key.parent) as tmp:
        fresh = Path(tmp) / "id_ed25519"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "deis-platform", "-f", str(fresh)],
                       check=True, stdin=subprocess.DEVNULL)
        if not key.exists():
            os.replace(fresh.with_suffix(".pub"), key.with_suffix(".pub"))
            os.replace(fresh, key)  # the private key last: its presence means the pair is complete
    return key


def fetch_host_key(host: str, port: int = 22, timeout: float = 5.0) -> str:
    """The SSH host key a server presents, as ``"<type> <base64>"`` (first contact, before pinning)."""
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        raise HostError(f"{host}:{port}", "connecting over SSH", str(exc)) from exc
    transport = paramiko.Transport(sock)
    try:
        transport.start_client(timeout=timeout)
        key = transport.get_remote_server_key()
        return f"{key.get_name()} {key.get_base64()}"
    except (paramiko.SSHException, OSError) as exc:
        raise HostError(f"{host}:{port}", "reading the SSH host key", str(exc) or type(exc).__name__) from exc
    finally:
        transport.close()


def known_hosts_line(host: str, port: int, key: str) -> str:
    return f"{host if port == 22 else f'[{host}]:{port}'} {key}"


def docker_over_ssh(url: str, key_filename: Path, known_hosts: Path, timeout: float = 60.0,
                    connect_timeout: float = 5.0):
    """A ``docker.DockerClient`` for the engine behind ``ssh://user@host[:port]``."""
    import docker

    try:
        adapter = PinnedSSHAdapter(url, key_filename, known_hosts, connect_timeout, timeout=timeout)
    except (paramiko.SSHException, OSError, socket.timeout) as exc:
        raise HostError(url, "connecting over SSH", _explain(exc)) from exc
    # The client is built for a local socket it never uses, then pointed at the SSH adapter (this
    # is what the SDK itself does for ssh:// URLs, minus reading ~/.ssh).
    client = docker.DockerClient(base_url="unix:///nonexistent.sock", version=API_VERSION, timeout=timeout)
    client.api.mount("http+docker://ssh", adapter)
    client.api._custom_adapter = adapter
    client.api.base_url = "http+docker://ssh"
    return client


def _explain(exc: Exception) -> str:
    if isinstance(exc, paramiko.BadHostKeyException):
        return "the host's SSH key changed since it was pinned (possible impersonation); refusing"
    if isinstance(exc, paramiko.SSHException) and "not found in known_hosts" in str(exc):
        return "the host's SSH key is not pinned"
    if isinstance(exc, paramiko.AuthenticationException):
        return "the platform's SSH key was refused"
    return str(exc) or type(exc).__name__

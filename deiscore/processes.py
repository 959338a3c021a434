"""Start and stop daemons by PID file, and wait for them to answer.

Used by ``deisctl up/down`` and by the test fixtures, so both start the real services
the same way: argument lists (never shell strings), logs to a file, stopped by PID.
"""
from __future__ import annotations

import logging
import os
import pwd
import signal
import socket
import subprocess
import time
from pathlib import Path

log = logging.getLogger(__name__)

# System accounts of the platform's processes that need no root: Redis (and the registry) run as
# PLATFORM_USER, the router's nginx workers as ROUTER_USER, so neither can reach the other's files.
PLATFORM_USER = "deis"
ROUTER_USER = "deis-router"
PRIVATE_UMASK = 0o077  # files the platform's processes create are theirs alone


class ProcessError(Exception):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_answers(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for(check, timeout: float, what: str, interval: float = 0.05, process: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if process is not None and process.poll() is not None:
            raise ProcessError(f"{what} exited with code {process.returncode} before it was ready")
        time.sleep(interval)
    raise ProcessError(f"{what} did not become ready within {timeout:.0f}s")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); reap it if it is ours.
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


def parent_pid(pid: int | None) -> int | None:
    """The parent of process ``pid`` on this machine (None: no such process)."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def read_pid(pidfile: Path) -> int | None:
    try:
        pid = int(pidfile.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if pid_alive(pid) else None


def spawn(argv: list[str], logfile: Path, pidfile: Path | None = None, env: dict | None = None,
          cwd: Path | None = None, user: pwd.struct_passwd | None = None, umask: int = -1,
          stdin: Path | None = None) -> subprocess.Popen:
    """Start ``argv`` detached in its own session, output appended to ``logfile`` (created 0600).

    ``user``: run as this account (no supplementary groups); the process enters ``cwd`` before it
    drops root, so its own directory may sit in a home only root can traverse. ``umask``: the
    process's umask (-1: inherited). ``stdin``: a file opened here (by the caller's account) for the
    process to read, e.g. a configuration holding a secret that the process's account cannot open.
    """
    logfile.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(logfile, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "ab") as output, open(stdin or os.devnull, "rb") as source:
        account = {} if user is None else {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
        proc = subprocess.Popen(argv, stdout=output, stderr=subprocess.STDOUT, stdin=source,
                                env=env, cwd=cwd, start_new_session=True, umask=umask, **account)
    if pidfile is not None:
        pidfile.parent.mkdir(parents=True, exist_ok=True)
        pidfile.write_text(f"{proc.pid}\n")
    return proc


def stop_pid(pid: int, timeout: float = 10.0) -> None:
    """SIGTERM the process (and its session), then SIGKILL after ``timeout``."""
    if not pid_alive(pid):
        return
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return
        time.sleep(0.05)
    _signal_group(pid, signal.SIGKILL)


def _signal_group(pid: int, sig: int) -> None:
    try:
        pgid = os.getpgid(pid)
        if pgid == pid:  # we started it with start_new_session: stop its children too
            os.killpg(pgid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        pass


def stop_pidfile(pidfile: Path, timeout: float = 10.0) -> bool:
    pid = read_pid(pidfile)
    if pid is not None:
        stop_pid(pid, timeout)
    pidfile.unlink(missing_ok=True)
    return pid is not None


def system_user(name: str) -> pwd.struct_passwd | None:
    """The system account ``name`` (no login, no home), created when missing; None when this process
    is not root, and so cannot switch users: then every process runs as the invoking user."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    result = subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--home-dir",
                             "/nonexistent", "--shell", "/usr/sbin/nologin", "--comment", "Deis platform", name],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        account = pwd.getpwnam(name)  # also when a concurrent useradd won the race
    except KeyError:
        raise ProcessError(f"could not create the system user {name}: {result.stdout.strip()}") from None
    log.info("created the system user %s (uid %d)", name, account.pw_uid)
    return account


def private_dir(path: Path, owner: pwd.struct_passwd | None = None) -> Path:
    """``path`` as a directory only its owner (``owner``, or the caller) may enter: mode 0700, owned
    with everything in it by ``owner`` when given (a service's data from before it ran as that user)."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    if owner is not None:
        for item in (path, *path.rglob("*")):
            os.chown(item, owner.pw_uid, owner.pw_gid, follow_symlinks=False)
    return path

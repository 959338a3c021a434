"""Start and stop daemons by PID file, and wait for them to answer.

Used by ``deisctl up/down`` and by the test fixtures, so both start the real services
the same way: argument lists (never shell strings), logs to a file, stopped by PID.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path


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


def read_pid(pidfile: Path) -> int | None:
    try:
        pid = int(pidfile.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if pid_alive(pid) else None


def spawn(argv: list[str], logfile: Path, pidfile: Path | None = None, env: dict | None = None,
          cwd: Path | None = None) -> subprocess.Popen:
    """Start ``argv`` detached in its own session, output appended to ``logfile``."""
    logfile.parent.mkdir(parents=True, exist_ok=True)
    with open(logfile, "ab") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, cwd=cwd, start_new_session=True)
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

"""The nginx master process of a router prefix: check a config, start, reload gracefully, stop.

Every call names the prefix explicitly (``nginx -p PREFIX -c CONF``), so several routers (and the
system's own nginx) never share files. Started by root, the workers run as the router's own system
account (``deis-router``), which no other process of the platform uses.
"""
from __future__ import annotations

import grp
import logging
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Callable

from deiscore.processes import ROUTER_USER, ProcessError, pid_alive, read_pid, stop_pid, system_user, wait_for
from router.errors import ConfigRejected, NginxError
from router.nginxconf import ROUTING_SOCKET

log = logging.getLogger(__name__)

CONF_NAME = "nginx.conf"
PID_NAME = "nginx.pid"
TEMP_DIRS = ("body", "proxy", "fastcgi", "uwsgi", "scgi")


def ensure_dirs(prefix: Path) -> None:
    (prefix / "logs").mkdir(parents=True, exist_ok=True)
    for name in TEMP_DIRS:
        (prefix / "temp" / name).mkdir(parents=True, exist_ok=True)


def socket_dir(directory: Path) -> Path:
    """``directory``, for a unix socket of the router: only the workers' account may enter it (0700).

    Its parent (a master's working directory, from which the workers resolve the socket's relative
    path) must let them pass through (0711) without listing it.
    """
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(directory, 0o700)
    account = system_user(ROUTER_USER)
    if account is not None:
        os.chown(directory, account.pw_uid, account.pw_gid)
        os.chmod(directory.parent, 0o711)
    return directory


def _globals() -> str:
    """Directives given on the command line: in the foreground, workers as the router's account."""
    account = system_user(ROUTER_USER)
    return "daemon off;" + (f" user {account.pw_name} {grp.getgrgid(account.pw_gid).gr_name};" if account else "")


def check_config(prefix: Path, conf: Path, binary: str = "nginx") -> None:
    """Run ``nginx -t`` on ``conf``; raise :class:`ConfigRejected` with nginx's message if it fails."""
    try:
        # nginx -t binds the routing tier's socket (relative to its working directory) and removes
        # it again: in a scratch directory, never beside the socket a running master listens on.
        with tempfile.TemporaryDirectory(prefix="deis-nginx-check-") as scratch:
            (Path(scratch) / ROUTING_SOCKET).parent.mkdir(parents=True, exist_ok=True)
            result = subprocess.run([binary, "-t", "-q", "-p", f"{prefix}/", "-c", str(conf)],
                                    capture_output=True, text=True, timeout=30, cwd=scratch)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NginxError(f"could not run {binary} -t: {exc}") from exc
    if result.returncode != 0:
        raise ConfigRejected(result.stderr or result.stdout)


def master_pid(prefix: Path) -> int | None:
    return read_pid(prefix / PID_NAME)


def worker_pids(master: int) -> set[int]:
    """Children of the nginx master (its workers), read from /proc."""
    pids = set()
    for task in Path(f"/proc/{master}/task").glob("*/children"):
        try:
            pids.update(int(p) for p in task.read_text().split())
        except OSError:
            continue
    return pids


def start(prefix: Path, binary: str = "nginx", timeout: float = 10.0, ready: Callable[[], bool] | None = None,
          cwd: Path | None = None, new_session: bool = True) -> int:
    """Start the master of ``prefix`` in the foreground (``daemon off``); return its pid (no-op if running).

    ``ready`` says when it serves; ``new_session`` off keeps it in the caller's process group, so
    a supervisor stopped by group signal takes its nginx masters along.
    """
    pid = master_pid(prefix)
    if pid is not None:
        return pid
    ensure_dirs(prefix)
    conf = prefix / CONF_NAME
    check_config(prefix, conf, binary)
    logfile = prefix / "logs" / "master.log"
    with open(logfile, "ab") as output:
        proc = subprocess.Popen([binary, "-p", f"{prefix}/", "-c", str(conf), "-g", _globals()],
                                stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=cwd, start_new_session=new_session)
    try:
        wait_for(lambda: (prefix / PID_NAME).exists() and (ready is None or ready()), timeout, "nginx",
                 process=proc)
    except ProcessError as exc:
        stop_pid(proc.pid)
        raise NginxError(f"{exc}: {_tail(logfile)} {_tail(prefix / 'logs' / 'error.log')}") from exc
    log.info("nginx started with prefix %s (pid %d)", prefix, proc.pid)
    return proc.pid


def reload(prefix: Path, timeout: float = 10.0) -> bool:
    """SIGHUP the master and wait until new workers run; False when nginx is not running."""
    pid = master_pid(prefix)
    if pid is None:
        return False
    before = worker_pids(pid)
    os.kill(pid, signal.SIGHUP)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # New workers have fresh pids; old ones finish their in-flight requests but no longer
        # accept once their title says "shutting down" (or they are gone).
        if worker_pids(pid) - before and not any(_accepting(old) for old in before):
            return True
        if not pid_alive(pid):
            raise NginxError(f"nginx (pid {pid}) exited during reload: {_tail(prefix / 'logs' / 'error.log')}")
        time.sleep(0.005)
    raise NginxError(f"nginx did not start new workers within {timeout:.0f}s: {_tail(prefix / 'logs' / 'error.log')}")


def stop(prefix: Path, timeout: float = 10.0) -> bool:
    """Graceful shutdown (SIGQUIT), then the process helper's TERM/KILL; False when not running."""
    pid = master_pid(prefix)
    if pid is None:
        return False
    os.kill(pid, signal.SIGQUIT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and pid_alive(pid):
        time.sleep(0.05)
    stop_pid(pid, timeout=2.0)
    (prefix / PID_NAME).unlink(missing_ok=True)
    return True


def _accepting(worker: int) -> bool:
    try:
        title = Path(f"/proc/{worker}/cmdline").read_bytes()
    except OSError:
        return False
    return bool(title) and b"shutting down" not in title


def _tail(path: Path, lines: int = 5) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"

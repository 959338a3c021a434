"""The nginx master process of a router prefix: check a config, start, reload gracefully, stop.

Every call names the prefix explicitly (``nginx -p PREFIX -c CONF``), so several routers (and the
system's own nginx) never share files.
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Callable

from deisctl.processes import ProcessError, pid_alive, read_pid, stop_pid, wait_for
from router.errors import ConfigRejected, NginxError

log = logging.getLogger(__name__)

CONF_NAME = "nginx.conf"
PID_NAME = "nginx.pid"
TEMP_DIRS = ("body", "proxy", "fastcgi", "uwsgi", "scgi")


def ensure_dirs(prefix: Path) -> None:
    (prefix / "logs").mkdir(parents=True, exist_ok=True)
    for name in TEMP_DIRS:
        (prefix / "temp" / name).mkdir(parents=True, exist_ok=True)


def check_config(prefix: Path, conf: Path, binary: str = "nginx") -> None:
    """Run ``nginx -t`` on ``conf``; raise :class:`ConfigRejected` with nginx's message if it fails."""
    try:
        result = subprocess.run([binary, "-t", "-q", "-p", f"{prefix}/", "-c", str(conf)],
                                capture_output=True, text=True, timeout=30)
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
        proc = subprocess.Popen([binary, "-p", f"{prefix}/", "-c", str(conf), "-g", "daemon off;"],
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

"""``deis run`` end to end: the real CLI (stdin a pipe, or a pseudo-terminal) against a whole platform
(``deisctl up``), through the controller's WebSocket to a one-off container of a pushed buildpack app:
stdin, stdout and stderr apart, output without a trailing newline, an interactive shell on a TTY,
Ctrl-C, ``--detach`` into ``deis logs`` and removed after its TTL, bad input, nothing left behind."""
from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time
import uuid

import docker
import pytest

from scheduler.containers import LABEL_APP, LABEL_PLATFORM, LABEL_TYPE
from scheduler.scheduler import platform_id
from scheduler.session import LABEL_MODE
from tests.e2e.conftest import running_platform, wait_until

pytestmark = pytest.mark.slow

DETACH_TTL = 20  # seconds: short, so that the reconcile loop's removal of a detached run is seen here


@pytest.fixture(scope="module")
def live_platform(tmp_path_factory):
    with running_platform(tmp_path_factory.mktemp("run"), {"DEIS_RUN_DETACH_TTL": str(DETACH_TTL)}) as platform:
        yield platform


@pytest.fixture(scope="module")
def pushed(live_platform):
    """(the working copy, the app) of examples/python-web, pushed once."""
    work = live_platform.checkout("python-web")
    app = live_platform.create_app(work)
    push = live_platform.push(work)
    assert push.returncode == 0, push.output + live_platform.logs()
    return work, app


def deis(platform, *args: str, cwd=None, stdin: bytes = b"", timeout: float = 120) -> subprocess.CompletedProcess:
    """The real CLI with ``stdin`` piped in, stdout and stderr captured apart (bytes)."""
    return subprocess.run([sys.executable, "-c", "from client.cli import main; main()", *args], env=platform.env,
                          cwd=cwd, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)


def oneoffs(platform, app: str, mode: str | None = None) -> list:
    """The platform's one-off containers of ``app`` on the engine (``mode``: attached or detached only)."""
    labels = [f"{LABEL_PLATFORM}={platform_id(platform.home)}", f"{LABEL_APP}={app}", f"{LABEL_TYPE}=run"]
    found = docker.from_env().containers.list(all=True, filters={"label": labels})
    return [c for c in found if mode is None or c.labels.get(LABEL_MODE) == mode]


def test_stdin_is_piped_through(live_platform, pushed):
    work, _ = pushed
    run = deis(live_platform, "run", "--", "cat", cwd=work, stdin=b"data\n")
    assert (run.returncode, run.stdout) == (0, b"data\n"), run
    many = bytes(range(256)) * 4096  # 1 MiB, every byte value: binary-safe, and more than one frame
    run = deis(live_platform, "run", "--", "cat", cwd=work, stdin=many)
    assert run.returncode == 0 and run.stdout == many, (run.returncode, len(run.stdout), run.stderr[-500:])


def test_stdout_and_stderr_apart_and_exit_code(live_platform, pushed):
    work, _ = pushed
    run = deis(live_platform, "run", "--", "sh", "-c", "echo out; echo err >&2; exit 3", cwd=work)
    assert (run.returncode, run.stdout, run.stderr) == (3, b"out\n", b"err\n"), run
    run = deis(live_platform, "run", "--", "printf abc", cwd=work)
    assert (run.returncode, run.stdout) == (0, b"abc"), run


def test_tty_session(live_platform, pushed):
    """``deis run bash`` on a pseudo-terminal: an interactive shell, its size, the exit code it ends with."""
    work, _ = pushed
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 31, 101, 0, 0))
    cli = subprocess.Popen([sys.executable, "-c", "from client.cli import main; main()", "run", "bash"],
                           env=live_platform.env, cwd=work, stdin=slave, stdout=slave, stderr=slave,
                           start_new_session=True)
    os.close(slave)
    output, deadline, typed = b"", time.monotonic() + 60, False
    while time.monotonic() < deadline:
        if output and not typed:  # the shell's prompt: the CLI's terminal is raw by now (going raw flushes input)
            os.write(master, b"echo $((6*7)); tty; stty size; exit 5\r")
            typed = True
        ready, _, _ = select.select([master], [], [], 1)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the CLI is gone and the terminal closed
                break
            if not chunk:
                break
            output += chunk
        elif cli.poll() is not None:
            break
    os.close(master)
    assert cli.wait(timeout=10) == 5, output
    lines = output.decode(errors="replace").splitlines()
    assert "42" in lines and "31 101" in lines, output
    assert any(line.startswith("/dev/pts/") for line in lines), output  # the process has a TTY


def test_ctrl_c_ends_the_process(live_platform, pushed):
    work, app = pushed
    cli = subprocess.Popen([sys.executable, "-c", "from client.cli import main; main()", "run", "--", "sleep 30"],
                           env=live_platform.env, cwd=work, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
    assert wait_until(lambda: [c for c in oneoffs(live_platform, app, "attached") if c.status == "running"], 30)
    began = time.monotonic()
    cli.send_signal(signal.SIGINT)
    out, err = cli.communicate(timeout=15)
    assert cli.returncode != 0 and time.monotonic() - began < 10, (cli.returncode, out, err)
    assert wait_until(lambda: not oneoffs(live_platform, app, "attached"), 10), "the one-off was not removed"


def test_detached_output_in_logs_and_removed_after_its_ttl(live_platform, pushed):
    work, app = pushed
    run = deis(live_platform, "run", "--detach", "--", "sh", "-c", "echo detached-marker", cwd=work)
    assert run.returncode == 0, run
    name = run.stdout.decode().split(" detached as ")[1].split()[0]
    assert name.startswith(f"{app}_v2.run."), run.stdout
    source = "run." + name.rsplit(".", 1)[1]

    def in_logs():
        logs = live_platform.deis("logs", cwd=work)
        return [line for line in logs.output.splitlines() if f"{app}[{source}]: detached-marker" in line]
    assert wait_until(in_logs, 30), live_platform.deis("logs", cwd=work).output
    sleeper = deis(live_platform, "run", "--detach", "--", "sleep 600", cwd=work)
    assert sleeper.returncode == 0, sleeper
    assert [c for c in oneoffs(live_platform, app, "detached") if c.status == "running"]
    began = time.monotonic()
    # the reconcile loop removes it once its TTL is over: the deadline is on the container
    assert wait_until(lambda: not [c for c in oneoffs(live_platform, app, "detached") if c.status == "running"],
                      DETACH_TTL + 30), live_platform.logs()
    assert time.monotonic() - began > DETACH_TTL - 10


def test_bad_input(live_platform, pushed):
    work, app = pushed
    empty = deis(live_platform, "run", "--", "", cwd=work)
    assert empty.returncode != 0 and b"no command given" in empty.stderr, empty
    unknown = deis(live_platform, "run", "-a", "no-such-app", "--", "true")
    assert unknown.returncode != 0 and b"app 'no-such-app' not found" in unknown.stderr, unknown
    fresh = f"nobuild-{uuid.uuid4().hex[:6]}"
    live_platform.deis("create", fresh, "--no-remote").ok()
    for detach in ([], ["--detach"]):
        run = deis(live_platform, "run", *detach, "-a", fresh, "--", "true")
        assert run.returncode != 0 and b"has no build yet" in run.stderr, run
    assert not oneoffs(live_platform, fresh)
    down = dict(live_platform.env, DEIS_PROFILE_DIR=str(live_platform.workdir / "elsewhere"))
    os.makedirs(down["DEIS_PROFILE_DIR"], exist_ok=True)
    (live_platform.workdir / "elsewhere" / "client.json").write_text(
        '{"controller": "http://127.0.0.1:9", "token": "x"}')
    unreachable = subprocess.run([sys.executable, "-c", "from client.cli import main; main()", "run", "-a", app,
                                  "--", "true"], env=down, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    assert unreachable.returncode == 1 and b"cannot reach the controller" in unreachable.stderr, unreachable


def test_no_oneoff_left_behind(live_platform, pushed):
    _, app = pushed
    assert wait_until(lambda: not oneoffs(live_platform, app, "attached"), 10), oneoffs(live_platform, app)
    assert not [c for c in oneoffs(live_platform, app) if c.status == "running"]

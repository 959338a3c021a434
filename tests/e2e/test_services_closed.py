"""The platform's services closed to local users and apps (issue 14), on a platform ``deisctl up`` started:
Redis wants its password, the build worker runs the platform's own jobs only, the state files are the
platform's alone, the processes that need no root run as their own accounts, and BUILDPACK_URL is fetched
over the network by the build container, never from the platform's disk.
"""
from __future__ import annotations

import pwd
import socket
import subprocess
import time
import uuid
from pathlib import Path

import docker
import pytest
from redis import Redis
from rq import Queue

from builder.jobs import build_queue
from deiscore import settings
from deiscore.processes import PLATFORM_USER, ROUTER_USER, read_pid
from router.nginxconf import ROUTING_SOCKET
from tests.e2e.conftest import commit
from tests.gitserve import app_network_container, dumb_http_git

pytestmark = pytest.mark.slow


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def owner(path: Path) -> str:
    return pwd.getpwuid(path.stat().st_uid).pw_name


def process_user(pid: int) -> str:
    uid = int(next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                   if line.startswith("Uid:")).split()[1])
    return pwd.getpwuid(uid).pw_name


def children(pid: int) -> set[int]:
    return {int(p) for task in Path(f"/proc/{pid}/task").glob("*/children") for p in task.read_text().split()}


def redis_says(port: int, command: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(command)
        return conn.recv(200)


def web_buildpack(root: Path) -> Path:
    """A git working copy of a buildpack that serves the app's files over HTTP."""
    buildpack = root / f"buildpack-{uuid.uuid4().hex[:8]}"
    (buildpack / "bin").mkdir(parents=True)
    (buildpack / "bin" / "detect").write_text("#!/bin/sh\necho Custom\n")
    (buildpack / "bin" / "compile").write_text('#!/bin/sh\necho "-----> custom compile"\n')
    (buildpack / "bin" / "release").write_text(
        "#!/bin/sh\nprintf -- '---\\ndefault_process_types:\\n  web: python3 -m http.server $PORT\\n'\n")
    for script in (buildpack / "bin").iterdir():
        script.chmod(0o755)
    subprocess.run(["git", "-C", str(buildpack), "init", "-q", "-b", "master"], check=True)
    commit(buildpack, "buildpack")
    return buildpack


@pytest.fixture(scope="module")
def platform_settings(live_platform):
    return settings.load(live_platform.env)


def test_redis_answers_only_with_the_password(live_platform, platform_settings):
    port = platform_settings.redis_port
    assert redis_says(port, b"PING\r\n").startswith(b"-NOAUTH")
    assert redis_says(port, b"AUTH wrong-password\r\n").startswith(b"-WRONGPASS")
    assert Redis.from_url(platform_settings.redis_url).ping()
    # Loopback only; the password in a root-only file, never on the command line, the process its own user.
    pid = read_pid(live_platform.home / "run" / "redis.pid")
    assert platform_settings.redis_password.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes()
    assert process_user(pid) == PLATFORM_USER
    listening = Redis.from_url(platform_settings.redis_url).config_get("bind")["bind"]
    assert listening == "127.0.0.1"


def test_a_job_enqueued_by_hand_is_not_run(live_platform, platform_settings, tmp_path):
    """The probe's attack, with the password even: the worker refuses, marks the jobs failed, runs nothing."""
    connection = Redis.from_url(platform_settings.redis_url)
    marker = tmp_path / "ran"
    jobs = [Queue("builds", connection=connection).enqueue("os.system", f"touch {marker}"),  # rq's pickle
            build_queue(connection).enqueue("os.system", f"touch {marker}")]  # the platform's JSON
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(job.get_status(refresh=True) != "failed" for job in jobs):
        time.sleep(0.1)
    failures = [job.latest_result().exc_string for job in jobs]
    assert [job.get_status() for job in jobs] == ["failed", "failed"], failures
    assert "its data is not a JSON job of the platform" in failures[0]
    assert "'os.system' is not a job function of the platform" in failures[1]
    assert not marker.exists()


def test_buildpack_url_must_be_a_network_url(live_platform):
    work = live_platform.checkout("static-site")
    app = live_platform.create_app(work)
    for url, reason in ((f"file://{live_platform.home}", "is a file:// URL"),
                        (str(live_platform.home / "repos"), "is a local path"),
                        ("git@github.com:heroku/heroku-buildpack-python.git", "is an ssh URL")):
        refused = live_platform.deis("config:set", f"BUILDPACK_URL={url}", cwd=work)
        assert refused.returncode != 0 and reason in refused.output, refused.output
    assert "BUILDPACK_URL" not in live_platform.deis("config", cwd=work).ok().output


def test_an_https_buildpack_url_is_fetched_by_the_build_container(live_platform, platform_settings):
    """No TLS server answers (nothing outside is reachable here), but the connection shows who fetched:
    the build container, on the app's own network, not this machine (which would come from the gateway)."""
    work = live_platform.checkout("static-site")
    app = live_platform.create_app(work)
    accept_one = ("import socket; s = socket.create_server(('', 8443)); c, peer = s.accept(); "
                  "print('peer', peer[0], flush=True)")  # then closes: no TLS, the clone fails
    with app_network_container(docker.from_env(), platform_settings, app, ["python3", "-c", accept_one]) as (
            listener, address, gateway):
        url = f"https://{address}:8443/buildpack.git"
        live_platform.deis("config:set", f"BUILDPACK_URL={url}", cwd=work).ok()
        push = live_platform.push(work)
        listener.wait(timeout=30)
        peers = [line.split()[1] for line in listener.logs().decode().splitlines() if line.startswith("peer ")]
    assert push.returncode != 0
    assert f"Fetching buildpack {url}" in push.output and "Could not fetch the buildpack" in push.output
    assert len(peers) == 1 and peers[0] not in (gateway, address, "127.0.0.1"), peers


def test_state_files_and_accounts_after_a_deploy(live_platform, platform_settings):
    """A deploy with a custom buildpack over HTTP, then each file's mode as a local user would find it."""
    work = live_platform.checkout("static-site")
    app = live_platform.create_app(work)
    with dumb_http_git(web_buildpack(live_platform.workdir), docker.from_env(), platform_settings, app) as (url, _, _):
        live_platform.deis("config:set", f"BUILDPACK_URL={url}", "SECRET_TOKEN=s3cr3t", cwd=work).ok()
        push = live_platform.push(work)
    assert push.returncode == 0, push.output + live_platform.logs()
    assert "-----> Custom app detected" in push.output
    assert live_platform.get(app).status_code == 200

    home = live_platform.home
    assert mode(home) == 0o700
    for name in ("controller.db", "controller.db-wal", "controller.db-shm", "builder-secret", "redis-secret",
                 "redis.conf"):
        assert mode(home / name) == 0o600, name
    state = home / "scheduler" / "apps" / f"{app}.json"
    assert "s3cr3t" in state.read_text()  # the config, in clear: so the file is the platform's alone
    assert (mode(state), mode(state.parent), mode(state.parent.parent)) == (0o600, 0o700, 0o700)
    assert (mode(home / "redis"), owner(home / "redis")) == (0o700, PLATFORM_USER)

    # The routing tier's socket (nginx makes it 0666) sits in a directory only the edge's workers enter.
    sock = home / "router" / ROUTING_SOCKET
    assert sock.is_socket()
    assert (mode(sock.parent), owner(sock.parent)) == (0o700, ROUTER_USER)
    edge = read_pid(home / "router" / "edge" / "nginx.pid")
    assert {process_user(worker) for worker in children(edge)} == {ROUTER_USER}
    connect = ["/usr/bin/python3", "-c", f"import socket; socket.socket(socket.AF_UNIX).connect({str(sock)!r})"]
    other_user = subprocess.run(connect, user="nobody", capture_output=True, text=True, cwd="/")
    assert other_user.returncode != 0 and "PermissionError" in other_user.stderr
    # ... even one that is in the router's directory already (as the workers are).
    relative = f"import socket; socket.socket(socket.AF_UNIX).connect({ROUTING_SOCKET!r})"
    other_user = subprocess.run(["/usr/bin/python3", "-c", relative], user="nobody", capture_output=True, text=True,
                                cwd=home / "router")
    assert other_user.returncode != 0 and "PermissionError" in other_user.stderr

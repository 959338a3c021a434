"""Interactive and detached one-offs (scheduler.session): the pure parts (the engine's stream framing,
what is expired), then real containers on the local Docker engine: stdin and its end, stdout and
stderr apart, a TTY and its size, signals, removal, detached runs in the logs, the sweep."""
from __future__ import annotations

import secrets
import struct
import time
from datetime import datetime, timezone

import pytest

from scheduler import Host, ReleaseSpec
from scheduler.containers import Container
from scheduler.session import (DETACHED_KEEP, LABEL_EXPIRES, LABEL_MODE, ORPHAN_GRACE, STDERR, STDOUT, Demuxer,
                               expired, start_detached, start_session, sweep)

STACK = "deis/stack:bookworm"


def frame(stream: int, data: bytes) -> bytes:
    return struct.pack(">BxxxL", stream, len(data)) + data


def test_demuxer_splits_frames_across_chunks():
    raw = frame(1, b"out\n") + frame(2, b"err") + frame(1, b"") + frame(1, b"x" * 70000)
    demux, found = Demuxer(), []
    for i in range(0, len(raw), 5):  # any chunking: headers and payloads cut anywhere
        found.extend(demux.feed(raw[i:i + 5]))
    assert found == [(STDOUT, b"out\n"), (STDERR, b"err"), (STDOUT, b""), (STDOUT, b"x" * 70000)]
    assert demux.buffer == b""


def oneoff(mode: str | None, status: str = "running", deadline: float = 1000.0, finished: float | None = None,
           ptype: str = "run") -> Container:
    labels = {LABEL_EXPIRES: f"{deadline:.0f}"} if deadline is not None else {}
    if mode:
        labels[LABEL_MODE] = mode
    return Container(id="c1", name="a_v2.run.1", host="local", app="a", version=2, type=ptype, num=0,
                     status=status, finished_at=datetime.fromtimestamp(finished, timezone.utc) if finished else None,
                     labels=labels)


def test_what_is_expired():
    assert not expired(oneoff("detached"), now=999)
    assert expired(oneoff("detached"), now=1000)  # running past its deadline
    late = 10 ** 6
    assert not expired(oneoff("detached", "exited", late, finished=500), now=500 + DETACHED_KEEP - 1)  # logs kept
    assert expired(oneoff("detached", "exited", late, finished=500), now=500 + DETACHED_KEEP)
    assert not expired(oneoff("attached", "exited", late, finished=500), now=500 + ORPHAN_GRACE - 1)
    assert expired(oneoff("attached", "exited", late, finished=500), now=500 + ORPHAN_GRACE)  # its session is gone
    assert not expired(oneoff("attached", "created", finished=None), now=999)  # being started
    assert not expired(oneoff(None, deadline=None), now=10 ** 12)  # `run` removes its own
    assert not expired(oneoff("detached", ptype="web"), now=10 ** 12)
    bad = oneoff("detached")
    bad.labels[LABEL_EXPIRES] = "soon"
    assert not expired(bad, now=10 ** 12)


@pytest.fixture
def host(docker_client, platform):
    return Host("local", docker_client, "127.0.0.1", platform=platform)


@pytest.fixture
def spec():
    return ReleaseSpec(app=f"sess{secrets.token_hex(3)}", version=2, image=STACK, kind="image",
                       procfile={"web": "sleep 600"}, config={"MSG": "hello"}, scale={})


def collect(session) -> dict[int, bytes]:
    found = {STDOUT: b"", STDERR: b""}
    for stream, data in session.output():
        found[stream] += data
    return found


@pytest.mark.slow
def test_stdin_streams_and_exit_code(host, spec, docker_client):
    with start_session(host, spec, "cat; echo err-$MSG >&2; printf tail; exit 3", ttl=60) as session:
        labels = docker_client.api.inspect_container(session.container.id)["Config"]["Labels"]
        assert labels[LABEL_MODE] == "attached" and float(labels[LABEL_EXPIRES]) > time.time() + 50
        session.write(b"data\n")
        session.write(b"\x00binary\xff")
        session.close_stdin()
        found = collect(session)
        assert session.wait() == 3
    assert found == {STDOUT: b"data\n\x00binary\xfftail", STDERR: b"err-hello\n"}
    assert host.inspect(session.container.id) is None  # removed


@pytest.mark.slow
def test_tty_size_and_signal(host, spec):
    # The size is set once the container runs (engines before API 1.42 take none at creation): ask after a line.
    with start_session(host, spec, "read line; echo got-$line; stty size; cat", tty=True, size=(101, 33),
                       ttl=60) as session:
        output = session.output()
        session.write(b"typed\r")
        seen = b""
        while b"33 101" not in seen:
            stream, data = next(output)
            assert stream == STDOUT
            seen += data
        assert b"got-typed" in seen
        session.signal("INT")
        for _ in output:
            pass
        assert session.wait() == 130
    with start_session(host, spec, "sleep 30; echo never", ttl=60) as session:  # a compound command: sh waits
        began = time.monotonic()
        session.signal("INT")
        assert collect(session)[STDOUT] == b"" and session.wait() != 0
        assert time.monotonic() - began < 10


@pytest.mark.slow
def test_detached_runs_show_in_logs_and_are_swept(host, spec, docker_client):
    container = start_detached(host, spec, "echo detached-$MSG; sleep 30", ttl=60)
    assert container.type == "run" and 1000 <= container.num and container.name.endswith(f".run.{container.num}")
    from scheduler import logs as app_logs
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        lines = [line.format(spec.app) for line in app_logs.tail(host.containers(spec.app), {"local": host})]
        if any(line.endswith(f"{spec.app}[run.{container.num}]: detached-hello") for line in lines):
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"no detached output in the logs: {lines}")
    assert sweep([host]) == []  # within its time
    assert sweep([host], now=time.time() + 61) == [container.name]
    assert host.inspect(container.id) is None

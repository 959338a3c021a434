import threading

import pytest
from redis import Redis

from builder.buildlog import follow, iter_lines
from deiscore.joblog import JobLog as BuildLog
from builder.images import tags_to_collect
from builder.registry import render_config, render_htpasswd


def test_iter_lines_joins_chunks_and_splits_carriage_returns():
    chunks = [b"one\ntw", b"o\r\nthree\rfour", b"\nlast"]
    assert list(iter_lines(chunks)) == ["one", "two", "three", "four", "last"]


def test_tags_to_collect_keeps_the_newest():
    assert tags_to_collect(["f", "e", "d", "c", "b", "a"], 5) == ["a"]
    assert tags_to_collect(["b", "a", "b"], 1) == ["a"]
    assert tags_to_collect(["a"], 5) == []


def test_registry_config_is_loopback_with_deletes_and_authentication(tmp_path):
    config = render_config(tmp_path, 5123, tmp_path / "htpasswd")
    assert "addr: 127.0.0.1:5123" in config
    assert "delete:\n    enabled: true" in config
    assert f"htpasswd:\n    realm: deis-registry\n    path: {tmp_path / 'htpasswd'}" in config


def test_htpasswd_is_bcrypt():
    import bcrypt

    line = render_htpasswd([{"username": "deis", "password": "s3cret"}]).strip()
    user, hashed = line.split(":", 1)
    assert user == "deis" and hashed.startswith("$2b$05$")
    assert bcrypt.checkpw(b"s3cret", hashed.encode()) and not bcrypt.checkpw(b"wrong", hashed.encode())


@pytest.fixture
def redis(redis_url):
    return Redis.from_url(redis_url)


def test_follow_relays_lines_written_before_and_after_attaching(redis):
    log = BuildLog(redis, "test:buildlog:1")
    log.line("early")

    def later():
        log.line("late")
        log.end(True, result={"image": "x"})

    threading.Timer(0.2, later).start()
    events = list(follow(redis, "test:buildlog:1", lambda: (True, ""), poll=0.1))
    assert [e.get("line") for e in events[:2]] == ["early", "late"]
    assert events[-1]["ok"] is True and events[-1]["result"] == {"image": "x"}
    assert not redis.exists("test:buildlog:1")


def test_follow_ends_when_the_job_died(redis):
    BuildLog(redis, "test:buildlog:2").line("started")
    events = list(follow(redis, "test:buildlog:2", lambda: (False, "the build job failed"), poll=0.1))
    assert events[0] == {"line": "started"}
    assert events[-1]["ok"] is False and events[-1]["error"] == "the build job failed"

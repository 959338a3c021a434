"""Packs stream into git index-pack: real git on both sides, the channel replaced by a byte feed."""
from __future__ import annotations

import os
import subprocess
import time

import pytest

from builder.errors import PackError
from builder.packs import index_pack
from tests.builder.conftest import commit, git


class Feed:
    """``recv`` of a client that sent ``data`` and then waits (TimeoutError) or hangs up (b"")."""

    def __init__(self, data: bytes, hang_up: bool = False, chunk: int = 1000):
        self.data = data
        self.hang_up = hang_up
        self.chunk = chunk
        self.waiting_since = None

    def recv(self, n: int) -> bytes:
        if not self.data:
            if self.hang_up:
                return b""
            self.waiting_since = self.waiting_since or time.monotonic()
            if time.monotonic() - self.waiting_since > 10:
                raise AssertionError("index_pack kept polling after the pack ended")
            time.sleep(0.01)
            raise TimeoutError
        piece, self.data = self.data[:min(n, self.chunk)], self.data[min(n, self.chunk):]
        return piece


def pack_of(work, revs: str, *options: str) -> bytes:
    return subprocess.run(["git", "-C", str(work), "pack-objects", "--stdout", "--revs", *options],
                          input=revs.encode(), stdout=subprocess.PIPE, check=True).stdout


def has_object(git_dir, sha: str) -> bool:
    return subprocess.run(["git", f"--git-dir={git_dir}", "cat-file", "-e", sha]).returncode == 0


@pytest.fixture
def source(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    git(work, "init", "-q", "-b", "master")
    (work / "big.txt").write_text("".join(f"line {n} of a file that deltas well\n" for n in range(5000)))
    (work / "noise.bin").write_bytes(os.urandom(300_000))
    first = commit(work, "first")
    return work, first


def bare(tmp_path, name="target.git"):
    path = tmp_path / name
    subprocess.run(["git", "init", "-q", "--bare", str(path)], check=True)
    return path


def test_a_pack_is_indexed_into_the_repo(tmp_path, source):
    work, first = source
    target = bare(tmp_path)
    feed = Feed(pack_of(work, "master\n"), chunk=4096)
    name = index_pack(target, feed.recv)
    assert (target / "objects" / "pack" / f"pack-{name}.pack").exists()
    assert has_object(target, first)
    assert has_object(target, git(work, "rev-parse", "master:noise.bin"))


def test_a_thin_pack_is_completed_from_the_repo(tmp_path, source):
    work, first = source
    target = bare(tmp_path)
    index_pack(target, Feed(pack_of(work, "master\n")).recv)
    (work / "big.txt").write_text((work / "big.txt").read_text() + "one more line\n")
    second = commit(work, "second")
    thin = pack_of(work, f"{second}\n^{first}\n", "--thin")
    index_pack(target, Feed(thin).recv)
    assert has_object(target, git(work, "rev-parse", f"{second}:big.txt"))
    subprocess.run(["git", f"--git-dir={target}", "update-ref", "refs/heads/master", second], check=True)
    subprocess.run(["git", f"--git-dir={target}", "fsck", "--no-progress"], check=True)


def test_a_pack_cut_short_is_refused(tmp_path, source):
    work, _ = source
    target = bare(tmp_path)
    data = pack_of(work, "master\n")
    with pytest.raises(PackError) as info:
        index_pack(target, Feed(data[: len(data) // 2], hang_up=True).recv)
    assert "early EOF" in str(info.value) or "premature" in str(info.value)
    assert not list((target / "objects" / "pack").glob("*.pack"))


def test_garbage_is_refused(tmp_path):
    target = bare(tmp_path)
    with pytest.raises(PackError):
        index_pack(target, Feed(b"this is not a pack at all" * 10).recv)

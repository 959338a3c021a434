"""Pushed packs: streamed from the SSH channel into ``git index-pack``, never held in memory.

git's own ``index-pack --stdin --fix-thin`` (what ``git-receive-pack`` runs) parses, checks
and indexes the pack as it arrives and writes it into the repository's ``objects/pack``.
The builder only copies chunks from the channel to its stdin, so the builder's memory stays
the same whatever the size of the push, and indexing runs at native speed.

The client sends nothing after the pack until it gets the status report, so there is no EOF
to wait for: ``index-pack`` stops reading at the pack's trailer, and the copy loop notices
that by polling: ``recv`` raises :class:`TimeoutError` when no data came for a short while.
"""
from __future__ import annotations

import logging
import subprocess
from pathlib import Path

from builder.errors import PackError

log = logging.getLogger(__name__)

CHUNK = 256 * 1024
POLL = 0.05


def index_pack(git_dir: Path, recv, timeout: float = 600.0) -> str:
    """Copy the pack arriving through ``recv(n)`` into ``git index-pack``; return the pack's name.

    ``recv(n)`` returns up to ``n`` bytes, ``b""`` when the client hung up, and raises
    :class:`TimeoutError` when nothing arrived within its poll interval.
    """
    proc = subprocess.Popen(
        ["git", f"--git-dir={git_dir}", "index-pack", "--stdin", "--fix-thin"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    received = 0
    try:
        while True:
            try:
                data = recv(CHUNK)
            except TimeoutError:
                if proc.poll() is not None:
                    break
                continue
            if not data:
                break
            received += len(data)
            proc.stdin.write(data)
            proc.stdin.flush()  # index-pack must see the pack's last bytes, or it waits forever
    except BrokenPipeError:
        pass  # index-pack stopped reading: done or failed, its status says which
    finally:
        try:
            proc.stdin.close()
        except BrokenPipeError:
            pass
    output = proc.stdout.read().decode("utf-8", "replace").strip()
    proc.stdout.close()
    status = proc.wait(timeout)
    if status != 0:
        detail = " ".join(line.removeprefix("fatal: ") for line in output.splitlines()) or f"status {status}"
        log.warning("index-pack of %d bytes into %s failed: %s", received, git_dir, detail)
        raise PackError(detail)
    kind, _, name = output.partition("\t")
    log.info("received pack %s (%d bytes) into %s", name, received, git_dir)
    return name

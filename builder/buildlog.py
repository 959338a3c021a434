"""The build log (a :class:`deiscore.joblog.JobLog`): the SSH session that started the build pops its
events (``BLPOP``) and relays each line to ``git push`` as it arrives."""
from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Iterator

log = logging.getLogger(__name__)


def log_key(build_id: str) -> str:
    return f"deis:builder:log:{build_id}"


# ANSI/VT escape sequences: CSI (colours, cursor movement, erasing: ESC [ ... final byte), OSC (ESC ] ...
# BEL or ESC \), other two-byte escapes (ESC 7, ESC =, ...), and the 8-bit CSI; then any stray ESC.
ANSI_ESCAPE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x9b[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
                         r"|\x1b[ -/]*[0-~]|\x1b")


def strip_ansi(text: str) -> str:
    """``text`` without terminal escape sequences: build output reaches ``git push`` as plain text."""
    return ANSI_ESCAPE.sub("", text)


def iter_lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """Split a stream of byte chunks into plain text lines (carriage-return progress bars count as
    lines; terminal escape sequences removed)."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        *complete, pending = pending.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
        for line in complete:
            yield strip_ansi(line.decode("utf-8", "replace"))
    if pending:
        yield strip_ansi(pending.decode("utf-8", "replace"))


def follow(redis, key: str, still_running, poll: float = 1.0) -> Iterator[dict]:
    """Yield the events of the build log at ``key`` until its end event.

    ``still_running()`` is asked whenever no line arrived for ``poll`` seconds; when it says
    the job died without writing its end event (a killed worker), an end event is made up.
    """
    while True:
        item = redis.blpop([key], timeout=poll)
        if item is None:
            alive, reason = still_running()
            if not alive:
                # Drain what the job wrote just before it stopped.
                item = redis.lpop(key)
                if item is None:
                    yield {"end": True, "ok": False, "result": None, "error": reason}
                    return
            else:
                continue
        else:
            item = item[1]
        event = json.loads(item)
        yield event
        if event.get("end"):
            redis.delete(key)
            return

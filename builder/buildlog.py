"""The build log (a :class:`deiscore.joblog.JobLog`): the SSH session that started the build pops its
events (``BLPOP``) and relays each line to ``git push`` as it arrives."""
from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator

log = logging.getLogger(__name__)


def log_key(build_id: str) -> str:
    return f"deis:builder:log:{build_id}"


def iter_lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """Split a stream of byte chunks into text lines (carriage-return progress bars count as lines)."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        *complete, pending = pending.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
        for line in complete:
            yield line.decode("utf-8", "replace")
    if pending:
        yield pending.decode("utf-8", "replace")


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

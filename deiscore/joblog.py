"""Job logs: the lines a job (a build, a deploy) prints, carried from its worker to whoever waits on it.

The worker appends JSON events to a Redis list per job (``RPUSH``): ``{"line": text}`` as the job
goes, ``{"live": true}`` when a deploy's new release takes traffic, and last ``{"end": true, "ok":
bool, ...}`` with the outcome. A list, unlike pub/sub, keeps events written before a reader
attached; builds have one reader, which pops them, deploys any number (the CLI, ``git push``), which
read from an index.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

KEY_TTL = 3600


def deploy_key(app: str, deploy_id: str) -> str:
    return f"deis:deploy:log:{app}:{deploy_id}"


class JobLog:
    """Writer side, used by the job."""

    def __init__(self, redis, key: str, ttl: int = KEY_TTL):
        self.redis = redis
        self.key = key
        self.ttl = ttl

    def _push(self, event: dict) -> None:
        pipe = self.redis.pipeline()
        pipe.rpush(self.key, json.dumps(event))
        pipe.expire(self.key, self.ttl)
        pipe.execute()

    def line(self, text: str) -> None:
        self._push({"line": text})

    def live(self) -> None:
        """A deploy's new release serves: whoever waits for the switch may stop waiting."""
        self._push({"live": True})

    def end(self, ok: bool, result: dict | None = None, error: str | None = None, shown: bool = False) -> None:
        """The last event; ``shown`` says the error is already in the log's lines."""
        self._push({"end": True, "ok": ok, "result": result, "error": error, "shown": shown})


def read(redis, key: str, start: int = 0) -> list[dict]:
    """The events from index ``start`` on (none when the log expired or has not started)."""
    return [json.loads(item) for item in redis.lrange(key, start, -1)]


def follow(redis, key: str, alive: Callable[[], bool], poll: float = 0.05) -> Iterator[dict]:
    """Yield the log's events as they come, until its ``end`` event; one is made up when ``alive()``
    says the job died without writing it."""
    start = 0
    while True:
        events = read(redis, key, start)
        start += len(events)
        for event in events:
            yield event
            if event.get("end"):
                return
        if not events:
            if not alive() and not read(redis, key, start):
                yield {"end": True, "ok": False, "error": "the deploy stopped half way (its worker died)"}
                return
            time.sleep(poll)

"""rq workers that run the platform's own job functions and nothing else.

A job on a queue names its function by import path (``os.system`` would do) and may name callbacks
and webhooks too; rq resolves them all by import. Here jobs are JSON, never pickles (loading a pickle
runs code), and :class:`PlatformJob` checks the function's name before anything is imported: a job
naming any other function fails with the reason, unrun. Callbacks and webhooks, which the platform
never sets, are never resolved or sent.
"""
from __future__ import annotations

import logging
from typing import Callable, Iterable

from rq.exceptions import DeserializationError
from rq.job import Job
from rq.serializers import JSONSerializer

log = logging.getLogger(__name__)

SERIALIZER = JSONSerializer  # never pickle: a worker loads what anyone with Redis access enqueued


class JobRefused(Exception):
    """A job on a platform queue that its worker does not run (not one of the platform's own)."""

    def __init__(self, job_id: str, reason: str):
        self.job_id = job_id
        self.reason = reason
        super().__init__(f"job {job_id} refused: {reason}")


def function_name(function: Callable) -> str:
    return f"{function.__module__}.{function.__qualname__}"


class PlatformJob(Job):
    """A job run only when its function is one of :attr:`functions` (set by :func:`make_worker`)."""

    functions: frozenset[str] = frozenset()

    def _deserialize_data(self):
        try:
            super()._deserialize_data()
        except DeserializationError as exc:
            raise DeserializationError(f"job {self.id} refused: its data is not a JSON job of the platform") \
                from exc.__cause__

    def refusal(self) -> str | None:
        """Why this job must not run, or None. Reads names only; imports nothing."""
        if self.instance is not None:
            return "a job of the platform calls a function, not a method of an object it carries"
        if self.func_name not in self.functions:
            return f"{self.func_name!r} is not a job function of the platform (only {', '.join(sorted(self.functions))})"
        return None

    def perform(self):
        reason = self.refusal()
        if reason is not None:
            log.error("refused job %s: %s", self.id, reason)
            raise JobRefused(self.id, reason)
        return super().perform()

    # The platform's jobs have no callbacks or webhooks; whatever a hand-made job names is ignored.
    @property
    def success_callback(self):
        return None

    @property
    def failure_callback(self):
        return None

    @property
    def stopped_callback(self):
        return None

    def send_webhooks(self, *args, **kwargs) -> None:
        return None


def make_worker(connection, queue: str, functions: Iterable[Callable]):
    """An rq ``Worker`` for ``queue`` on ``connection`` that runs only ``functions``."""
    from rq import Worker

    job_class = type(f"{queue.title()}Job", (PlatformJob,), {"functions": frozenset(map(function_name, functions))})
    return Worker([queue], connection=connection, job_class=job_class, serializer=SERIALIZER)


def queue(connection, name: str):
    """The queue ``name`` on ``connection``, with the workers' serializer."""
    from rq import Queue

    return Queue(name, connection=connection, serializer=SERIALIZER)

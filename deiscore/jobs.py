"""rq workers that run the platform's own job functions and nothing else.

A job on a queue names its function by import path (``os.system`` would do) and may name callbacks
and webhooks too; rq resolves them all by import. Here jobs are JSON, never pickles (loading a pickle
runs code), and :class:`PlatformJob` checks the function's name before anything is imported: a job
naming any other function fails with the reason, unrun. Callbacks and webhooks, which the platform
never sets, are never resolved or sent.
"""
from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
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


def _job_class(queue: str, functions: Iterable[Callable]) -> type[PlatformJob]:
    return type(f"{queue.title()}Job", (PlatformJob,), {"functions": frozenset(map(function_name, functions))})


def make_worker(connection, queue: str, functions: Iterable[Callable]):
    """An rq worker for ``queue`` on ``connection`` that runs only ``functions``."""
    from rq import Worker

    return Worker([queue], connection=connection, job_class=_job_class(queue, functions), serializer=SERIALIZER)


def make_pool(connection, queue: str, functions: Iterable[Callable], workers: int):
    """``workers`` rq workers for ``queue`` under one process that replaces any that dies. Each runs its
    jobs in its own process (rq's ``SimpleWorker``: no fork per job), which keeps what jobs build
    between them (database engines, engine clients)."""
    from rq import SimpleWorker
    from rq.worker_pool import WorkerPool

    return WorkerPool([queue], connection=connection, num_workers=workers, worker_class=SimpleWorker,
                      job_class=_job_class(queue, functions), serializer=SERIALIZER)


def queue(connection, name: str):
    """The queue ``name`` on ``connection``, with the workers' serializer."""
    from rq import Queue

    return Queue(name, connection=connection, serializer=SERIALIZER)


HEARTBEAT_TTL = 10  # seconds a running job's heartbeat lasts; renewed every third of it
STARTING_GRACE = 15  # seconds a started job may take to set its first heartbeat


def heartbeat_key(job_id: str) -> str:
    return f"deis:job:heartbeat:{job_id}"


@contextmanager
def heartbeat(redis, job_id: str):
    """While the block runs, a key says the job's worker is alive (it expires soon after a kill)."""
    key, stop = heartbeat_key(job_id), threading.Event()
    redis.set(key, "1", ex=HEARTBEAT_TTL)

    def beat():
        while not stop.wait(HEARTBEAT_TTL / 3):
            redis.set(key, "1", ex=HEARTBEAT_TTL)

    thread = threading.Thread(target=beat, name=f"heartbeat-{job_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        redis.delete(key)


def alive(redis, job_id: str) -> bool:
    """Is the job waiting on its queue, or running on a worker that is alive (its heartbeat)?"""
    if redis.exists(heartbeat_key(job_id)):
        return True
    from rq.exceptions import NoSuchJobError

    try:
        job = Job.fetch(job_id, connection=redis, serializer=SERIALIZER)
    except NoSuchJobError:
        return False
    status = job.get_status(refresh=False)
    status = getattr(status, "value", status)
    if status in ("queued", "deferred", "scheduled"):
        return True
    started = job.started_at
    return status == "started" and started is not None and time.time() - started.timestamp() < STARTING_GRACE

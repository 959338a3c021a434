"""``python -m builder.worker``: the build worker, an rq worker for the builds queue on ``DEIS_REDIS_URL``.

It runs the platform's own job functions (:data:`JOB_FUNCTIONS`) and nothing else. A job on the
queue names its function by import path (``os.system`` would do) and may name callbacks and
webhooks too; rq resolves them all by import. Here jobs are JSON, never pickles (loading a pickle
runs code), and :class:`PlatformJob` checks the function's name before anything is imported: a
job naming any other function fails with the reason, unrun. Callbacks and webhooks, which the
platform never sets, are never resolved or sent.
"""
from __future__ import annotations

import logging

from rq.exceptions import DeserializationError
from rq.job import Job

from builder.errors import JobRefused
from builder.jobs import QUEUE, SERIALIZER, run_build

log = logging.getLogger(__name__)

JOB_FUNCTIONS = frozenset({f"{run_build.__module__}.{run_build.__qualname__}"})


class PlatformJob(Job):
    """A job of the builds queue, run only when its function is one of :data:`JOB_FUNCTIONS`."""

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
        if self.func_name not in JOB_FUNCTIONS:
            return f"{self.func_name!r} is not a job function of the platform (only {', '.join(sorted(JOB_FUNCTIONS))})"
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


def make_worker(connection):
    """The build worker on ``connection`` (an rq ``Worker`` taking only :class:`PlatformJob`\\ s)."""
    from rq import Worker

    return Worker([QUEUE], connection=connection, job_class=PlatformJob, serializer=SERIALIZER)


def main() -> None:
    from redis import Redis

    from deiscore.settings import load

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = load()
    make_worker(Redis.from_url(settings.redis_url)).work(with_scheduler=False)


if __name__ == "__main__":
    main()

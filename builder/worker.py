"""``python -m builder.worker``: the build worker, an rq worker for the builds queue on ``DEIS_REDIS_URL``
that runs :func:`builder.jobs.run_build` and :func:`builder.jobs.forget_app`, and nothing else (see
:mod:`deiscore.jobs`)."""
from __future__ import annotations

import logging

from builder.jobs import QUEUE, forget_app, run_build
from deiscore.jobs import make_worker as platform_worker


def make_worker(connection):
    """The build worker on ``connection``."""
    return platform_worker(connection, QUEUE, [run_build, forget_app])


def main() -> None:
    from redis import Redis

    from deiscore.settings import load

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    make_worker(Redis.from_url(load().redis_url)).work(with_scheduler=False)


if __name__ == "__main__":
    main()

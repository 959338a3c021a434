"""``python -m builder.worker``: an rq worker for the builds queue on ``DEIS_REDIS_URL``."""
from __future__ import annotations

import logging

from builder.jobs import QUEUE


def main() -> None:
    from redis import Redis
    from rq import Worker

    from deisctl.settings import load

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = load()
    connection = Redis.from_url(settings.redis_url)
    Worker([QUEUE], connection=connection).work(with_scheduler=False)


if __name__ == "__main__":
    main()

"""``python -m controller.worker``: the deploy worker, an rq worker of the ``deploys`` queue on
``DEIS_REDIS_URL`` that runs :func:`controller.deploys.run` and nothing else (see :mod:`deiscore.jobs`)."""
from __future__ import annotations

import logging

from controller.deploys import QUEUE, run
from deiscore.jobs import make_worker


def main() -> None:
    from redis import Redis

    from deiscore.settings import load

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # Deploys run in this process (no fork per job): the database engine, the engine clients and the
    # router stay connected from one deploy to the next.
    make_worker(Redis.from_url(load().redis_url), QUEUE, [run], fork=False).work(with_scheduler=False)


if __name__ == "__main__":
    main()

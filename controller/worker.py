"""``python -m controller.worker``: the deploy workers, a pool of ``DEIS_DEPLOY_WORKERS`` rq workers of the
``deploys`` queue on ``DEIS_REDIS_URL`` that run :func:`controller.deploys.run` and nothing else (see
:mod:`deiscore.jobs`). Deploys of different apps run at once; one app's wait for each other (the
scheduler's app lock). The pool replaces a worker that dies."""
from __future__ import annotations

import logging

from controller.deploys import QUEUE, run
from deiscore.jobs import make_pool


def main() -> None:
    from redis import Redis

    from deiscore.settings import load

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = load()
    make_pool(Redis.from_url(settings.redis_url), QUEUE, [run], settings.deploy_workers).start()


if __name__ == "__main__":
    main()

"""``python -m controller.reconcile``: the platform's reconcile loop (``deisctl up`` starts it).

The scheduler's loop (:func:`scheduler.reconcile.run_loop`) knows nothing of the controller: this
entry point builds the platform's scheduler on the registered hosts and hands it, each round, the
desired state read from the controller's database (:func:`controller.desired.specs`: each app's
serving release). Swarm reconciles its services itself, so this runs for the local scheduler only.
"""
from __future__ import annotations

import argparse
import logging
import sys

from sqlalchemy.orm import Session, sessionmaker

from controller import db, desired
from controller.deploys import Deploys, recover_interrupted
from deiscore import settings as platform_settings
from scheduler.spec import ReleaseSpec

log = logging.getLogger(__name__)


def one_round(sessions: sessionmaker[Session], scheduler=None, deploys: Deploys | None = None) -> list[ReleaseSpec]:
    """What one round of the loop needs from the database: the desired spec of each app, once the
    deploys whose worker died are resolved (succeeded if the router had switched, else failed)."""
    with sessions() as session:
        if deploys is not None:
            for resolved in recover_interrupted(session, scheduler, deploys):
                log.warning("interrupted deploy resolved: %s", resolved)
        return desired.specs(session)


def main(argv: list[str] | None = None) -> int:
    import docker
    from redis import Redis

    from scheduler.reconcile import run_loop
    from scheduler.scheduler import Scheduler

    parser = argparse.ArgumentParser(prog="python -m controller.reconcile", description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between rounds (default 5)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = platform_settings.load()
    if settings.scheduler != "local":
        print(f"nothing to reconcile with DEIS_SCHEDULER={settings.scheduler}: the loop runs for the local "
              "scheduler only", file=sys.stderr)
        return 2
    sessions = db.make_sessionmaker(db.make_engine(settings.database_url))
    client = docker.DockerClient(base_url=settings.docker_host) if settings.docker_host else docker.from_env()
    scheduler = Scheduler.from_settings(settings, client, host_records=desired.host_records)
    deploys = Deploys(Redis.from_url(settings.redis_url))
    run_loop(scheduler, lambda: one_round(sessions, scheduler, deploys), args.interval)
    return 0


if __name__ == "__main__":
    sys.exit(main())

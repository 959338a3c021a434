"""Desired state for the scheduler, from the controller's database: the release each app should serve
and the hosts to run them on. ``python -m controller.reconcile`` feeds both to the scheduler's
reconcile loop; the controller's own deployer uses ``host_records`` too."""
from __future__ import annotations

import functools
import logging
import os
import threading
import time

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from controller import db
from controller.models import App, Host, Release
from controller.scheduling import release_spec
from deiscore import settings as platform_settings
from scheduler.errors import InvalidSpec
from scheduler.pool import HostRecord
from scheduler.spec import ReleaseSpec

log = logging.getLogger(__name__)

SERVING = "succeeded"  # releases queued or deploying belong to their deploy job; failed ones are not served


@functools.cache
def _sessions():
    return db.make_sessionmaker(db.make_engine(platform_settings.load().database_url))


def specs(session: Session) -> list[ReleaseSpec]:
    """Each app's serving release (its newest whose deploy succeeded), for apps that have a build."""
    serving = (select(Release.app_id, func.max(Release.version).label("version"))
               .where(Release.status == SERVING).group_by(Release.app_id).subquery())
    rows = session.execute(select(App, Release).join(Release, Release.app_id == App.id)
                           .join(serving, (serving.c.app_id == Release.app_id)
                                 & (serving.c.version == Release.version)).order_by(App.name)).all()
    result = []
    for app, release in rows:
        try:
            spec = release_spec(session, app, release)
        except InvalidSpec as exc:  # one bad app must not stop the others being reconciled
            log.warning("skipping %s: %s", app.name, exc)
            continue
        if spec is not None:
            result.append(spec)
    return result


HOSTS_TTL = 1.0  # seconds a host list is reused: the scheduler asks for it on every call
_hosts_cache: dict = {"at": -HOSTS_TTL, "records": []}
_hosts_lock = threading.Lock()


def host_records() -> list[HostRecord]:
    """This machine's engine (unless DEIS_LOCAL_HOST=off) and every registered host."""
    with _hosts_lock:
        if time.monotonic() - _hosts_cache["at"] < HOSTS_TTL:
            return _hosts_cache["records"]
        with _sessions()() as session:
            rows = session.scalars(select(Host).order_by(Host.name)).all()
            records = [HostRecord(h.name, h.address, h.url, h.memory, dict(h.tags or {}), bool(h.draining))
                       for h in rows]
        if platform_settings.load().local_host:
            memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
            records.insert(0, HostRecord("local", "127.0.0.1", None, memory))
        _hosts_cache.update(at=time.monotonic(), records=records)
        return records


def forget_hosts() -> None:
    """The host table changed: the next ``host_records`` reads it afresh."""
    with _hosts_lock:
        _hosts_cache["at"] = -HOSTS_TTL

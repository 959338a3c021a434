"""Desired state of every app, for the reconcile loop:
``python -m scheduler.reconcile --desired controller.desired:specs``."""
from __future__ import annotations

import functools
import logging

from sqlalchemy import func, select

from controller import db
from controller.models import App, Release
from controller.scheduling import release_spec
from deisctl import settings as platform_settings
from scheduler.errors import InvalidSpec
from scheduler.spec import ReleaseSpec

log = logging.getLogger(__name__)


@functools.cache
def _sessions():
    return db.make_sessionmaker(db.make_engine(platform_settings.load().database_url))


def specs() -> list[ReleaseSpec]:
    """The latest release of each app that has a build."""
    with _sessions()() as session:
        newest = (select(Release.app_id, func.max(Release.version).label("version"))
                  .group_by(Release.app_id).subquery())
        rows = session.execute(select(App, Release).join(Release, Release.app_id == App.id)
                               .join(newest, (newest.c.app_id == Release.app_id)
                                     & (newest.c.version == Release.version))).all()
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

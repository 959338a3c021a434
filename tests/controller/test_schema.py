"""The controller's workers never migrate: they start on a database at the head revision only, and otherwise
say to run ``deisctl migrate`` (migrations themselves: test_migrations.py)."""
from __future__ import annotations

import pytest
from alembic import command

from controller import db
from controller.app import create_app
from deiscore import settings as platform_settings
from tests.controller.test_migrations import make_old_database


@pytest.fixture
def settings(tmp_path):
    return platform_settings.load({"DEIS_HOME": str(tmp_path / "home"), "DEIS_SCHEDULER": "off"})


def test_the_controller_refuses_an_empty_database(settings):
    with pytest.raises(db.SchemaError, match=r"is at schema revision none, this controller needs 0004: "
                                             r"run `deisctl migrate`"):
        create_app(settings)


def test_the_controller_refuses_a_database_made_before_migrations_and_leaves_it(settings):
    make_old_database(settings.database_url)
    with pytest.raises(db.SchemaError, match="revision none.*run `deisctl migrate`"):
        create_app(settings)
    assert db.upgrade(settings.database_url).stamped == "0001"  # nothing was changed by the refusal


def test_the_controller_refuses_an_older_revision_and_starts_once_migrated(settings):
    engine = db.make_engine(settings.database_url)
    with engine.begin() as conn:
        command.upgrade(db.alembic_config(conn), "0001")
    engine.dispose()
    with pytest.raises(db.SchemaError, match="is at schema revision 0001, this controller needs 0004"):
        create_app(settings)
    db.upgrade(settings.database_url)
    client = create_app(settings).test_client()
    assert client.get("/healthz").json == {"status": "ok"}
    assert client.post("/v1/auth/register", json={"username": "first", "password": "s3cret-pass"}).status_code == 201

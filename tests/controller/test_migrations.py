"""Schema migrations (Alembic), on SQLite and on a real PostgreSQL: a database made before migrations existed
(the old start-up code: ``create_all`` of the models at c617958, then columns added as models grew) is
stamped and upgraded with its rows; a migrated database is exactly the models; ``deisctl migrate`` runs once."""
from __future__ import annotations

import sqlite3
import uuid

import psycopg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import inspect, select, text

from controller import db
from controller.models import App, Base, Release
from scheduler.spec import ReleaseSpec
from deisctl.cli import cli
from tests.controller import models_c617958 as old_models


@pytest.fixture
def pg_database(postgres_url):
    """An empty database of its own on the test PostgreSQL server."""
    name = f"deis_mig_{uuid.uuid4().hex[:12]}"
    plain_url = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield postgres_url.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(plain_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'controller.db'}"
    return request.getfixturevalue("pg_database")


def differences(url: str, metadata) -> list:
    """What Alembic's autogenerate would change to make the database match ``metadata`` (nothing: equal)."""
    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            return compare_metadata(MigrationContext.configure(conn, opts={"compare_server_default": True}), metadata)
    finally:
        engine.dispose()


def run_sql(url: str, *statements: str) -> list[list[tuple]]:
    engine = db.make_engine(url)
    try:
        with engine.begin() as conn:
            results = [conn.execute(text(sql)) for sql in statements]
            return [result.fetchall() if result.returns_rows else [] for result in results]
    finally:
        engine.dispose()


def make_old_database(url: str, metadata=old_models.Base.metadata) -> None:
    """A database as the last version before migrations made it, with a user's app and two releases."""
    engine = db.make_engine(url)
    metadata.create_all(engine)
    engine.dispose()
    run_sql(url,
            "INSERT INTO users (id, username, email, password_hash, is_admin, created) "
            "VALUES (1, 'alice', 'a@example.com', 'x', true, '2026-11-01 10:00:00')",
            "INSERT INTO apps (id, name, uuid, owner_id, structure, created) "
            "VALUES (1, 'web', 'u-app', 1, '{\"web\": 2}', '2026-11-01 10:00:00')",
            "INSERT INTO configs (id, uuid, app_id, \"values\", memory, cpu, tags, created) "
            "VALUES (1, 'u-cfg', 1, '{\"A\": \"1\"}', '{}', '{}', '{}', '2026-11-01 10:00:00')",
            "INSERT INTO builds (id, uuid, app_id, image, sha, kind, procfile, created) "
            "VALUES (1, 'u-bld', 1, 'registry/web:1', 'abc', 'image', '{}', '2026-11-01 10:00:00')",
            "INSERT INTO releases (id, uuid, app_id, owner_id, version, build_id, config_id, summary, created) "
            "VALUES (1, 'u-r1', 1, 1, 1, NULL, 1, 'alice created web', '2026-11-01 10:00:00'), "
            "(2, 'u-r2', 1, 1, 2, 1, 1, 'alice deployed registry/web:1', '2026-11-01 10:01:00')")


def test_a_database_made_before_migrations_is_upgraded_and_keeps_its_rows(database_url):
    make_old_database(database_url)
    assert db.upgrade(database_url) == db.Upgrade(before=None, stamped="0001", after="0004")
    assert differences(database_url, Base.metadata) == []
    users, releases = run_sql(database_url, "SELECT username FROM users",
                              "SELECT version, summary, status, status_detail, deploy_id FROM releases ORDER BY version")
    assert users == [("alice",)]
    assert releases == [(1, "alice created web", "succeeded", None, None),  # they were served
                        (2, "alice deployed registry/web:1", "succeeded", None, None)]
    engine = db.make_engine(database_url)
    with db.make_sessionmaker(engine)() as session:  # the controller's models read them
        app = session.scalar(select(App))
        assert (app.name, app.structure, app.owner.username) == ("web", {"web": 2}, "alice")
        rows = session.scalars(select(Release).order_by(Release.version))
        assert [(r.status, r.build.image if r.build else None) for r in rows] \
            == [("succeeded", None), ("succeeded", "registry/web:1")]
    engine.dispose()
    assert db.upgrade(database_url) == db.Upgrade(before="0004", stamped=None, after="0004")


def test_a_database_whose_status_columns_the_old_code_added_is_stamped_at_their_revision(database_url):
    make_old_database(database_url, Base.metadata)  # create_all of today's models, no alembic_version
    # without the columns of later revisions, which that code never had
    run_sql(database_url, "ALTER TABLE builds DROP COLUMN port", "ALTER TABLE builds DROP COLUMN entrypoint",
            "ALTER TABLE builds DROP COLUMN release_command", "ALTER TABLE builds DROP COLUMN app_json",
            "ALTER TABLE releases DROP COLUMN image")
    assert db.upgrade(database_url) == db.Upgrade(before=None, stamped="0002", after="0004")
    assert differences(database_url, Base.metadata) == []
    assert run_sql(database_url, "SELECT count(*) FROM releases") == [[(2,)]]


def test_migrations_make_exactly_the_models_and_the_baseline_is_the_schema_before_them(database_url):
    assert db.upgrade(database_url) == db.Upgrade(before=None, stamped=None, after="0004")
    assert differences(database_url, Base.metadata) == []
    engine = db.make_engine(database_url)
    with engine.begin() as conn:  # down to the baseline: the models of c617958
        command.downgrade(db.alembic_config(conn), "0001")
    assert differences(database_url, old_models.Base.metadata) == []
    with engine.begin() as conn:
        command.downgrade(db.alembic_config(conn), "base")
        assert set(inspect(conn).get_table_names()) == {"alembic_version"}
    engine.dispose()


def test_builds_from_before_0003_keep_running_on_port_5000_with_sh(database_url):
    """0002 -> 0003 adds the builds' image port and ENTRYPOINT flag, NULL for existing builds: their
    releases run as before (web port 5000, Procfile commands through sh -c, the image's command as cmd)."""
    engine = db.make_engine(database_url)
    with engine.begin() as conn:
        command.upgrade(db.alembic_config(conn), "0002")
    engine.dispose()
    make_old_database(database_url)  # its rows, into the tables 0002 made (create_all skips existing ones)
    run_sql(database_url, "UPDATE builds SET procfile = '{\"cmd\": \"\"}'")
    assert db.upgrade(database_url) == db.Upgrade(before="0002", stamped=None, after="0004")
    assert differences(database_url, Base.metadata) == []
    engine = db.make_engine(database_url)
    with db.make_sessionmaker(engine)() as session:
        release = session.scalar(select(Release).where(Release.version == 2))
        assert (release.build.port, release.build.entrypoint) == (None, None)
        spec = ReleaseSpec(app="web", version=2, **release.build.spec_fields(), scale={"cmd": 1})
        assert (spec.port, spec.entrypoint, spec.web_type, spec.has_type("cmd")) == (5000, False, "cmd", True)
    engine.dispose()


def test_a_database_older_than_the_baseline_is_refused_and_left_unchanged(tmp_path):
    url = f"sqlite:///{tmp_path / 'controller.db'}"
    make_old_database(url)
    run_sql(url, "DROP TABLE login_attempts")  # as versions before login rate limits made it
    with pytest.raises(db.SchemaError, match="older than their baseline.*login_attempts"):
        db.upgrade(url)
    tables = {row[0] for row in sqlite3.connect(tmp_path / "controller.db").execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "alembic_version" not in tables and "login_attempts" not in tables
    assert "status" not in {row[1] for row in sqlite3.connect(tmp_path / "controller.db").execute(
        "PRAGMA table_info(releases)")}


def test_deisctl_migrate_upgrades_once_then_has_nothing_to_do(tmp_path):
    home = tmp_path / "home"
    env = {"DEIS_HOME": str(home), "DEIS_DATABASE_URL": None}
    first = CliRunner().invoke(cli, ["migrate"], env=env)
    assert first.exit_code == 0, first.output
    assert first.output == f"{'database':<12} migrated from an empty database to 0004\n"

    def schema():
        return sorted(sqlite3.connect(home / "controller.db").execute("SELECT type, name, sql FROM sqlite_master"))

    before = schema()
    second = CliRunner().invoke(cli, ["migrate"], env=env)
    assert second.exit_code == 0, second.output
    assert second.output == f"{'database':<12} at 0004, nothing to do\n"
    assert schema() == before
    assert sqlite3.connect(home / "controller.db").execute("SELECT version_num FROM alembic_version").fetchall() \
        == [("0004",)]


def test_deisctl_migrate_says_why_it_did_not(tmp_path):
    home = tmp_path / "home"
    url = f"sqlite:///{home / 'controller.db'}"
    make_old_database(url)
    run_sql(url, "ALTER TABLE releases ADD COLUMN status VARCHAR(16)")  # one column of three
    result = CliRunner().invoke(cli, ["migrate"], env={"DEIS_HOME": str(home), "DEIS_DATABASE_URL": None})
    assert result.exit_code == 1
    assert "database: not migrated" in result.output and "only some of the columns" in result.output

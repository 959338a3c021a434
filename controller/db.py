"""Database engine and sessions: a SQLite file (WAL) by default, any SQLAlchemy URL otherwise; the schema
and its migrations (Alembic)."""
from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from controller.errors import Conflict
from controller.models import Base

WRITE = {"deis_write": True}


def make_engine(url: str, lock_path: Path | None = None) -> Engine:
    if url.startswith("sqlite"):
        database = url.partition(":///")[2]
        if database and database != ":memory:":
            private_database_files(Path(database))
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        _sqlite_transactions(engine, lock_path or Path(database + ".write-lock"))
    else:
        engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
    return engine


def private_database_files(database: Path) -> None:
    """The SQLite file readable by the platform only (0600), whoever's umask made it: SQLite gives
    the ``-wal`` and ``-shm`` files it creates the database file's mode; existing ones are set too."""
    database.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(database, os.O_WRONLY | os.O_CREAT, 0o600))
    for path in (database, *(database.with_name(database.name + suffix) for suffix in ("-wal", "-shm", ".write-lock"))):
        try:
            os.chmod(path, 0o600)
        except FileNotFoundError:
            pass


def _sqlite_transactions(engine: Engine, lock_path: Path) -> None:
    """WAL mode, and writers that take the write lock up front.

    pysqlite's default deferred transactions let two writers read the same state and then
    collide on upgrade; ``BEGIN IMMEDIATE`` for write transactions serializes them instead,
    which is what keeps release versions gap-free and config updates lossless. Writers first
    queue on an flock, which wakes the next one the moment the lock is free, where SQLite's own
    busy handler would sleep in steps of up to 100 ms (the p99 of config:set showed it).
    """

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, record):
        record.info["write_lock"] = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn):
        if conn.get_execution_options().get("deis_write"):
            fcntl.flock(conn.connection.info["write_lock"], fcntl.LOCK_EX)
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")

    @event.listens_for(engine, "checkin")
    def on_checkin(_dbapi_connection, record):
        fcntl.flock(record.info["write_lock"], fcntl.LOCK_UN)

    @event.listens_for(engine, "close")
    def on_close(_dbapi_connection, record):
        os.close(record.info.pop("write_lock"))


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


class SchemaError(RuntimeError):
    """The database's schema is not the one this code needs (the controller refuses to start), or cannot
    be migrated to it."""


# Alembic, configured in code: revisions in controller/migrations/versions, run by ``upgrade`` on a
# connection it hands to migrations/env.py. Only ``upgrade`` (``deisctl migrate``, ``deisctl up``) changes
# the schema; the controller's workers only check it.
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
BASELINE = "0001"  # the schema of the last version before Alembic (c617958)
# Columns that version's start-up code may have added to a database already (it added every column
# missing from the models): such a database is at this revision, not at the baseline.
RELEASE_STATUS = ("0002", "releases", {"status", "status_detail", "deploy_id"})


class Upgrade(NamedTuple):
    before: str | None  # the revision the database was at (None: no schema, or made before Alembic)
    stamped: str | None  # for a database made before Alembic: the revision its tables matched
    after: str


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def check_schema(engine: Engine) -> None:
    """Refuse to serve a database whose schema is not this version's."""
    with engine.connect() as conn:
        current = current_revision(conn)
    head = head_revision()
    if current != head:
        where = engine.url.render_as_string(hide_password=True)
        raise SchemaError(f"the database {where} is at schema revision {current or 'none'}, this controller "
                          f"needs {head}: run `deisctl migrate`")


def upgrade(url: str) -> Upgrade:
    """Migrate the database to the head revision, in one transaction that holds the database's write lock.

    A database made before Alembic (the platform's tables, no ``alembic_version``) is first stamped with the
    revision its tables match, and checked against the models once upgraded: one older than the baseline
    is refused and left as it was.
    """
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            conn.execution_options(**WRITE)
            with conn.begin():
                if conn.dialect.name == "postgresql":  # two `deisctl migrate` at once: one waits
                    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('deis schema migration'))"))
                before = current_revision(conn)
                stamped = None
                config = alembic_config(conn)
                if before is None and set(inspect(conn).get_table_names()) & set(Base.metadata.tables):
                    stamped = _pre_alembic_revision(conn)
                    command.stamp(config, stamped)
                command.upgrade(config, "head")
                if stamped is not None:
                    differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
                    if differences:
                        raise SchemaError(f"the database was made before migrations by a version older than "
                                          f"their baseline (c617958), and differs from it: {differences}; "
                                          "it is left unchanged")
                return Upgrade(before, stamped, current_revision(conn))
    finally:
        engine.dispose()


def _pre_alembic_revision(conn: Connection) -> str:
    revision, table, columns = RELEASE_STATUS
    if not inspect(conn).has_table(table):
        raise SchemaError(f"the database has some of the platform's tables but no {table!r}: "
                          "not one a controller made; it is left unchanged")
    present = columns & {column["name"] for column in inspect(conn).get_columns(table)}
    if present == columns:
        return revision
    if not present:
        return BASELINE
    raise SchemaError(f"the database was made before migrations and has only some of the columns "
                      f"{sorted(columns)} of {table}: {sorted(present)}; it is left unchanged")


def begin_write(session: Session) -> None:
    """Start the session's transaction as a writer (see ``_sqlite_transactions``)."""
    session.connection(execution_options=WRITE)


def lock_table(session: Session, table: str) -> None:
    """Serialize this table's writers until commit, for checks that span rows (e.g. "is this the first user?").

    SQLite writers are serialized already; on PostgreSQL, SHARE ROW EXCLUSIVE conflicts with itself and
    with inserts but not with plain reads.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f'LOCK TABLE "{table}" IN SHARE ROW EXCLUSIVE MODE'))


@contextmanager
def unique_or_conflict(session: Session, conflict: str):
    """Inserts and commit; a unique name lost to a concurrent request is a 409 ``conflict``, not a 500.

    The checks before the insert catch the usual duplicates; this catches the race between the check and
    the commit (on PostgreSQL the second INSERT waits for the first transaction, then fails).
    """
    try:
        yield
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict(conflict) from None

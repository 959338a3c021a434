"""Database engine and sessions: a SQLite file (WAL) by default, any SQLAlchemy URL otherwise."""
from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, event, inspect, literal, text
from sqlalchemy.engine import Engine
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


def init_schema(engine: Engine) -> None:
    """Create missing tables, and add the columns a newer version brought to existing ones.

    The schema only grows: a new column is nullable or has a constant default, which rows written
    by an older version get. (Callers hold a lock, so two processes never migrate at once.)
    """
    Base.metadata.create_all(engine)
    existing = inspect(engine)
    with engine.begin() as conn:
        for table in Base.metadata.sorted_tables:
            present = {column["name"] for column in existing.get_columns(table.name)}
            for column in table.columns:
                if column.name not in present:
                    conn.execute(text(add_column_sql(engine.dialect, table.name, column)))


def add_column_sql(dialect, table: str, column) -> str:
    """``ALTER TABLE ... ADD COLUMN`` for a column added to a model after its table was created."""
    sql = f'ALTER TABLE "{table}" ADD COLUMN "{column.name}" {column.type.compile(dialect=dialect)}'
    default = column.default.arg if column.default is not None and column.default.is_scalar else None
    if default is not None:
        value = literal(default, column.type).compile(dialect=dialect, compile_kwargs={"literal_binds": True})
        sql += f" DEFAULT {value}"
    if not column.nullable:
        if default is None:
            raise RuntimeError(f"cannot add {table}.{column.name} to an existing database: "
                               "a new column must be nullable or have a constant default")
        sql += " NOT NULL"
    return sql


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

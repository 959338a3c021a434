"""Database engine and sessions: a SQLite file (WAL) by default, any SQLAlchemy URL otherwise."""
from __future__ import annotations

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from controller.models import Base

WRITE = {"deis_write": True}


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        _sqlite_transactions(engine)
    else:
        engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
    return engine


def _sqlite_transactions(engine: Engine) -> None:
    """WAL mode, and writers that take the write lock up front.

    pysqlite's default deferred transactions let two writers read the same state and then
    collide on upgrade; ``BEGIN IMMEDIATE`` for write transactions serializes them instead,
    which is what keeps release versions gap-free and config updates lossless.
    """

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn):
        immediate = conn.get_execution_options().get("deis_write")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def init_schema(engine: Engine) -> None:
    """Create missing tables (the schema is additive so far; new tables appear on start)."""
    Base.metadata.create_all(engine)


def begin_write(session: Session) -> None:
    """Start the session's transaction as a writer (see ``_sqlite_transactions``)."""
    session.connection(execution_options=WRITE)

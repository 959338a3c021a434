"""Schema migration on start: a database written by an older version gets the tables and columns
a newer one added, and its rows keep working."""
from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import Boolean, Column, Integer, MetaData, String, Table, select
from sqlalchemy.dialects import postgresql

from controller import db
from controller.models import Base, Host


def test_an_older_database_gets_new_tables_and_columns(tmp_path):
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)  # the hosts table as it was before `draining`; no other table yet
    old.execute("CREATE TABLE hosts (id INTEGER PRIMARY KEY, name VARCHAR(64) NOT NULL, url VARCHAR(300) NOT NULL, "
                "address VARCHAR(255) NOT NULL, port INTEGER NOT NULL, username VARCHAR(64) NOT NULL, "
                "host_key TEXT NOT NULL, memory BIGINT NOT NULL, tags JSON NOT NULL, created DATETIME)")
    old.execute("INSERT INTO hosts (name, url, address, port, username, host_key, memory, tags, created) VALUES "
                "('h1', 'ssh://core@10.0.0.1', '10.0.0.1', 22, 'core', 'ssh-ed25519 AAAA', 1024, '{}', "
                "'2026-11-01 10:00:00')")
    old.commit()
    old.close()

    engine = db.make_engine(f"sqlite:///{path}")
    db.init_schema(engine)
    db.init_schema(engine)  # a second start finds nothing to do
    with db.make_sessionmaker(engine)() as session:
        host = session.scalar(select(Host))
        assert host.name == "h1" and host.draining is False
    columns = {row[1] for row in sqlite3.connect(path).execute("PRAGMA table_info(hosts)")}
    assert columns == {c.name for c in Base.metadata.tables["hosts"].columns}
    assert {"users", "apps", "releases"} <= {row[0] for row in sqlite3.connect(path).execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_add_column_sql_per_dialect():
    table = Table("t", MetaData(), Column("id", Integer, primary_key=True),
                  Column("flag", Boolean, nullable=False, default=False), Column("note", String(20)),
                  Column("name", String(20), nullable=False))
    sql = db.add_column_sql(postgresql.dialect(), "t", table.c.flag)
    assert sql == 'ALTER TABLE "t" ADD COLUMN "flag" BOOLEAN DEFAULT false NOT NULL'
    assert db.add_column_sql(postgresql.dialect(), "t", table.c.note) == 'ALTER TABLE "t" ADD COLUMN "note" VARCHAR(20)'
    with pytest.raises(RuntimeError, match="must be nullable or have a constant default"):
        db.add_column_sql(postgresql.dialect(), "t", table.c.name)

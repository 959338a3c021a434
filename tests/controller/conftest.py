"""Controller fixtures: a real PostgreSQL server, and a controller that keeps its state in it."""
from __future__ import annotations

import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

from deiscore.processes import free_port, port_answers, spawn, stop_pid, wait_for
from tests.conftest import start_controller

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _as_postgres(*argv: str) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv]


def _accepts_connections(url: str) -> bool:
    import psycopg

    try:
        psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), connect_timeout=2).close()
    except psycopg.OperationalError:
        return False
    return True


@pytest.fixture(scope="session")
def postgres_url():
    """A throwaway PostgreSQL 15 cluster on a free loopback port (trust auth), run as the postgres user.

    PostgreSQL refuses to run as root, and pytest's tmp dirs are private to root, so the cluster lives
    in its own directory under /tmp owned by ``postgres``.
    """
    if not (PG_BIN / "postgres").exists():
        pytest.fail("PostgreSQL 15 server is not installed (apt-get install postgresql-15)")
    root = Path(tempfile.mkdtemp(prefix="deis-pg-"))
    shutil.chown(root, "postgres", "postgres")
    data, sockets = root / "data", root / "sockets"
    subprocess.run(_as_postgres("mkdir", str(data), str(sockets)), check=True)
    subprocess.run(_as_postgres(str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                                "--encoding=UTF8", "--locale=C.UTF-8"),
                   check=True, capture_output=True)
    port = free_port()
    proc = spawn(_as_postgres(str(PG_BIN / "postgres"), "-D", str(data), "-p", str(port),
                              "-h", "127.0.0.1", "-k", str(sockets), "-c", "fsync=off",
                              "-c", "max_connections=200"),
                 root / "postgres.log")
    try:
        url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
        # the port answers while the server is still starting up ("the database system is starting up")
        wait_for(lambda: port_answers(port) and _accepts_connections(url), 30, "postgres", process=proc)
        yield url
    finally:
        stop_pid(proc.pid)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def pg_controller(postgres_url, tmp_path_factory):
    """A gunicorn controller (2 workers) whose database is the PostgreSQL server."""
    home = tmp_path_factory.mktemp("deis-home-pg")
    ctl, proc = start_controller(home, extra_env={"DEIS_DATABASE_URL": postgres_url})
    try:
        yield ctl
    finally:
        stop_pid(proc.pid)


@pytest.fixture
def fresh_pg_controller(postgres_url, tmp_path):
    """A controller on its own, empty PostgreSQL database (for tests about the first user, or counting rows)."""
    import psycopg

    name = f"deis_{uuid.uuid4().hex[:12]}"
    plain_url = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    home = tmp_path / "deis-home"
    home.mkdir()
    ctl, proc = start_controller(home, extra_env={"DEIS_DATABASE_URL": postgres_url.rsplit("/", 1)[0] + "/" + name},
                                 workers=4)
    try:
        yield ctl
    finally:
        stop_pid(proc.pid)


@pytest.fixture(scope="module")
def sqlite_controller(tmp_path_factory):
    """A controller on SQLite with four gunicorn workers: four processes sharing one database file."""
    home = tmp_path_factory.mktemp("deis-home-sqlite4")
    ctl, proc = start_controller(home, workers=4)
    try:
        yield ctl
    finally:
        stop_pid(proc.pid)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def any_db_controller(request):
    """A controller per database backend, shared by the module's tests."""
    return request.getfixturevalue("sqlite_controller" if request.param == "sqlite" else "pg_controller")


@pytest.fixture(params=["sqlite", "postgres"])
def empty_db_controller(request, tmp_path):
    """A fresh controller (four workers) on an empty database of each backend."""
    if request.param == "postgres":
        return request.getfixturevalue("fresh_pg_controller")
    home = tmp_path / "deis-home"
    home.mkdir()
    ctl, proc = start_controller(home, workers=4)
    request.addfinalizer(lambda: stop_pid(proc.pid))
    return ctl

"""Databases for the tests: a fresh, empty one per test (fixtures `db_url`, `new_db` in conftest.py).

By default it is a SQLite file in the test's tmp_path. With XIETONG_TEST_DB set to a PostgreSQL
URL (`postgresql+psycopg://user@host:port/dbname`, a database the user may connect to and
create databases from) each test gets a database of its own on that server, dropped afterwards:
`.ci/run` runs the whole suite once on SQLite and once more that way.

    def test_something(db_url): ...          # a URL for --db or make_engine
    def test_two(new_db): a, b = new_db(), new_db()
    db_state(url)                            # fingerprint: "the database is exactly as it was"
"""
from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

TEST_DB = os.environ.get("XIETONG_TEST_DB", "").strip()
ON_POSTGRES = TEST_DB.startswith("postgresql")

sqlite_only = pytest.mark.skipif(ON_POSTGRES, reason="needs SQLite's file (XIETONG_TEST_DB is PostgreSQL)")
postgres_only = pytest.mark.skipif(not ON_POSTGRES, reason="needs XIETONG_TEST_DB=postgresql+psycopg://…")


def _admin():
    return sa.create_engine(TEST_DB, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


def create_database() -> str:
    """A new empty PostgreSQL database on the XIETONG_TEST_DB server; its URL."""
    name = f"xt_{uuid.uuid4().hex[:20]}"
    with _admin().connect() as c:
        c.exec_driver_sql(f'CREATE DATABASE "{name}"')
    return sa.engine.make_url(TEST_DB).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    name = sa.engine.make_url(url).database
    with _admin().connect() as c:
        c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def db_state(url: str) -> str:
    """A fingerprint of everything stored. SQLite: the bytes of the file and its WAL (the
    strictest test there is). PostgreSQL: every table's rows in key order (`db_content`)."""
    u = sa.engine.make_url(url)
    if u.get_backend_name() == "sqlite":
        h = hashlib.sha256()
        for suffix in ("", "-wal"):
            p = Path(str(u.database) + suffix)
            h.update(p.read_bytes() if p.exists() else b"-")
        return h.hexdigest()
    return db_content(url)


def db_content(url: str) -> str:
    """A fingerprint of every table's rows in key order, on any backend. After a process was
    killed mid-transaction SQLite's files may hold uncommitted WAL frames that the next
    connection discards, so "nothing was stored" is a statement about content, not bytes."""
    h = hashlib.sha256()
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as c:
            names = sorted(sa.inspect(c).get_table_names())
            for name in names:
                h.update(name.encode() + b"\n")
                for row in c.exec_driver_sql(f'SELECT * FROM "{name}" ORDER BY 1'):
                    h.update(repr(tuple(row)).encode("utf-8") + b"\n")
    finally:
        engine.dispose()
    return h.hexdigest()


def clone_database(url: str, new_sqlite_path: Path | None = None) -> str:
    """A copy of a database nobody is connected to: a file copy on SQLite (its WAL must be
    checkpointed: every engine disposed), CREATE DATABASE … TEMPLATE on PostgreSQL."""
    u = sa.engine.make_url(url)
    if u.get_backend_name() == "sqlite":
        import shutil
        assert new_sqlite_path is not None
        shutil.copyfile(u.database, new_sqlite_path)
        return f"sqlite:///{new_sqlite_path}"
    name = f"xt_{uuid.uuid4().hex[:20]}"
    with _admin().connect() as c:
        c.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{u.database}"')
    return u.set(database=name).render_as_string(hide_password=False)

"""Fixtures shared by the tests. Databases: see tests/dbs.py (SQLite by default, PostgreSQL with
XIETONG_TEST_DB)."""
from __future__ import annotations

import pytest

from tests.dbs import ON_POSTGRES, create_database, drop_database


@pytest.fixture
def new_db(tmp_path):
    """new_db(name="x") -> the URL of a new, empty database (created on first connection)."""
    created: list[str] = []

    def make(name: str = "x") -> str:
        if not ON_POSTGRES:
            return f"sqlite:///{tmp_path / (name + '.db')}"
        url = create_database()
        created.append(url)
        return url

    yield make
    for url in created:
        drop_database(url)


@pytest.fixture
def db_url(new_db) -> str:
    return new_db()

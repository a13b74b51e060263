"""A database written before the desk existed still verifies, takes the new columns at start-up,
and then records accounts in the chain (docs/decisions.md "Who changed it").

The old database is made with today's code path (import, evaluate, a returned review workbook's
decision) and then given back the old schema: the `account` columns and the run's
`other_imports` (SPEC §11.5–§11.9) and the checkpoint's `run_id` (SPEC §10.8) dropped, as they were before. Its chain links are compared with hashes recomputed here by the old rule (every field
but the id), so nothing of the new code decides what an old record's hash is.
"""
from __future__ import annotations

import hashlib
from datetime import datetime

import sqlalchemy as sa

import xietong
from evaluator.canonical import canonical_json
from evaluator.db import iso_utc
from tests import desk_support
from tests.ledgers import PERIOD

# the tables whose records gained an `account` column with the desk
ACCOUNT_TABLES = ("ledger_import", "import_activation", "run", "decision")


def _old_run_content(row: dict) -> dict:
    """A run's chained content as the code before the desk wrote it: every column but id."""
    def when(v):      # SQLite's driver hands the stored text back
        return iso_utc(datetime.fromisoformat(v) if isinstance(v, str) else v)
    return {k: (when(v) if k in ("started_at", "finished_at") else v)
            for k, v in row.items() if k != "id"}


def test_an_old_database_migrates_and_still_verifies(tmp_path):
    url = desk_support.new_url(tmp_path)
    try:
        d = desk_support.build(tmp_path, url, accounts={})
        d.app.state.db.close()
        with xietong.open_database(url) as db:
            xietong.api.decide(db, PERIOD, d.own, "confirm", "kept", reviewer_id="E1",
                               account=None)
        engine = sa.create_engine(url)
        with engine.begin() as c:
            for table in ACCOUNT_TABLES:
                c.exec_driver_sql(f'ALTER TABLE "{table}" DROP COLUMN account')
            c.exec_driver_sql('ALTER TABLE "run" DROP COLUMN other_imports')
            c.exec_driver_sql('ALTER TABLE "checkpoint" DROP COLUMN run_id')
            links_before = c.exec_driver_sql(
                "SELECT seq, record_type, record_id, prev_hash, hash FROM chain_link ORDER BY seq").all()
            run = c.exec_driver_sql("SELECT * FROM run").mappings().one()
            run_link = c.exec_driver_sql(
                "SELECT prev_hash, hash FROM chain_link WHERE record_type = 'run'").one()
            cols = {t: [r[1] for r in c.exec_driver_sql(f'PRAGMA table_info("{t}")')]
                    for t in ACCOUNT_TABLES} if url.startswith("sqlite") else None
        engine.dispose()
        if cols is not None:
            assert all("account" not in names for names in cols.values())
        # the run's link is the old rule's hash of its content
        text = run_link[0] + canonical_json(_old_run_content(dict(run)))
        assert hashlib.sha256(text.encode("utf-8")).hexdigest() == run_link[1]

        # today's code opens it: the columns come back (NULL), the chain verifies unchanged
        with xietong.open_database(url) as db:
            result = xietong.verify(db)
            assert result.ok, result.problem
            assert result.head_hash == links_before[-1][4]
            xietong.api.add_account(db, "hr", "hr", "password-1")
        engine = sa.create_engine(url)
        with engine.connect() as c:
            for table in ACCOUNT_TABLES:
                assert c.exec_driver_sql(f'SELECT count(*) FROM "{table}" WHERE account IS NOT NULL'
                                         ).scalar() == 0
            assert c.exec_driver_sql('SELECT count(*) FROM "run" WHERE other_imports IS NOT NULL'
                                     ).scalar() == 0
            assert c.exec_driver_sql('SELECT count(*) FROM "checkpoint" WHERE run_id IS NOT NULL'
                                     ).scalar() == 0
        engine.dispose()

        # a desk account's change is chained with its name, and everything verifies
        from xietong.desk.app import create_app
        from xietong.desk.common import Settings
        app = create_app(Settings(db_url=url, data_dir=tmp_path / "data2", secret_key="k"))
        (tmp_path / "data2").mkdir()
        c = desk_support.TestClient(app, follow_redirects=False)
        r = c.post("/api/login", json={"username": "hr", "password": "password-1"})
        token = r.json()["csrf_token"]
        r = c.post(f"/api/periods/{PERIOD}/reviews/{d.own}/decision",
                   headers={"X-CSRF-Token": token}, json={"decision": "overturn", "comment": "new"})
        assert r.status_code == 200 and r.json()["decision"]["account"] == "hr"
        app.state.db.close()
        with xietong.open_database(url) as db:
            result = xietong.verify(db)
            assert result.ok, result.problem
            # the first verify's checkpoint (SPEC §10.8), then the decision
            assert result.checked == len(links_before) + 2
        engine = sa.create_engine(url)
        with engine.connect() as c:
            assert c.exec_driver_sql(
                "SELECT seq, record_type, record_id, prev_hash, hash FROM chain_link "
                "WHERE seq <= %d ORDER BY seq" % len(links_before)).all() == links_before
        engine.dispose()
    finally:
        desk_support.forget(url)

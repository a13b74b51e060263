"""`xietong.firings` and `xietong.ledger_rows` read from the database in batches as they are
consumed (evaluator.runs.iter_firings / iter_ledger_rows): in any batch size, what they give is
exactly what the whole-run readers give (load_run's firings, trace.json; load_rows' sheets), on
SQLite and, with XIETONG_TEST_DB, on PostgreSQL (a server-side cursor there)."""
from __future__ import annotations

import json

import pytest
from sqlmodel import Session

import xietong
from evaluator.db import reader
from evaluator.runs import iter_firings, iter_ledger_rows, latest_run, load_run
from evaluator.store import active_import, load_rows
from importers.schema import SHEETS

PERIOD = "2026-11"


@pytest.fixture(scope="module")
def company(tmp_path_factory):
    """A 60-employee sample company run once: several hundred firings, many rows per sheet."""
    from tests.dbs import ON_POSTGRES, create_database, drop_database
    tmp = tmp_path_factory.mktemp("stream")
    url = create_database() if ON_POSTGRES else f"sqlite:///{tmp / 'x.db'}"
    ledger = xietong.write_sample_ledger(tmp / "ledger.xlsx", employees=60, period=PERIOD, lang="en")
    with xietong.open_database(url) as db:
        xietong.import_ledger(db, ledger, PERIOD)
        xietong.evaluate(db, PERIOD)
        xietong.report(db, PERIOD, tmp / "out", formats=("json",))
        yield db, tmp / "out"
    if ON_POSTGRES:
        drop_database(url)


@pytest.mark.parametrize("batch", [1, 7, 5000])
def test_firings_in_batches_are_the_whole_runs_firings(company, batch):
    db, _ = company
    with Session(reader(db.engine)) as s, s.begin():
        run = latest_run(s, PERIOD)
        whole = load_run(s, run)["firings"]
        streamed = list(iter_firings(s, run.id, batch=batch))
    assert len(whole) > 300
    assert streamed == whole


def test_the_api_firings_are_trace_json(company):
    db, out = company
    trace = json.loads((out / "trace.json").read_text("utf-8"))
    assert list(xietong.firings(db, PERIOD)) == trace


@pytest.mark.parametrize("batch", [1, 7, 5000])
def test_ledger_rows_in_batches_are_the_stored_sheets(company, batch):
    db, _ = company
    with Session(reader(db.engine)) as s, s.begin():
        imp = active_import(s, PERIOD)
        whole = load_rows(s, imp.id)
        for sheet in SHEETS:
            assert list(iter_ledger_rows(s, imp.id, sheet.name, batch=batch)) == whole[sheet.name]
    assert sum(len(v) for v in whole.values()) > 300
    assert list(xietong.ledger_rows(db, PERIOD, "Behaviours")) == whole["Behaviours"]


def test_a_half_read_iterator_leaves_the_database_usable(company):
    db, _ = company
    firings = xietong.firings(db, PERIOD)
    first = [next(firings) for _ in range(3)]
    assert [f["seq"] for f in first] == [1, 2, 3]
    firings.close()                              # the caller stops early: the read ends
    assert xietong.verify(db, PERIOD).ok

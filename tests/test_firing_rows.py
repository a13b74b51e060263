"""A run's firings' rows made in a process of their own while the run process inserts them
(evaluator.firing_rows.streamed), or in the run process (`streamed(..., apart=False)`): the
same rows, links and gathered facts either way; a maker that raises or dies fails the store
and leaves the database as it was; progress is told as chunks are inserted.

Expected values: the worked example's 22 firings (README: "run #1, 22 firings"), and its
firings stored by the run process itself (the path every earlier test pinned: test_chain_fast's
hashes).
"""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from evaluator import firing_rows
from evaluator.db import Firing, make_engine
from evaluator.runs import EvaluationFailed, evaluate_period
from evaluator.store import store_import
from reports.facts import Gathering
from rules.context import TraceEntry
from rules.policy import load_policy
from tests.dbs import db_state
from tests.ledgers import PERIOD, worked_example

POLICY = load_policy()
WORKED_EXAMPLE_FIRINGS = 22


@pytest.fixture
def apart(monkeypatch):
    """Every run's firings made apart (two workers, no minimum), two firings a chunk."""
    monkeypatch.setattr(firing_rows, "APART_MIN", 0)
    monkeypatch.setattr(firing_rows, "CHUNK", 2)
    monkeypatch.setenv("XIETONG_WORKERS", "2")


def _stored(db_url):
    engine = make_engine(db_url)
    store_import(engine, worked_example().build(), PERIOD)
    return engine


def _firings_and_links(engine):
    with engine.connect() as c:
        f = Firing.__table__
        firings = [tuple(r) for r in c.execute(sa.select(f.c.id, f.c.seq, f.c.rule,
                                                         f.c.subject_id, f.c.sources,
                                                         f.c.outcome).order_by(f.c.id))]
        links = [tuple(r) for r in c.execute(sa.text(
            "SELECT seq, record_type, record_id FROM chain_link ORDER BY seq"))]
    return firings, links


def _facts(facts):
    return (facts.count, facts.rules, facts.sheets, list(facts.cited_keys), facts.kept,
            {k: list(v) for k, v in facts.held.items()}, facts.deadline_tail)


def test_rows_made_apart_are_the_rows_made_here(new_db, monkeypatch):
    """The same ledger evaluated twice, into two databases: made here, then made apart — the
    same firing rows and links, and the same facts gathered for the report (22 firings)."""
    here_url, apart_url = new_db("here"), new_db("apart")
    got = {}
    for url, is_apart in ((here_url, False), (apart_url, True)):
        with monkeypatch.context() as m:
            if is_apart:
                m.setattr(firing_rows, "APART_MIN", 0)
                m.setattr(firing_rows, "CHUNK", 3)
                m.setenv("XIETONG_WORKERS", "2")
            else:
                m.setenv("XIETONG_WORKERS", "1")
            engine = _stored(url)
            gathering = Gathering()
            outcome = evaluate_period(engine, PERIOD, POLICY, gathering=gathering)
            got[is_apart] = (_firings_and_links(engine), _facts(outcome.firing_facts))
            # made apart, the facts were gathered by the child: this process's gathering
            # was never fed
            assert (gathering._count == 0) is is_apart
    assert got[True] == got[False]
    (firings, links), facts = got[True]
    assert len(firings) == WORKED_EXAMPLE_FIRINGS == facts[0]
    # the import, its activation and the run come first; then the firings, in seq order
    assert links[:3] == [(1, "import", 1), (2, "activation", 1), (3, "run", 1)]
    assert links[3:3 + WORKED_EXAMPLE_FIRINGS] == [
        (3 + k, "firing", k) for k in range(1, WORKED_EXAMPLE_FIRINGS + 1)]


def test_progress_is_told_as_chunks_are_stored(db_url, apart):
    engine = _stored(db_url)
    told = []
    evaluate_period(engine, PERIOD, POLICY,
                    progress=lambda phase, done, total, *rest: told.append((done, total))
                    if phase == "persist" else None)
    n = WORKED_EXAMPLE_FIRINGS
    assert told == [(0, n)] + [(k, n) for k in range(2, n + 1, 2)] + [(n, n)]


def test_a_maker_that_dies_fails_the_run_and_stores_nothing(db_url, apart, monkeypatch):
    engine = _stored(db_url)
    before = db_state(db_url)
    monkeypatch.setenv("XIETONG_FAULT", "kill:render")
    with pytest.raises(EvaluationFailed, match=r"^the process making the firings' rows to "
                                               r"store crashed \(signal SIGKILL\); nothing of "
                                               r"the run was stored$"):
        evaluate_period(engine, PERIOD, POLICY, lang="en")
    assert db_state(db_url) == before
    with pytest.raises(EvaluationFailed, match=r"^为保存而生成规则触发记录的进程崩溃"):
        evaluate_period(engine, PERIOD, POLICY, lang="zh")
    assert db_state(db_url) == before


def test_a_maker_that_raises_fails_the_run_and_stores_nothing(db_url, apart, monkeypatch):
    """Firings out of seq order: what the store refuses in the run process is refused by the
    maker apart too, its error passed on."""
    engine = _stored(db_url)
    before = db_state(db_url)
    real = firing_rows.made

    def swapped(trace, *args, **kw):
        entries = list(trace.fields())
        entries[0], entries[1] = entries[1], entries[0]
        return real(entries, *args, **kw)

    monkeypatch.setattr(firing_rows, "made", swapped)
    with pytest.raises(EvaluationFailed, match=r"^RuntimeError: firing 1 stored after firing 2$"):
        evaluate_period(engine, PERIOD, POLICY)
    assert db_state(db_url) == before


class Label(str):
    """A str subclass: marshal refuses it."""


def test_a_chunk_marshal_cannot_send_goes_pickled():
    """A value marshal refuses (a str subclass: a test's, say) is sent pickled, as it was."""
    trace = [TraceEntry(1, "rating.accept", Label("D1"), [("InternalRatings", 2)], {}),
             TraceEntry(2, "rating.count", "D1", [("InternalRatings", 2)], {})]
    here = list(firing_rows.made(trace, [], 7, "0" * 64))
    made = firing_rows.streamed(trace, [], 7, "0" * 64)
    try:
        there = list(made)
    finally:
        made.cancel()
    assert there == here
    assert type(there[0][0][2][0]) is Label
    assert [c[0] for c in here[0][0]] == [1, "rating.accept", "D1", '[["InternalRatings",2]]',
                                         "{}"]

"""The audit chain's fast paths (evaluator/chain.py, evaluator/store.py, evaluator/canonical.py)
against what they replace.

* Pinned hashes: a small ledger and a run's records written with fixed timestamps give exactly
  the row hashes, stored texts and chain hashes that earlier code wrote (the values below were
  computed by it), and verify accepts them: a database written before still verifies.
* The hand-written canonical text of a ledger row (canonical.row_text) equals the json.dumps it
  replaced, over generated rows of every column type, and is the path taken for them.
* One decimal_text spells every hashed Decimal, the policy fingerprint's shortest form included.
* The raw SQLite paths (BulkInsert, _scan) store and read back exactly what SQLAlchemy Core does.

On SQLite and, with XIETONG_TEST_DB, on PostgreSQL. No timing here.
"""
from __future__ import annotations

import hashlib
import json
import types
from contextlib import contextmanager
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Iterator
from unittest import mock

import pytest
import sqlalchemy as sa
from hypothesis import given, settings, strategies as st
from sqlmodel import Session

import evaluator.db as db
from evaluator import canonical, chain, runs, store
from evaluator.db import (ROW_TABLES, Adjustment, ChainLink, Decision, ExactDecimal, ExceptionItem,
                          Firing, Run, make_engine)
from importers.result import Ledger
from importers.schema import SHEETS
from importers.spool import Spool
from rules.context import TraceEntry
from rules.policy import decimal_text, load_policy

FIXED = datetime(2026, 11, 30, 8, 15, 30, 123456, tzinfo=timezone.utc)
PERIOD = "2026-11"


class _Frozen(datetime):
    """evaluator.db's clock, stopped at FIXED while an import is stored."""

    @classmethod
    def now(cls, tz=None):
        return FIXED


def _ledger() -> Ledger:
    rows = {s.name: [] for s in SHEETS}
    rows["Departments"] = [
        {"row": 2, "dept_id": "D1", "name": "销售部 \"前台\"", "tier": "front", "manager_id": "E1",
         "base_score": Decimal("70")},
        {"row": 3, "dept_id": "D2", "name": "IT\\ops\t\x01\u2028", "tier": "back", "manager_id": None,
         "base_score": Decimal("1E+2")},
    ]
    rows["Employees"] = [
        {"row": 2, "employee_id": "E1", "name": "张三", "dept_id": "D1", "manager_id": None,
         "base_score": Decimal("-0.00")},
        {"row": 5, "employee_id": "1001", "name": "O'Brien", "dept_id": "D2", "manager_id": "E1",
         "base_score": Decimal("88.125")},
    ]
    rows["InternalRatings"] = [
        {"row": 2, "rating_id": "R1", "rater_id": "1001", "ratee_dept_id": "D1",
         "dimension": "响应", "score": Decimal("4.50"), "comment": None},
    ]
    rows["Behaviours"] = [
        {"row": 2, "event_id": "B1", "date": date(2026, 11, 3), "employee_id": "1001",
         "behaviour_code": "LEAD", "points": Decimal("2"), "proposer_id": "E1",
         "project_id": None, "evidence": "OA-1", "note": "=HYPERLINK(\"x\")"},
        {"row": 3, "event_id": "B2", "date": date(2026, 11, 30), "employee_id": "E1",
         "behaviour_code": "HELP", "points": Decimal("0.000001"), "proposer_id": "1001",
         "project_id": "P1", "evidence": "", "note": "😀"},
    ]
    return Ledger(file_name="账本.xlsx", sha256="a" * 64, rows=rows, lang="zh")


DECISION = dict(id=1, period=PERIOD, review_id="RV-1", decision="confirm", reviewer_id="HR",
                comment="ok “fine”", source_hash="b" * 64, file_name="d.xlsx", file_sha256="c" * 64,
                sheet="Reviews", row=2, decided_at=FIXED)
RUN = dict(id=1, period=PERIOD, import_id=1, file_sha256="a" * 64, policy_sha256="p" * 64,
           policy_json='{"cap":10}', rules_version="r1", program_version="0.1",
           decisions_digest="d" * 64, started_at=FIXED, finished_at=FIXED,
           counts='{"adjustments":2,"exceptions":1,"firings":3}')
FIRINGS = [
    {"id": 1, "run_id": 1, "seq": 1, "rule": "behaviour.classify", "subject_id": "1001",
     "sources": '[["Behaviours",2]]', "outcome": '{"outcomes":[{"note":"lead"}]}'},
    {"id": 2, "run_id": 1, "seq": 2, "rule": "peripheral.mean", "subject_id": None,
     "sources": '[["InternalRatings",2]]', "outcome": "{}"},
    {"id": 3, "run_id": 1, "seq": 3, "rule": "规则", "subject_id": "D\"1",
     "sources": "[]", "outcome": '{"exceptions":["RV-1"]}'},
]
ADJUSTMENTS = [
    {"id": 1, "run_id": 1, "ord": 1, "adjustment_id": "A-1", "firing_seq": 1,
     "subject_type": "employee", "subject_id": "1001", "mechanism": "behaviour",
     "rule": "behaviour.classify", "points": Decimal("2.00"), "sources": '[["Behaviours",2]]',
     "explanation": "lead"},
    {"id": 2, "run_id": 1, "ord": 2, "adjustment_id": "A-2", "firing_seq": 2,
     "subject_type": "department", "subject_id": "D1", "mechanism": "peripheral",
     "rule": "peripheral.mean", "points": Decimal("-1.5E+1"), "sources": "[]",
     "explanation": "均值"},
]
EXCEPTIONS = [
    {"id": 1, "run_id": 1, "ord": 1, "review_id": "RV-1", "kind": "RATING_EXTREME",
     "type": "review", "subject_id": "D1", "assignee_id": "HR", "status": "confirmed",
     "sources": '[["InternalRatings",2]]', "source_hash": "b" * 64, "message": "held\n",
     "firing_seq": 3},
]


def _write(engine, monkeypatch) -> None:
    """An import (clock stopped) and a run's records with a decision, written by the writers."""
    with monkeypatch.context() as m:
        m.setattr(db, "datetime", _Frozen)
        store.store_import(engine, _ledger(), PERIOD)
    with Session(engine) as session, session.begin():
        w = chain.ChainWriter(session)
        w.insert(Decision, [Decision(**DECISION)], "decision")
        w.insert(Run, [Run(**RUN)], "run")
        w.insert_rows(Firing, ((r, canonical.firing_content(r)) for r in FIRINGS), "firing")
        w.insert_rows(Adjustment, ((r, canonical.canonical_json(Adjustment.content_of(r)))
                                   for r in ADJUSTMENTS), "adjustment")
        w.insert_rows(ExceptionItem, ((r, canonical.canonical_json(ExceptionItem.content_of(r)))
                                      for r in EXCEPTIONS), "exception")
        w.flush()


def _write_as_before(engine) -> None:
    """The same database with plain Core inserts: every value and every hash as the earlier
    code stored them (the pinned hashes), none computed by the code under test."""
    ledger = _ledger()
    counts = {s.name: len(ledger.rows[s.name]) for s in SHEETS}
    with engine.begin() as c:
        c.execute(db.LedgerImport.__table__.insert(), [dict(
            id=1, period=PERIOD, file_name=ledger.file_name, sha256=ledger.sha256, imported_at=FIXED,
            rows_per_sheet=json.dumps(counts, sort_keys=True, separators=(",", ":")),
            rows_digest=PINNED_ROWS_DIGEST, lang="zh", warnings="[]", active=True)])
        for sheet, hashes in PINNED_ROW_HASHES.items():
            c.execute(ROW_TABLES[sheet].insert(), [dict(r, import_id=1, row_hash=h)
                                                   for r, h in zip(ledger.rows[sheet], hashes)])
        c.execute(db.ImportActivation.__table__.insert(), [dict(
            id=1, period=PERIOD, import_id=1, previous_import_id=None, activated_at=FIXED)])
        c.execute(Decision.__table__.insert(), [DECISION])
        c.execute(Run.__table__.insert(), [RUN])
        c.execute(Firing.__table__.insert(), FIRINGS)
        c.execute(Adjustment.__table__.insert(), ADJUSTMENTS)
        c.execute(ExceptionItem.__table__.insert(), EXCEPTIONS)
        prev = chain.GENESIS
        for seq, (rtype, rid, h) in enumerate(PINNED_LINKS, 1):
            c.execute(ChainLink.__table__.insert(), [dict(seq=seq, record_type=rtype, record_id=rid,
                                                          prev_hash=prev, hash=h)])
            prev = h


# Computed by the code before the fast paths (commit bc23a31) from _write above.
PINNED_ROW_HASHES = {
    "Departments": [
        "97cb217e5862c294b6856d7d4e5340930cdd413b30249ee10eb9e8115d86f318",
        "578b5a8f89960f6109bc6dfd2c51fe4538942885513f96089bf84da05f05db6f",
    ],
    "Employees": [
        "a7b393bb0b3ef00d6fc3b4dbb3b80edff5e36fe42f85f21d3e3430ed8c428bcb",
        "690c5fa85b2e6be9b8cb81e808edb22384c51972c0399782971b53184fcc0bab",
    ],
    "InternalRatings": [
        "642cfb4be2a46fd6ffecd3cb1357ceb43771ceb7976702f9b626d24cd6edf1b6",
    ],
    "Behaviours": [
        "13d5a72556cc077f0332d46aeb797b2a7e59225bee257a53bd9138934f2f603b",
        "1e5b1b2b49b2bbb0f2cf6b6db31239f339602ef8fb3f7eefabca5f0ac0b537e8",
    ],
}
PINNED_ROWS_DIGEST = "3d32486f23c479711babb266b56789bc59afd30a177952e3ad00a4771747a61b"
PINNED_LINKS = [
    ("import", 1, "6b851159db87a14ba14299e2f1dc0c6734055d2ab25c5b699e36c030a5579747"),
    ("activation", 1, "09b027ce18b6bcf0fe2b90852ff05d7b72ac88a3238b8da2a781a8c8e5a85cc9"),
    ("decision", 1, "804c9a0d653da3a8d9a473cebd37e1abc5645f0c88220a145c3a1957c7ec1204"),
    ("run", 1, "048f47db378f56790e4563fef97609dc9a25158c4930061864d47102bdd39782"),
    ("firing", 1, "40a96aa0ca6314d64f235143439d8a29b381c49f7eaf94f0df9127db9791c3b6"),
    ("firing", 2, "67e7fa9721fe7d5c4ffcd14437cb3baa9eba0a06555eea73734fe78dba722f87"),
    ("firing", 3, "ff4fad03b044c785c1ebcc63e93f0e837807789be62740e61c57c28c0d014dd7"),
    ("adjustment", 1, "ddfd20d996c906217fe6b2e65528ba0e1808e6dbc93907b4175a09be12e3008f"),
    ("adjustment", 2, "3cc4a1553626c5ac017a09e20d46586241e7b49460d843d2be8bbede01469953"),
    ("exception", 1, "f846c5be747c4b59e623dd068c75557d56e67014ba03cf627927575fa0f6bc12"),
]


def _stored(engine):
    with engine.connect() as c:
        rows = {}
        for sheet in SHEETS:
            t = ROW_TABLES[sheet.name]
            hashes = [h for (h,) in c.execute(sa.select(t.c.row_hash).order_by(t.c.pk))]
            if hashes:
                rows[sheet.name] = hashes
        digest = c.execute(sa.text("SELECT rows_digest FROM ledger_import")).scalar()
        t = ChainLink.__table__
        links = [tuple(r) for r in c.execute(sa.select(t.c.record_type, t.c.record_id, t.c.hash)
                                             .order_by(t.c.seq))]
    return rows, digest, links


@pytest.mark.parametrize("apart", [False, True], ids=["rows made here", "rows made apart"])
def test_written_hashes_are_the_ones_written_before(db_url, monkeypatch, apart):
    """Also when the import's rows are made in a process of their own (evaluator.store:
    ROWS_APART_MIN lowered, two workers)."""
    if apart:
        monkeypatch.setattr(store, "ROWS_APART_MIN", 0)
        monkeypatch.setenv("XIETONG_WORKERS", "2")
    made = []
    real = store.Streamed

    def counted(*args, **kw):
        made.append(kw["apart"])
        return real(*args, **kw)
    monkeypatch.setattr(store, "Streamed", counted)
    engine = make_engine(db_url)
    _write(engine, monkeypatch)
    assert made == [apart]
    rows, digest, links = _stored(engine)
    assert rows == PINNED_ROW_HASHES
    assert digest == PINNED_ROWS_DIGEST
    assert links == PINNED_LINKS
    with Session(db.reader(engine)) as s, s.begin():
        result = chain.verify(s)
    assert result.ok and result.checked == len(PINNED_LINKS), result
    assert (result.head_seq, result.head_hash) == (len(PINNED_LINKS), PINNED_LINKS[-1][2])


@pytest.mark.parametrize("chars, chunks", [(None, [3]), (1, [1, 1, 1]), ("two", [2, 1])])
def test_a_chunk_of_records_ends_at_its_rows_or_its_characters(db_url, monkeypatch, chars,
                                                                chunks):
    """ChainWriter.insert_rows writes a chunk once its records' contents reach CHUNK_CHARS
    characters (a department blend's firing cites every rating it counted), and the records
    and hashes are the same however they were cut."""
    sizes = [len(canonical.firing_content(r)) for r in FIRINGS]
    assert len(sizes) == 3
    if chars == "two":                  # reached by the first two firings, not by the third
        chars = sizes[0] + sizes[1]
        assert sizes[2] < chars
    if chars is not None:
        monkeypatch.setattr(chain, "CHUNK_CHARS", chars)
    cut = []
    real = chain.BulkInsert.dicts

    def dicts(self, rows):
        if self.table is Firing.__table__:
            cut.append(len(rows))
        real(self, rows)

    monkeypatch.setattr(chain.BulkInsert, "dicts", dicts)
    engine = make_engine(db_url)
    _write(engine, monkeypatch)
    assert cut == chunks
    assert _stored(engine) == (PINNED_ROW_HASHES, PINNED_ROWS_DIGEST, PINNED_LINKS)


def test_a_database_written_before_still_verifies(db_url):
    engine = make_engine(db_url)
    _write_as_before(engine)
    with Session(db.reader(engine)) as s, s.begin():
        result = chain.verify(s)
    assert result.ok and result.checked == len(PINNED_LINKS), result
    assert _stored(engine) == (PINNED_ROW_HASHES, PINNED_ROWS_DIGEST, PINNED_LINKS)
    t = ROW_TABLES["Employees"]
    with engine.begin() as c:
        c.execute(t.update().where(t.c.row == 5).values(base_score=Decimal("88.12")))
    with Session(db.reader(engine)) as s, s.begin():
        assert chain.verify(s).problem.en == "import 1: Employees row 5 was changed"


# ----------------------------------------------------------------------------- a run's records

RUN_STORED = dict(RUN, counts='{"adjustments":2,"exceptions":1,"firings":5}')
TRACE = [
    TraceEntry(1, "behaviour.classify", "1001", [("Behaviours", 2)], {"outcomes": [{"note": "lead"}]}),
    TraceEntry(2, "peripheral.mean", None, [("InternalRatings", 2), ("Departments", 3)], {}),
    TraceEntry(3, "规则", 'D"1', [], {"outcomes": [{"exception": "RATING_EXTREME"}, {"note": "x\n"}]}),
    TraceEntry(4, "behaviour.classify", "E1", [("Behaviours", 3)], {"outcomes": [{"note": "lead"}]}),
    TraceEntry(5, "interlock.pair", "D2", [("Departments", 2)], {"outcomes": [{"flag": "长\u2028"}]}),
]
RESULT_ADJUSTMENTS = [
    {"firing_seq": 1, "subject_type": "employee", "subject_id": "1001", "mechanism": "behaviour",
     "rule": "behaviour.classify", "points": Decimal("2.00"), "sources": [("Behaviours", 2)],
     "explanation": "lead"},
    {"firing_seq": 2, "subject_type": "department", "subject_id": "D1", "mechanism": "peripheral",
     "rule": "peripheral.mean", "points": Decimal("-1.5E+1"),
     "sources": [("InternalRatings", 2), ("Departments", 3)], "explanation": "均值"},
]
RESULT_EXCEPTIONS = [
    {"review_id": "RV-1", "kind": "RATING_EXTREME", "type": "review", "subject_id": "D1",
     "assignee_id": "HR", "status": "confirmed", "sources": [("InternalRatings", 2)],
     "message": "held\n", "firing_seq": 3},
]

# Computed by the code before canonical text had one module (commit 27eb68a) from the records
# above: what evaluator.runs stores for a run, and the chain links over them.
PINNED_FIRING_COLUMNS = [
    (1, '[["Behaviours",2]]', '{"adjustments":["Aa84cb1ae7533"],"outcomes":[{"note":"lead"}]}'),
    (2, '[["InternalRatings",2],["Departments",3]]', '{"adjustments":["Aaf4a61c7b48e"]}'),
    (3, '[]', '{"exceptions":["RV-1"],"outcomes":[{"exception":"RATING_EXTREME"},{"note":"x\\n"}]}'),
    (4, '[["Behaviours",3]]', '{"outcomes":[{"note":"lead"}]}'),
    (5, '[["Departments",2]]', '{"outcomes":[{"flag":"长\u2028"}]}'),
]
PINNED_ADJUSTMENT_COLUMNS = [("Aa84cb1ae7533", '[["Behaviours",2]]'),
                             ("Aaf4a61c7b48e", '[["InternalRatings",2],["Departments",3]]')]
PINNED_RUN_LINKS = [
    ("run", 1, "2bb08bb3dcb08499de7182ec745267f78db14f7a04cb54085d5c562a0dd89d27"),
    ("firing", 1, "255395433c57a26d2b091da19e4d3dc15cc5819fc159ebfdb9400c5e11c52edc"),
    ("firing", 2, "87743f618bf97039cfcad349ec37c3460b96d6c6f2d3a179008c22ade7e2623c"),
    ("firing", 3, "d14e29ff76270807aa703ceff8ebf8ee83beed8be6bd4dbc5ec029288b0c3158"),
    ("firing", 4, "b7ec929924e461c728cb2be16aee063c2c5c20f47f5ac048be11caffc120d1e8"),
    ("firing", 5, "ff352947b94df9261f5acc2efd74a4d149eb73fd76ecdf61d492afe600d727d4"),
    ("adjustment", 1, "5bc504ef344133547291951797858d751c83f62a2c4f951052c24f1b157ac9e9"),
    ("adjustment", 2, "f73211b087412891d295b26ac2eb13ad1a32a3f73efcc7e80304167852eca483"),
    ("exception", 1, "ddcfb5b4f9956dd35080991e2464ecd21a0ff341cdb9075ed25bda3f6543aa24"),
]


@pytest.mark.parametrize("apart", [False, True], ids=["made here", "made apart"])
def test_a_runs_records_are_stored_as_before(db_url, monkeypatch, apart):
    """evaluator.runs' own writer (_store_results): the stored sources and outcomes, the
    adjustment ids and every chain hash are the ones written before, and verify accepts them —
    also when the firings' rows are made in a process of their own (evaluator.firing_rows),
    a chunk of two firings at a time."""
    from evaluator import firing_rows
    made_apart = []
    if apart:
        monkeypatch.setattr(firing_rows, "APART_MIN", 0)
        monkeypatch.setattr(firing_rows, "CHUNK", 2)
        monkeypatch.setenv("XIETONG_WORKERS", "2")
    real = firing_rows.streamed

    def counted(*args):
        made_apart.append(args[-1])             # streamed(…, apart)
        return real(*args)
    monkeypatch.setattr(firing_rows, "streamed", counted)
    engine = make_engine(db_url)
    with monkeypatch.context() as m:
        m.setattr(db, "datetime", _Frozen)
        store.store_import(engine, _ledger(), PERIOD)
    result = types.SimpleNamespace(trace=TRACE, adjustments=RESULT_ADJUSTMENTS,
                                   exceptions=RESULT_EXCEPTIONS)
    with Session(engine) as session, session.begin():
        writer = chain.ChainWriter(session)
        run = Run(**RUN_STORED)
        writer.insert(Run, [run], "run")
        runs._store_results(writer, run, result.trace, result.adjustments,
                            list(runs.with_hashes(result.exceptions, {"RV-1": "b" * 64})),
                            list(runs.firing_notes(run.period, result.adjustments,
                                                   result.exceptions)))
        writer.flush()
    with engine.connect() as c:
        f, a, e = Firing.__table__, Adjustment.__table__, ExceptionItem.__table__
        firings = [tuple(r) for r in c.execute(sa.select(f.c.seq, f.c.sources, f.c.outcome)
                                               .order_by(f.c.id))]
        adjustments = [tuple(r) for r in c.execute(sa.select(a.c.adjustment_id, a.c.sources)
                                                   .order_by(a.c.id))]
        exceptions = [tuple(r) for r in c.execute(sa.select(e.c.sources, e.c.source_hash))]
    assert firings == PINNED_FIRING_COLUMNS
    assert adjustments == PINNED_ADJUSTMENT_COLUMNS
    assert exceptions == [('[["InternalRatings",2]]', "b" * 64)]
    assert _stored(engine)[2] == PINNED_LINKS[:2] + PINNED_RUN_LINKS
    with Session(db.reader(engine)) as s, s.begin():
        assert chain.verify(s).ok
    assert made_apart == [apart]


@pytest.mark.parametrize("how", ["a note of no firing", "firings out of seq order"])
def test_a_run_whose_notes_and_firings_do_not_meet_is_not_stored(db_url, how):
    """_store_results reads each firing's note (its adjustments' ids, its exceptions' review
    ids) beside the firings, in seq order: a note no firing meets, or firings out of that
    order, fail the store instead of storing outcomes that leave a result out."""
    engine = make_engine(db_url)
    store.store_import(engine, _ledger(), PERIOD)
    trace = list(TRACE)
    adjustments = RESULT_ADJUSTMENTS
    exceptions = list(runs.with_hashes(RESULT_EXCEPTIONS, {"RV-1": "b" * 64}))
    notes = list(runs.firing_notes(PERIOD, RESULT_ADJUSTMENTS, RESULT_EXCEPTIONS))
    if how == "a note of no firing":
        notes = notes + [(trace[-1].seq + 1, ["A0"], None, None)]
    else:
        trace[0], trace[1] = trace[1], trace[0]
    with pytest.raises(RuntimeError, match="firing"):
        with Session(engine) as session, session.begin():
            writer = chain.ChainWriter(session)
            run = Run(**RUN_STORED)
            writer.insert(Run, [run], "run")
            runs._store_results(writer, run, trace, adjustments, exceptions, notes)
    with engine.connect() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(Firing.__table__)).scalar() == 0


def test_source_hash_and_adjustment_id_as_before():
    """The content hash of an item's source rows (stored with every exception and decision: a
    different text would reopen every decided item) and an adjustment's id, as computed by the
    code before canonical text had one module (commit 27eb68a)."""
    rows = {"Employees": [{"row": 5, "employee_id": "1001", "name": "O'Brien", "dept_id": "D2",
                           "manager_id": "E1", "base_score": Decimal("-0.00")}],
            "Behaviours": [{"row": 3, "event_id": "B2", "date": None, "employee_id": "E1",
                            "behaviour_code": "HELP", "points": Decimal("1E+2"),
                            "proposer_id": "1001", "project_id": "P1", "evidence": "", "note": "😀"}]}
    sources = [("Employees", 5), ("Behaviours", 3), ("Departments", 9)]
    texts = runs.source_texts(rows, sources)
    assert runs.source_hash(texts, sources) == \
        "00d8dff976ec93a1c9011eb8e277166b3972afe7ca5fd25f0af3f5af457d783a"
    assert runs.adjustment_id(PERIOD, RESULT_ADJUSTMENTS[1]) == "Aaf4a61c7b48e"


# ----------------------------------------------------------------------------- row text

def _cell_before(v):
    """A typed value's hashed text as SPEC §6 and the earlier code spell it: dates ISO, Decimals
    in plain digits without a negative zero, anything else str()."""
    if v is None:
        return None
    if isinstance(v, (date, datetime)):
        return v.isoformat()
    if isinstance(v, Decimal):
        return format(v.copy_abs() if v.is_zero() else v, "f")
    return str(v)


def _row_text_before(sheet: str, excel_row, values) -> str:
    """canonical.row_hash's text as the earlier code built it."""
    return json.dumps([sheet, excel_row, *map(_cell_before, values)],
                      ensure_ascii=False, separators=(",", ":"))


texts = st.text(alphabet=st.sampled_from(list('aZ9 "\'\\/\n\r\t\b\f\x00\x01\x1f\x7f中é\u2028\u2029😀=:,[]{}')),
                max_size=12)
decimals = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False),
    st.decimals(allow_nan=False, allow_infinity=False, places=2),
    st.builds(lambda sign, digits, exp: Decimal((sign, tuple(digits), exp)), st.integers(0, 1),
              st.lists(st.integers(0, 9), min_size=1, max_size=30), st.integers(-30, 30)),
    st.sampled_from([Decimal("-0"), Decimal("-0.00"), Decimal("0E-7"), Decimal("1E+2"),
                     Decimal("1.5E-7"), Decimal("-12.500"), Decimal("NaN"), Decimal("-Infinity"),
                     Decimal("sNaN"), Decimal("-0E+3"), Decimal("0.0000001")]))
cells = st.one_of(st.none(), texts, decimals, st.dates(), st.datetimes(),
                  st.datetimes(timezones=st.just(timezone.utc)), st.booleans(),
                  st.integers(-2**70, 2**70))
sheet_names = st.sampled_from([s.name for s in SHEETS])


def _declined(*args):
    raise AssertionError("the hand-written path declined")


@settings(max_examples=400, deadline=None)
@given(sheet_names, st.data())
def test_row_text_is_the_json_it_replaced(sheet, data):
    names = [c.name for c in next(s for s in SHEETS if s.name == sheet).columns]
    excel_row = data.draw(st.one_of(st.integers(0, 2**40), st.just(True), st.none(), texts))
    values = [data.draw(cells) for _ in names]
    if type(excel_row) is int:            # a schema sheet and an int row: written by hand
        with mock.patch.object(canonical, "_row_json", _declined):
            got = canonical.row_text(sheet, excel_row, values)
    else:
        got = canonical.row_text(sheet, excel_row, values)
    assert got == _row_text_before(sheet, excel_row, values)
    row = dict(zip(names, values), row=excel_row)
    if data.draw(st.booleans()):
        del row[names[-1]]                    # a missing column hashes as None
    prev = data.draw(st.sampled_from([chain.GENESIS, "f" * 64]))
    want = hashlib.sha256((prev + _row_text_before(sheet, excel_row, [row.get(n) for n in names]))
                          .encode("utf-8")).hexdigest()
    assert canonical.row_hash(sheet, row, prev) == want


def test_row_text_of_an_unknown_sheet_is_the_json_it_replaced():
    values = [Decimal("1.0"), None, "x"]
    assert canonical.row_text("Other", 2, values) == _row_text_before("Other", 2, values)


@settings(max_examples=300, deadline=None)
@given(texts)
def test_json_string_is_what_json_dumps_writes(s):
    """canonical.json_string (json.encoder.encode_basestring) and the documented call that
    stands in for it both write a str as json.dumps(s, ensure_ascii=False) does."""
    want = json.dumps(s, ensure_ascii=False)
    assert canonical.json_string(s) == want
    assert json.JSONEncoder(ensure_ascii=False).encode(s) == want


# ----------------------------------------------------------------------------- decimal text

def _policy_text_before(v: Decimal) -> str:
    """rules.policy's own decimal_text before there was one: the shortest plain form."""
    if v == 0:
        return "0"
    return format(v.normalize(), "f")


@settings(max_examples=400, deadline=None)
@given(decimals)
def test_one_decimal_text_spells_the_policy_as_before(v):
    """The policy fingerprint writes decimal_text(value.normalize()): what its twin wrote."""
    try:
        want = _policy_text_before(v)
    except InvalidOperation:
        with pytest.raises(InvalidOperation):
            decimal_text(v.normalize())
        return
    assert decimal_text(v.normalize()) == want


def test_decimal_text_examples():
    assert [decimal_text(Decimal(s)) for s in ("1E+2", "-0.00", "2.50", "-1.5E-7", "0E+3")] == \
        ["100", "0.00", "2.50", "-0.00000015", "0"]
    assert [decimal_text(Decimal(s).normalize()) for s in ("0.250", "1E+2", "-0.00", "10")] == \
        ["0.25", "100", "0", "10"]


def test_the_default_policy_fingerprint_is_as_before():
    """Recorded with every run (Run.policy_sha256, chained): computed by the code before
    the policy's decimal_text was the evaluator's (commit 27eb68a) — d8cb78d8c3ec… — and
    changed since, on purpose, when the default gained `review.deadline_days` and
    `[feedback] show_raters` (SPEC §11.3, §11.4) and the rating cadences,
    `linkage.revision_month`, `interlock.reward_scale`/`reward_cap` and
    `behaviour.frequent_window_months` (SPEC §11.5–§11.9; tests/test_policy.py writes the new
    canonical text out by hand)."""
    assert load_policy().sha256 == "1e83e5f3f087dfb8b2f07530e7903d6f7f9621a64230dca9753d946a915f12df"


def _decimal_result(dialect):
    return ExactDecimal().dialect_impl(dialect).result_processor(dialect, None)


@settings(max_examples=400, deadline=None)
@given(st.one_of(decimals.map(str),
                 st.from_regex(r"[-+]?[0-9]{0,4}(\.[0-9]{0,3})?([eE][-+]?[0-9]{1,2})?", fullmatch=True),
                 st.sampled_from(["00", "-0", "-0.0", "-00.5", "007.50", "+1", "1.", ".5", " 1", "1_0"]),
                 st.text(alphabet=st.sampled_from(list("-+0123456789.eE x")), max_size=8)))
def test_stored_decimal_text_hashes_as_the_decimal(stored):
    """verify reads SQLite's stored decimal text and hashes a canonical one as it is."""
    from sqlalchemy.dialects import sqlite
    process = _decimal_result(sqlite.dialect())
    fast = canonical.stored_decimal_text(process)
    try:
        want = decimal_text(process(stored))
    except (InvalidOperation, ValueError) as e:
        with pytest.raises(type(e)):
            fast(stored)
        return
    assert fast(stored) == want
    assert fast(None) is None
    if stored == want and process(stored).is_finite():
        # already its canonical text: hashed as it is, no Decimal made
        assert canonical.stored_decimal_text(_declined)(stored) == stored


# ----------------------------------------------------------------------------- raw SQLite paths

def test_bulk_insert_stores_what_core_stores(db_url):
    """BulkInsert (sqlite3's executemany with the columns' bind conversions) against the Core
    insert it replaces on SQLite; on PostgreSQL it is the Core insert."""
    engine = make_engine(db_url)
    t = ROW_TABLES["Behaviours"]
    names = ["pk", "import_id", "row", "row_hash", *(c.name for c in next(
        s for s in SHEETS if s.name == "Behaviours").columns)]
    values = [
        (1, 1, 2, "h1", "B1", date(2026, 11, 3), "E1", "LEAD", Decimal("1E+2"), "E2", None, "é\n", "x"),
        (2, 1, 3, "h2", "B2", None, "E1", "", Decimal("-0.00"), "E2", "P1", None, "😀"),
        (3, 1, 4, "h3", "B3", date(1999, 1, 9), "E1", "x", Decimal("0.000001"), "E2", None, "", ""),
    ]
    with engine.begin() as c:
        c.execute(db.LedgerImport.__table__.insert(), [dict(
            id=1, period=PERIOD, file_name="f", sha256="s", imported_at=FIXED, rows_per_sheet="{}",
            rows_digest="", lang="en", warnings="[]", active=False)])
        chain.BulkInsert(c, t, names).tuples(values[:2])
        chain.BulkInsert(c, t).dicts([dict(zip(names, values[2]))])
    with engine.connect() as c:
        fast = [tuple(r) for r in c.execute(sa.select(t).order_by(t.c.pk))]
        raw = [tuple(r) for r in c.exec_driver_sql(f"SELECT * FROM {t.name} ORDER BY pk")]
        scanned = [tuple(r) for r in chain._scan(c, t, [col.name for col in t.columns], order="pk")]
    with engine.begin() as c:
        c.execute(t.delete())
        c.execute(t.insert(), [dict(zip(names, v)) for v in values])
    with engine.connect() as c:
        core = [tuple(r) for r in c.execute(sa.select(t).order_by(t.c.pk))]
        core_raw = [tuple(r) for r in c.exec_driver_sql(f"SELECT * FROM {t.name} ORDER BY pk")]
    assert fast == core and raw == core_raw and scanned == core
    assert core[0][8] == Decimal("1E+2") and core[1][5] is None


def test_scan_where_and_order(db_url, monkeypatch):
    engine = make_engine(db_url)
    _write(engine, monkeypatch)
    t = ROW_TABLES["Behaviours"]
    with engine.connect() as c:
        want = [tuple(r) for r in c.execute(sa.select(t.c.row, t.c.date, t.c.points)
                                            .where(t.c.import_id == 1).order_by(t.c.pk))]
        got = [tuple(r) for r in chain._scan(c, t, ["row", "date", "points"],
                                             where=("import_id", 1), order="pk")]
        assert got == want and got[1] == (3, date(2026, 11, 30), Decimal("0.000001"))
        assert list(chain._scan(c, t, ["row"], where=("import_id", 2))) == []


def _adjustment(seq: int, subject: str) -> dict:
    return {"firing_seq": seq, "subject_type": "employee", "subject_id": subject,
            "mechanism": "behaviour", "rule": "behaviour.classify", "points": Decimal("1.00"),
            "sources": [("Behaviours", seq + 2)], "explanation": "x"}


def _exception(seq: int, rid: str, kind: str, says=None) -> dict:
    return {"review_id": rid, "kind": kind, "firing_seq": seq, "says": says}


def test_firing_notes_group_each_firings_results_in_seq_order():
    """By hand: the notes of the firings that produced results, in seq order, each firing's
    adjustments' ids and review ids in the results' order (not seq's), its exceptions'
    sentences by kind (a later one of a kind over an earlier), None where it produced none of
    one; the same from a spool of records (adjustment,) as from a list."""
    adjustments = [_adjustment(5, "E1"), _adjustment(2, "E2"), _adjustment(5, "E3")]
    exceptions = [_exception(2, "RV-b", "RATING_EXTREME", ("extreme", {})),
                  _exception(7, "RV-a", "RATING_SELF"),
                  _exception(2, "RV-c", "RATING_EXTREME", ("extreme again", {}))]
    ids = [runs.adjustment_id(PERIOD, a) for a in adjustments]
    expected = [(2, [ids[1]], ["RV-b", "RV-c"], {"RATING_EXTREME": ("extreme again", {})}),
                (5, [ids[0], ids[2]], None, None),
                (7, None, ["RV-a"], None)]
    assert list(runs.firing_notes(PERIOD, adjustments, exceptions)) == expected
    with _spooled(adjustments) as spool:
        assert list(runs.firing_notes(PERIOD, spool, exceptions)) == expected
    with _spooled(adjustments) as spool, _spooled(exceptions) as raised:
        assert list(runs.firing_notes(PERIOD, spool, raised)) == expected
    assert list(runs.firing_notes(PERIOD, [], [])) == []
    with _spooled([]) as spool, _spooled([]) as raised:
        assert list(runs.firing_notes(PERIOD, spool, raised)) == []


@contextmanager
def _spooled(items: list, chunk: int | None = None) -> Iterator[Spool]:
    """A spool of records (item,) of `items`, as the evaluation's results are left on files,
    closed at the end of the `with`."""
    spool = Spool(chunk=chunk)
    try:
        spool.extend((item,) for item in items)
        yield spool
    finally:
        spool.close()


@settings(max_examples=200, deadline=None)
@given(adj_seqs=st.lists(st.integers(1, 12), max_size=25),
       exc=st.lists(st.tuples(st.integers(1, 12), st.sampled_from(["RATING_EXTREME", "RATING_SELF"]),
                              st.booleans()), max_size=25))
def test_firing_notes_are_those_of_a_dict_of_every_id(adj_seqs, exc):
    """For any results, firing_notes (two numbers held per adjustment) give the notes a dict of
    every firing's ids gives (the way they were made before)."""
    adjustments = [_adjustment(seq, f"E{i}") for i, seq in enumerate(adj_seqs)]
    exceptions = [_exception(seq, f"RV-{i}", kind, (f"s{i}", {}) if says else None)
                  for i, (seq, kind, says) in enumerate(exc)]
    adj_ids, exc_ids, exc_says = {}, {}, {}
    for a in adjustments:
        adj_ids.setdefault(a["firing_seq"], []).append(runs.adjustment_id(PERIOD, a))
    for e in exceptions:
        exc_ids.setdefault(e["firing_seq"], []).append(e["review_id"])
        if e["says"]:
            exc_says.setdefault(e["firing_seq"], {})[e["kind"]] = e["says"]
    expected = [(seq, adj_ids.get(seq), exc_ids.get(seq), exc_says.get(seq))
                for seq in sorted(adj_ids.keys() | exc_ids.keys())]
    assert list(runs.firing_notes(PERIOD, adjustments, exceptions)) == expected
    # the exceptions on a file, sorted by seq in runs of 3 (an external merge)
    with _spooled(exceptions, chunk=2) as raised, mock.patch.object(runs, "RESULTS_CHUNK", 3):
        assert list(runs.firing_notes(PERIOD, adjustments, raised)) == expected

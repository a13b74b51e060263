"""The trace spool (importers/spool.py): an evaluation's firings go to an unnamed temporary file in
chunks instead of a list, the evaluation's child sends back only the spool's index, and the
parent streams the spool into the database.

What must hold: the spool gives back exactly what was appended, in order, as often as asked; a
change made to an entry while it is iterated is kept; no file is left behind — after a run,
after the child raised, after the child was SIGKILLed — and none is ever named in TMPDIR; the
counts are still reconciled against the engine's.
"""
from __future__ import annotations

import dataclasses
import os
import pickle
import signal
import tempfile

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlmodel import Session

import importers.spool
import evaluator.evaluate
import evaluator.runs
import evaluator.store
from importers.spool import Spool, SpoolClosed
from evaluator.canonical import sources_json
from evaluator.chain import verify
from evaluator.db import make_engine
from evaluator.evaluate import ReconciliationFailed, evaluate_ledger
from evaluator.runs import (SPOOLED_SHEETS, EvaluationFailed, RunRefused, _compute, _Inputs,
                            evaluate_period, latest_run, load_run)
from evaluator.store import store_import
import rules.context
from rules.context import Keyed, TraceEntry, merged_in_key_order
from rules.finals import finals
from rules.policy import load_policy
from tests.dbs import db_state
from tests.ledgers import PERIOD, worked_example

POLICY = load_policy()
WORKED_EXAMPLE_FIRINGS = 22          # README's worked example: "run #1, 22 firings"


def open_under(directory) -> list[str]:
    """What this process's open descriptors point at under `directory`."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(directory)):
            found.append(target)
    return found


@pytest.fixture
def tmpdir_only(tmp_path, monkeypatch):
    """TMPDIR for this test: an empty directory of its own."""
    where = tmp_path / "tmp"
    where.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(where))
    return where


# --------------------------------------------------------------------------- the spool itself

texts = st.text(max_size=6)
sources = st.lists(st.tuples(st.sampled_from(["Behaviours", "InternalRatings@2026-10"]),
                             st.integers(2, 1_048_576)), max_size=3)
outcome_items = st.one_of(
    st.dictionaries(st.sampled_from(["note", "exception", "points"]), texts, max_size=2),
    st.fixed_dictionaries({"points": texts, "says": st.lists(st.one_of(texts, st.none()),
                                                              max_size=3)}))
outcomes = st.one_of(st.just({}), st.fixed_dictionaries(
    {"outcomes": st.lists(outcome_items, max_size=3)}))
entries = st.builds(TraceEntry, st.integers(1, 2**40), texts, st.one_of(st.none(), texts),
                    sources, outcomes)


@settings(max_examples=80, deadline=None)
@given(got=st.lists(entries, max_size=40), chunk=st.integers(1, 9))
def test_a_spool_gives_back_exactly_what_was_appended(got, chunk):
    spool = Spool(TraceEntry, chunk=chunk)
    for entry in got:
        spool.append(entry)
    assert len(spool) == len(got)
    for _ in range(2):                               # as many times as asked
        back = list(spool)
        # == tells a tuple from a list and 1 from 1.0 only partly: compare the reprs too
        assert back == got and repr(back) == repr(got)
        assert all(type(t) is TraceEntry for t in back)
    assert [t for chunk_ in spool.chunks() for t in chunk_] == got
    assert [len(c) for c in spool.chunks()] == \
           [min(chunk, len(got) - i) for i in range(0, len(got), chunk)]
    assert pickle.loads(pickle.dumps(spool)) is spool        # back to its own process
    assert list(spool) == got
    spool.close()


@settings(max_examples=80, deadline=None)
@given(got=st.lists(entries, max_size=40), chunk=st.integers(1, 9),
       cuts=st.lists(st.integers(0, 40), max_size=6))
def test_extending_by_batches_is_appending_one_by_one(got, chunk, cuts):
    """`extend` with batches of any size stores what `append` of each record does, in chunks
    of the same sizes."""
    spool = Spool(TraceEntry, chunk=chunk)
    bounds = sorted({0, len(got), *(c for c in cuts if c <= len(got))})
    for start, stop in zip(bounds, bounds[1:]):
        spool.extend(got[start:stop])
    assert len(spool) == len(got)
    assert list(spool) == got and repr(list(spool)) == repr(got)
    assert [len(c) for c in spool.chunks()] == \
           [min(chunk, len(got) - i) for i in range(0, len(got), chunk)]
    spool.close()


def test_a_change_made_while_iterating_is_kept():
    spool = Spool(TraceEntry, chunk=2)
    for seq in range(1, 6):                          # chunks [1, 2] [3, 4] on the file, [5] not
        spool.append(TraceEntry(seq, "r", None, [("Behaviours", seq + 1)],
                                {"outcomes": [{"note": "x", "says": ["note"]}]}))
    for t in spool:
        for o in t.outcome["outcomes"]:
            o.pop("says")
    assert [t.outcome for t in spool] == [{"outcomes": [{"note": "x"}]}] * 5
    assert [t.outcome for c in spool.chunks() for t in c] == [{"outcomes": [{"note": "x"}]}] * 5


def test_clear_empties_a_spool_and_gives_its_space_back():
    spool = Spool(chunk=2)
    spool.extend((i, "x" * 100) for i in range(7))
    assert os.fstat(spool._fd).st_size > 0
    spool.clear()
    assert len(spool) == 0 and list(spool) == [] and os.fstat(spool._fd).st_size == 0
    spool.append((1, "y"))
    assert list(spool) == [(1, "y")]


def test_a_spool_is_unnamed_in_tmpdir_and_gone_when_closed(tmpdir_only):
    spool = Spool(chunk=2)
    spool.extend((i,) for i in range(5))
    [held] = open_under(tmpdir_only)
    assert held.endswith("(deleted)")                # the file has no name: nothing to remove
    assert os.listdir(tmpdir_only) == []
    spool.close()
    assert open_under(tmpdir_only) == [] and len(spool) == 5
    with pytest.raises(SpoolClosed):
        list(spool)


def test_a_spool_comes_back_only_to_the_process_that_made_it():
    spool = Spool()
    spool.append((1,))
    data = pickle.dumps(spool)
    spool.close()
    with pytest.raises(pickle.UnpicklingError):
        pickle.loads(data)


# --------------------------------------------------------------------------- evaluations


def test_an_evaluation_without_a_spool_makes_its_own(tmpdir_only):
    got = evaluate_ledger(worked_example().build().rows, POLICY, PERIOD, {})
    assert isinstance(got.trace, Spool) and len(got.trace) == WORKED_EXAMPLE_FIRINGS
    assert len(open_under(tmpdir_only)) == 1
    got.trace.close()
    assert open_under(tmpdir_only) == []


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of 5 entries: the worked example's trace then goes to the file (22 firings)."""
    monkeypatch.setattr(importers.spool, "CHUNK", 5)


def _stored_firings(engine_):
    with Session(engine_) as s:
        return [(f["seq"], f["rule"], f["subject_id"], sources_json(f["sources"]))
                for f in load_run(s, latest_run(s, PERIOD))["firings"]]


def test_a_run_streams_the_spool_into_the_database(db_url, tmpdir_only, small_chunks):
    engine_ = make_engine(db_url)
    store_import(engine_, worked_example().build(), PERIOD)
    outcome = evaluate_period(engine_, PERIOD, POLICY)
    assert outcome.evaluated.counts["firings"] == WORKED_EXAMPLE_FIRINGS
    assert len(outcome.evaluated.trace) == WORKED_EXAMPLE_FIRINGS
    assert outcome.evaluated.trace.closed                   # stored: its file is gone
    assert open_under(tmpdir_only) == [] and os.listdir(tmpdir_only) == []
    # the same firings as an evaluation in this process whose trace never left memory
    in_memory = evaluate_ledger(worked_example().build().rows, POLICY, PERIOD, {},
                                       trace=Spool(TraceEntry, chunk=1000))
    expected = [(t.seq, t.rule, t.subject_id, sources_json(t.sources))
                for t in in_memory.trace]
    assert _stored_firings(engine_) == expected
    with Session(engine_) as s:
        assert verify(s).ok


def test_no_file_is_left_when_the_child_raises(db_url, tmpdir_only, small_chunks, monkeypatch):
    engine_ = make_engine(db_url)
    store_import(engine_, worked_example().build(), PERIOD)
    before = db_state(db_url)
    real = evaluator.runs.evaluate_ledger

    def then_raise(*args, **kw):             # runs in the child, its trace spooled
        result = real(*args, **kw)
        spooled = [t for t in open_under(tempfile.gettempdir()) if t.endswith("(deleted)")]
        raise RuntimeError(f"{len(spooled)} unnamed files, {len(list(result.trace))} entries")

    monkeypatch.setattr(evaluator.runs, "evaluate_ledger", then_raise)
    with pytest.raises(EvaluationFailed) as e:
        evaluate_period(engine_, PERIOD, POLICY)
    # in the child: the spool, the four its adjustments, exceptions, firings' notes and
    # exceptions before their hashes go to (evaluator.runs._ResultFiles), the file its answer
    # goes back in (engine.isolation.Forked), and the files the transaction sheets are read
    # from (importers.spooled.SpooledRows)
    assert str(e.value) == (f"RuntimeError: {6 + len(SPOOLED_SHEETS)} unnamed files, "
                            f"{WORKED_EXAMPLE_FIRINGS} entries")
    assert open_under(tmpdir_only) == [] and os.listdir(tmpdir_only) == []
    assert db_state(db_url) == before


def test_no_file_is_left_when_the_child_is_killed(db_url, tmpdir_only, small_chunks,
                                                  monkeypatch):
    engine_ = make_engine(db_url)
    store_import(engine_, worked_example().build(), PERIOD)
    before = db_state(db_url)
    monkeypatch.setenv("XIETONG_FAULT", "kill:evaluate-spooled")   # the child, trace spooled
    with pytest.raises(EvaluationFailed, match=r"the rules engine crashed \(signal SIGKILL\)"):
        evaluate_period(engine_, PERIOD, POLICY)
    assert open_under(tmpdir_only) == [] and os.listdir(tmpdir_only) == []
    assert db_state(db_url) == before


def _stored_worked_example(db_url):
    engine_ = make_engine(db_url)
    store_import(engine_, worked_example().build(), PERIOD)
    return engine_


def test_no_file_is_left_when_the_store_fails_for_a_report_to_follow(db_url, tmpdir_only,
                                                                     monkeypatch):
    """With `keep_rows` the transaction sheets' files become the caller's only once the run is
    committed: a failure in the write transaction closes them with the trace spool."""
    engine_ = _stored_worked_example(db_url)
    before = db_state(db_url)
    stored = []

    def fail_commit(session):                # the commit itself, after every row was written
        if stored:
            raise RuntimeError("the commit failed")

    monkeypatch.setattr(evaluator.runs, "fault",
                        lambda point: point == "evaluate-commit" and stored.append(point))
    sa.event.listen(Session, "before_commit", fail_commit)
    try:
        with pytest.raises(RuntimeError, match="the commit failed"):
            evaluate_period(engine_, PERIOD, POLICY, keep_rows=True)
    finally:
        sa.event.remove(Session, "before_commit", fail_commit)
    assert stored == ["evaluate-commit"]
    assert open_under(tmpdir_only) == [] and os.listdir(tmpdir_only) == []
    assert db_state(db_url) == before


def test_no_file_is_left_by_a_refused_evaluation(db_url, tmpdir_only):
    """Refused after its rows were read into files (another import is active): none is left."""
    engine_ = make_engine(db_url)
    ledger = worked_example().build()
    first = store_import(engine_, ledger, PERIOD).import_id
    store_import(engine_, dataclasses.replace(ledger, sha256="f" * 64), PERIOD)   # now active
    with pytest.raises(RunRefused, match="2026-11"):
        evaluate_period(engine_, PERIOD, POLICY, import_id=first, keep_rows=True)
    assert open_under(tmpdir_only) == [] and os.listdir(tmpdir_only) == []


def test_no_file_is_left_when_reading_the_rows_fails_midway(db_url, tmpdir_only, monkeypatch):
    """load_rows fails on a sheet after the transaction sheets were read into files (Reviews
    comes after them): it closes those files before the failure goes on."""
    engine_ = _stored_worked_example(db_url)
    real = evaluator.store.ColumnRows

    class Failing(real):
        @classmethod
        def from_records(cls, keys, records, shared=()):
            if "review_id" in keys:
                raise MemoryError("out of memory reading Reviews")
            return real.from_records(keys, records, shared)

    monkeypatch.setattr(evaluator.store, "ColumnRows", Failing)
    with pytest.raises(MemoryError):
        evaluate_period(engine_, PERIOD, POLICY)
    assert open_under(tmpdir_only) == [] and os.listdir(tmpdir_only) == []


def test_a_full_tmpdir_fails_the_evaluation_plainly_and_leaves_nothing(db_url, tmpdir_only,
                                                                       monkeypatch):
    """TMPDIR fills up while the sheets are read into their files (in the run process, before
    the fork): the evaluation fails with the system's words, as the child's failures do; no
    file is left and nothing is stored."""
    engine_ = _stored_worked_example(db_url)
    before = db_state(db_url)

    def no_space(self, records):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Spool, "_write", no_space)
    monkeypatch.setattr(evaluator.store, "SPOOL_READ", 1)       # a write before the end
    monkeypatch.setattr(importers.spool, "CHUNK", 1)
    with pytest.raises(EvaluationFailed, match=r"^OSError: \[Errno 28\] No space left on device$"):
        evaluate_period(engine_, PERIOD, POLICY)
    assert open_under(tmpdir_only) == [] and os.listdir(tmpdir_only) == []
    assert db_state(db_url) == before


class LosesAnEntry(Spool):
    """A spool that drops the entry of firing 3: the trace no longer holds every firing.
    (Made in evaluator.runs, it is also the spools of the results: their records are kept.)"""

    def append(self, record):
        if not (isinstance(record, TraceEntry) and record.seq == 3):
            super().append(record)


def test_a_trace_that_lost_a_firing_does_not_reconcile():
    with pytest.raises(ReconciliationFailed) as e:
        evaluate_ledger(worked_example().build().rows, POLICY, PERIOD, {},
                        trace=LosesAnEntry(TraceEntry, chunk=5))
    assert str(e.value) == (f"{WORKED_EXAMPLE_FIRINGS} firings, "
                            f"{WORKED_EXAMPLE_FIRINGS - 1} recorded")


def test_a_run_whose_trace_lost_a_firing_stores_nothing(db_url, tmpdir_only, monkeypatch):
    engine_ = make_engine(db_url)
    store_import(engine_, worked_example().build(), PERIOD)
    before = db_state(db_url)
    monkeypatch.setattr(evaluator.runs, "Spool", LosesAnEntry)     # made before the fork
    with pytest.raises(EvaluationFailed) as e:
        evaluate_period(engine_, PERIOD, POLICY)
    assert str(e.value) == (f"ReconciliationFailed: {WORKED_EXAMPLE_FIRINGS} firings, "
                            f"{WORKED_EXAMPLE_FIRINGS - 1} recorded")
    assert open_under(tmpdir_only) == [] and db_state(db_url) == before


def test_rows_are_reconciled_from_their_marks_not_the_trace(monkeypatch):
    """The rows an acceptance ended are marked as the firings are recorded: without the mark
    of rating.accept, the worked example's four ratings (InternalRatings rows 2–4, RaciRatings
    row 2, all accepted) ended no way."""
    monkeypatch.setattr(evaluator.evaluate, "ENDINGS",
                        {"behaviour.accept": "applied", "rating.carried": "carried"})
    with pytest.raises(ReconciliationFailed) as e:
        evaluate_ledger(worked_example().build().rows, POLICY, PERIOD, {})
    assert str(e.value) == "; ".join(
        f"{sheet} row {row} ended neither applied, rejected nor carried"
        for sheet, row in (("InternalRatings", 2), ("InternalRatings", 3), ("InternalRatings", 4),
                           ("RaciRatings", 2)))


def test_a_second_pass_writes_over_the_first_in_the_same_spool(small_chunks):
    """A stored decision whose rows changed lapses: _compute evaluates again without it, into
    the same spool, which then holds the second pass's 22 firings only — with the rating
    the lapsed confirmation had let count held again, as it is without any decision."""
    lapsed = {"Re8142e982af0": {"decision": "confirm", "source_hash": "0" * 64,
                                "file_sha256": "0" * 64, "row": 2, "reviewer_id": "HR"}}
    inputs = _Inputs(1, "ledger.xlsx", "f" * 64, worked_example().build().rows, lapsed, 1)
    spool = Spool(TraceEntry)
    _, result, _, _, in_force, _ = _compute(inputs, POLICY, PERIOD, "en", trace=spool)
    assert in_force == {}
    assert result.trace is spool and len(spool) == WORKED_EXAMPLE_FIRINGS
    assert [t.rule for t in spool if t.rule in ("rating.count", "rating.hold")] == \
           ["rating.count", "rating.count", "rating.hold", "rating.count"]
    assert result.departments is None                   # _compute leaves the finals to readers
    d3 = next(d for d in finals(inputs.rows, result.adjustments)["departments"]
              if d["dept_id"] == "D3")
    assert str(d3["final"]) == "82.41"                  # tests/test_runs.py


def test_nothing_is_left_in_tmpdir_when_the_run_process_is_killed(tmp_path, db_url, monkeypatch):
    """The spool's file never had a name: killing the process that made it (at the commit,
    the child done and the spool full) leaves nothing to remove."""
    from reports.template import write_ledger
    from tests.test_crash_safety import xietong
    where = tmp_path / "tmp"
    where.mkdir()
    monkeypatch.setenv("TMPDIR", str(where))
    ledger = tmp_path / "ledger.xlsx"
    write_ledger(ledger, worked_example().build().rows, lang="en")
    assert xietong("import", ledger, "--period", PERIOD, "--db", db_url).returncode == 0
    p = xietong("evaluate", "--period", PERIOD, "--db", db_url, fault="kill:evaluate-commit")
    assert p.returncode == -signal.SIGKILL
    assert os.listdir(where) == []


def test_fields_are_each_records_fields_in_order_without_records():
    """Spool.fields: what the store reads — each record's fields as a plain tuple, in order,
    over the chunks on the file and the chunk still being filled."""
    spool = Spool(TraceEntry, chunk=3)
    try:
        entries = [TraceEntry(i, f"r{i % 2}", None if i % 3 else f"S{i}", [("Sheet", i + 2)],
                              {} if i % 2 else {"outcomes": [{"note": "x"}]}) for i in range(8)]
        spool.extend(entries)
        got = list(spool.fields())
        assert got == [tuple(e) for e in entries]
        assert all(type(f) is tuple for f in got)
        # by hand: two chunks of three on the file, two records still in the filling chunk
        assert got[0] == (0, "r0", "S0", [("Sheet", 2)], {"outcomes": [{"note": "x"}]})
        assert got[7] == (7, "r1", None, [("Sheet", 9)], {})
    finally:
        spool.close()


def test_results_kept_on_files_are_the_results_held(tmpdir_only, monkeypatch):
    """The evaluation keeps its adjustments and exceptions on files as it makes them
    (evaluator.evaluate.RESULTS_CHUNK) and reads them back in order at the end: a record at a
    time, the results are those of chunks bigger than the run's, and no file is left but the
    trace's."""
    rows = worked_example().build().rows
    held = evaluate_ledger(rows, POLICY, PERIOD, {})
    written = []
    real = importers.spool.Spool._write

    def counting(self, records):
        written.append(len(records))
        return real(self, records)

    monkeypatch.setattr(evaluator.evaluate, "RESULTS_CHUNK", 1)
    monkeypatch.setattr(importers.spool.Spool, "_write", counting)
    on_files = evaluate_ledger(rows, POLICY, PERIOD, {})
    # the worked example (SPEC §9, tests/test_reference.py): 6 adjustments and 3 exceptions,
    # each written alone
    assert (len(held.adjustments), len(held.exceptions)) == (6, 3)
    assert written == [1] * 9
    assert on_files.adjustments == held.adjustments
    assert on_files.exceptions == held.exceptions
    assert len(open_under(tmpdir_only)) == 2            # the two evaluations' traces
    held.trace.close()
    on_files.trace.close()
    assert open_under(tmpdir_only) == []


def test_adjustments_put_in_order_on_a_file_are_the_ones_held(tmpdir_only, monkeypatch):
    """With a spool to go to (evaluate_ledger's adjustments_to, as the run's child), the
    ordered adjustments are merged onto it from the chunks they were made in — runs of a
    chunk each, read a block at a time — and are the list an evaluation returns otherwise; the
    merge's own file is gone with it. The finals, summed from adjustments held, refuse it."""
    rows = worked_example().build().rows
    held = evaluate_ledger(rows, POLICY, PERIOD, {})
    monkeypatch.setattr(evaluator.evaluate, "RESULTS_CHUNK", 2)
    monkeypatch.setattr(rules.context, "MERGE_BLOCK", 1)
    into = Spool(chunk=2)
    into.append(("left from an earlier pass",))
    spooled = evaluate_ledger(rows, POLICY, PERIOD, {}, finals=False, adjustments_to=into)
    assert spooled.adjustments is into
    # the worked example's six adjustments (SPEC §9), in the order tests/test_reference.py
    # pins, and nothing else
    assert [a for (a,) in into.fields()] == held.adjustments
    assert [(a["mechanism"], a["subject_id"]) for (a,) in into.fields()] == [
        (a["mechanism"], a["subject_id"]) for a in held.adjustments]
    assert len(into) == 6
    assert len(open_under(tmpdir_only)) == 3            # two traces and `into`
    with pytest.raises(ValueError, match="finals"):
        evaluate_ledger(rows, POLICY, PERIOD, {}, adjustments_to=into)
    for spool in (into, held.trace, spooled.trace):
        spool.close()
    assert open_under(tmpdir_only) == []


@settings(max_examples=150, deadline=None)
@given(keys=st.lists(st.tuples(st.integers(0, 4), st.sampled_from(["D1", "D2", "E10"])),
                     max_size=40),
       chunk=st.integers(1, 9), block=st.integers(1, 5), pending=st.booleans())
def test_the_merge_of_runs_is_a_stable_sort(keys, chunk, block, pending):
    """merged_in_key_order, for any keys (equal ones too), chunk of the making and block of the
    runs, with or without a last chunk still being filled: the items in the order of a stable
    sort of the pairs by key, each once."""
    made = Spool(Keyed, chunk=chunk)
    saved, rules.context.MERGE_BLOCK = rules.context.MERGE_BLOCK, block
    try:
        pairs = [Keyed(key, {"made": i}) for i, key in enumerate(keys)]
        made.extend(pairs)
        if not pending:
            made.flush()
        got = list(merged_in_key_order(made))
    finally:
        rules.context.MERGE_BLOCK = saved
        made.close()
    assert got == [item for _, item in sorted(pairs, key=lambda kv: kv[0])]

"""api.import_and_evaluate (what `xietong run` does): the evaluation started from the
validated ledger's rows while they are stored (evaluator.runs.start_before_stored) gives the
run that importing and then evaluating gives — the same firings, results and report files —
is never older than its import, and is dropped (for the usual evaluation) or stopped whenever
the import does not end as a new stored import."""
import json

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

import evaluator.runs as runs
import xietong
from evaluator.db import ImportActivation, LedgerImport, Run
from reports.template import write_ledger
from tests.dbs import db_state
from tests.ledgers import PERIOD, random_ledger, worked_example
from tests.test_parallel_feed import no_child_left


@pytest.fixture
def two_cores(monkeypatch):
    monkeypatch.setenv("XIETONG_WORKERS", "2")


@pytest.fixture
def started(monkeypatch):
    """What each start_before_stored call returned (None: nothing was started)."""
    calls = []
    real = runs.start_before_stored

    def recording(*args, **kwargs):
        got = real(*args, **kwargs)
        calls.append(got)
        return got

    monkeypatch.setattr(runs, "start_before_stored", recording)
    return calls


def _written(db, out):
    """The run's report files (JSON) but the manifest, which names the run's time."""
    xietong.report(db, PERIOD, out, formats={"json"})
    return {name: (out / name).read_bytes()
            for name in ("adjustments.json", "exceptions.json", "scores.json", "trace.json")}


def _ledger_with_decisions(tmp_path):
    """The worked example, with a Reviews sheet deciding one of its review items (decisions
    from the ledger are recorded by the run: their file name and hash come from the import)."""
    path = tmp_path / "first.xlsx"
    write_ledger(path, worked_example().build().rows, lang="en")
    with xietong.open_database(f"sqlite:///{tmp_path / 'probe.db'}") as db:
        xietong.import_ledger(db, path, PERIOD)
        xietong.evaluate(db, PERIOD)
        xietong.report(db, PERIOD, tmp_path / "probe", formats={"json"})
    items = json.loads((tmp_path / "probe" / "exceptions.json").read_text("utf-8"))
    review = next(e for e in items if e["type"] == "review")
    builder = worked_example()
    builder.review(review["review_id"], "confirm", review["assignee_id"], comment="看过 =1")
    decided = tmp_path / "decided.xlsx"
    write_ledger(decided, builder.build().rows, lang="zh")
    return decided


@pytest.mark.parametrize("which", ["worked example with a decision", "random ledger"])
def test_started_before_the_import_is_stored_the_run_is_the_same(which, tmp_path, new_db,
                                                                 two_cores, started):
    if which == "random ledger":
        path = tmp_path / "random.xlsx"
        write_ledger(path, random_ledger(31, 3).build().rows, lang="en")
    else:
        path = _ledger_with_decisions(tmp_path)
    with xietong.open_database(new_db("one")) as one, xietong.open_database(new_db("two")) as two:
        imported = xietong.import_ledger(one, path, PERIOD, lang="en")
        evaluated = xietong.evaluate(one, PERIOD, import_id=imported.import_id, lang="en")
        assert started == []
        both = xietong.import_and_evaluate(two, path, PERIOD, lang="en")
        assert len(started) == 1 and started[0] is not None        # it was started early
        assert both[0] == imported
        assert both[1].run_id == evaluated.run_id
        assert (both[1].firings, both[1].adjustments, both[1].exceptions, both[1].reviews,
                both[1].open_reviews, both[1].decisions_recorded) == \
            (evaluated.firings, evaluated.adjustments, evaluated.exceptions, evaluated.reviews,
             evaluated.open_reviews, evaluated.decisions_recorded)
        if which != "random ledger":
            assert evaluated.decisions_recorded == 1 and evaluated.open_reviews == 2
        assert list(xietong.firings(two, PERIOD)) == list(xietong.firings(one, PERIOD))
        assert _written(two, tmp_path / "two") == _written(one, tmp_path / "one")
        assert xietong.verify(two).ok
        with Session(one.engine) as a, Session(two.engine) as b:
            from evaluator.db import Decision
            assert [(d.review_id, d.decision, d.file_name, d.file_sha256, d.source_hash, d.row)
                    for d in a.exec(select(Decision))] == \
                [(d.review_id, d.decision, d.file_name, d.file_sha256, d.source_hash, d.row)
                 for d in b.exec(select(Decision))]
        close_spooled_rows(both[1])
    no_child_left()


def close_spooled_rows(result):
    from importers.spooled import close_spooled
    close_spooled(result.ledger_rows)


def test_the_run_is_not_older_than_the_import_it_evaluates(tmp_path, db_url, two_cores, started):
    path = tmp_path / "l.xlsx"
    write_ledger(path, worked_example().build().rows, lang="en")
    with xietong.open_database(db_url) as db:
        imported, evaluated = xietong.import_and_evaluate(db, path, PERIOD)
        assert started[0] is not None
        with Session(db.engine) as s:
            run = s.get(Run, evaluated.run_id)
            imp = s.get(LedgerImport, imported.import_id)
            activation = s.exec(select(ImportActivation)).one()
            # the evaluation's clock was taken before the import was stored: the import is
            # stamped with it, so the run did not start before its import
            assert run.started_at == imp.imported_at == activation.activated_at
        report = xietong.report(db, PERIOD, tmp_path / "out", formats={"json"},
                                evaluated=evaluated)
        assert report.stale is False
        assert xietong.verify(db).ok


def test_the_same_file_again_is_evaluated_from_its_stored_rows(tmp_path, db_url, two_cores,
                                                               started, monkeypatch):
    """An import that stores nothing (the period's active file again) drops the evaluation it
    started: the stored rows are evaluated, as evaluate would, and no child is left."""
    path = tmp_path / "l.xlsx"
    write_ledger(path, worked_example().build().rows, lang="en")
    read = []
    real = runs._read_inputs
    monkeypatch.setattr(runs, "_read_inputs",
                        lambda *a, **kw: read.append(kw.get("ledger")) or real(*a, **kw))
    with xietong.open_database(db_url) as db:
        first = xietong.import_and_evaluate(db, path, PERIOD)
        again = xietong.import_and_evaluate(db, path, PERIOD)
        assert (first[0].status, again[0].status) == ("stored", "unchanged")
        assert started[0] is not None and started[1] is not None
        # the first read nothing (no database yet); the second read with the ledger (and
        # started), then, once the import stored nothing, from the database
        assert [x is None for x in read] == [False, True]
        assert again[1].run_id == first[1].run_id + 1
        assert (again[1].adjustments, again[1].exceptions) == \
            (first[1].adjustments, first[1].exceptions)
        for result in (first[1], again[1]):
            close_spooled_rows(result)
    no_child_left()


def test_a_store_that_fails_stops_the_evaluation_it_started(tmp_path, db_url, two_cores,
                                                            started, monkeypatch):
    path = tmp_path / "l.xlsx"
    write_ledger(path, worked_example().build().rows, lang="en")
    with xietong.open_database(db_url) as db:
        october = tmp_path / "october.xlsx"     # a database, with another month in it
        write_ledger(october, random_ledger(5, 1).build().rows, lang="en")
        xietong.import_ledger(db, october, "2026-10", force=True)
        before = db_state(db_url)
        import evaluator.store
        monkeypatch.setattr(evaluator.store, "ROWS_APART_MIN", 0)    # the rows made apart …
        monkeypatch.setenv("XIETONG_FAULT", "kill:import-made")      # … by a maker that dies
        with pytest.raises(xietong.Refused) as e:
            xietong.import_and_evaluate(db, path, PERIOD, lang="en")
        assert e.value.lines == ["the process making the ledger's rows to store ended abruptly "
                                 "(signal SIGKILL); nothing was stored"]
        assert started[0] is not None
        assert db_state(db_url) == before
    no_child_left()


def test_a_refused_evaluation_leaves_the_import_stored_and_said(tmp_path, db_url, two_cores,
                                                                started):
    """A policy that does not load starts nothing: the import is stored (and `on_import` told),
    then the evaluation is refused as evaluate refuses it."""
    path = tmp_path / "l.xlsx"
    write_ledger(path, worked_example().build().rows, lang="en")
    policy = tmp_path / "policy.toml"
    policy.write_text("[linkage]\nweight = 'heavy'\n", encoding="utf-8")
    told = []
    with xietong.open_database(db_url) as db:
        with pytest.raises(xietong.Refused) as e:
            xietong.import_and_evaluate(db, path, PERIOD, lang="en", policy=str(policy),
                                        on_import=told.append)
        with pytest.raises(xietong.Refused) as alone:
            xietong.evaluate(db, PERIOD, policy=str(policy), lang="en")
        assert e.value.lines == alone.value.lines
        assert started == []
        assert [t.status for t in told] == ["stored"]
        assert xietong.status(db)[0].active_import["sha256"] == told[0].file_sha256
        with Session(db.engine) as s:
            assert s.exec(select(sa.func.count()).select_from(Run)).one() == 0
    no_child_left()


def test_one_core_imports_then_evaluates(tmp_path, db_url, monkeypatch, started):
    monkeypatch.setenv("XIETONG_WORKERS", "1")
    path = tmp_path / "l.xlsx"
    write_ledger(path, worked_example().build().rows, lang="en")
    with xietong.open_database(db_url) as db:
        imported, evaluated = xietong.import_and_evaluate(db, path, PERIOD)
        assert started == []
        assert (imported.status, evaluated.adjustments, evaluated.exceptions) == ("stored", 6, 3)
        close_spooled_rows(evaluated)

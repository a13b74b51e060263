"""The library API (xietong.api) that every face calls: the worked example of SPEC §9 through
it, refusals as data, what a database holds, and results that stream. Nothing here prints."""
import collections.abc
import json
from decimal import Decimal

import pytest
import sqlalchemy as sa

import xietong
from reports.template import write_ledger
from tests.dbs import db_state
from tests.ledgers import PERIOD, worked_example


@pytest.fixture
def db(db_url):
    with xietong.open_database(db_url) as handle:
        yield handle


@pytest.fixture
def ledger(tmp_path):
    path = tmp_path / "ledger.xlsx"
    write_ledger(path, worked_example().build().rows, lang="en")
    return path


def test_the_worked_example_through_the_library(db, ledger, tmp_path, capsys):
    imported = xietong.import_ledger(db, ledger, PERIOD)
    assert (imported.status, imported.import_id, imported.lang) == ("stored", 1, "en")
    assert imported.rows_per_sheet["InternalRatings"] == 3     # SPEC §9: ratings 4, 4 and 5
    run = xietong.evaluate(db, PERIOD)
    # SPEC §9: linkage 8.11 + 5.35, peripheral 2.25, raci -1.50, interlock -1.80 for D3, and
    # D1's share of the missed interlock (-4.20): six adjustments; the held 5 (RATING_EXTREME)
    # and the two post-mortems (INTERLOCK_MISSED): three open reviews.
    assert (run.run_id, run.adjustments, run.exceptions, run.reviews, run.open_reviews) == \
        (1, 6, 3, 3, 3)
    written = xietong.report(db, PERIOD, tmp_path / "out", formats={"json"})
    assert sorted(p.name for p in written.written) == [
        "adjustments.json", "exceptions.json", "manifest.json", "scores.json", "trace.json"]
    assert written.chain is None and not written.stale
    scores = json.loads((tmp_path / "out" / "scores.json").read_text("utf-8"))
    d3 = next(d for d in scores["departments"] if d["dept_id"] == "D3")
    assert d3["final"] == 82.41
    assert capsys.readouterr() == ("", "")          # a library speaks through its results

    firings = xietong.firings(db, PERIOD)
    assert isinstance(firings, collections.abc.Iterator)
    firings = list(firings)
    assert [f["seq"] for f in firings] == list(range(1, run.firings + 1))
    blends = [f for f in firings if f["rule"] == "linkage.blend"]
    assert [f["sources"] for f in blends] == [
        [{"sheet": "Linkage", "row": 2}, {"sheet": "CompanyKPIs", "row": 2},
         {"sheet": "Departments", "row": 3}],
        [{"sheet": "Linkage", "row": 3}, {"sheet": "CompanyKPIs", "row": 3},
         {"sheet": "Departments", "row": 3}]]
    departments = xietong.ledger_rows(db, PERIOD, "Departments")
    assert isinstance(departments, collections.abc.Iterator)
    d3_row = next(r for r in departments if r["dept_id"] == "D3")
    assert (d3_row["row"], d3_row["base_score"], d3_row["tier"]) == (3, Decimal("70"), "back")


def test_a_refused_ledger_is_data_and_stores_nothing(db, ledger, tmp_path, db_url):
    xietong.import_ledger(db, ledger, PERIOD)
    before = db_state(db_url)
    rows = worked_example().build().rows
    rows["Departments"][0] = dict(rows["Departments"][0], base_score=Decimal("250"))
    bad = tmp_path / "bad.xlsx"
    write_ledger(bad, rows, lang="en")
    with pytest.raises(xietong.Refused) as refused:
        xietong.import_ledger(db, bad, PERIOD)
    (problem,) = refused.value.problems
    assert (problem.sheet, problem.cell, problem.column, problem.found) == \
        ("Departments", "E2", "base_score", "250")
    assert refused.value.lines == [
        f"{bad}: the ledger was refused, 1 problem(s):",
        "  Departments!E2 (base_score): expected a number from 0 to 200, got 250",
        "Nothing was stored."]
    assert db_state(db_url) == before


def test_refusals_of_a_period_without_import_or_run(db, ledger, tmp_path):
    if db.url.startswith("sqlite"):
        # no database file yet: reading commands refuse rather than start an empty history
        for call in (lambda: xietong.evaluate(db, PERIOD), lambda: xietong.verify(db),
                     lambda: xietong.report(db, PERIOD, tmp_path / "out")):
            with pytest.raises(xietong.Refused) as e:
                call()
            assert e.value.lines == [f"there is no xietong database at {db.url}: import a ledger "
                                     "first (xietong import LEDGER --period YYYY-MM), or name "
                                     "the database with --db"]
        assert not db.exists() and xietong.status(db) == []
    # the same file for another period is refused unless forced (SPEC §10.2): forced here
    xietong.import_ledger(db, ledger, "2026-10", force=True)
    with pytest.raises(xietong.Refused) as e:
        xietong.evaluate(db, PERIOD)
    assert e.value.lines == ["no ledger imported for 2026-11: run `xietong import LEDGER "
                             "--period 2026-11` first"]
    with pytest.raises(xietong.Refused) as e:
        xietong.verify(db, PERIOD)
    assert e.value.lines == [f"nothing to verify: no ledger was ever imported for 2026-11 "
                             f"(database {db.url})"]
    xietong.import_ledger(db, ledger, PERIOD, force=True)
    with pytest.raises(xietong.Refused) as e:
        xietong.report(db, PERIOD, tmp_path / "out")
    assert e.value.lines == ["no evaluation of 2026-11 yet: run `xietong evaluate --period "
                             "2026-11` first"]
    with pytest.raises(xietong.Refused):
        next(xietong.firings(db, PERIOD))


def test_status_follows_imports_and_runs(db, ledger, tmp_path):
    assert xietong.status(db) == []
    if db.url.startswith("sqlite"):
        assert not db.exists()                      # asking created nothing
    imported = xietong.import_ledger(db, ledger, PERIOD)
    (p,) = xietong.status(db)
    assert p.period == PERIOD and p.latest_run is None
    assert p.active_import["sha256"] == imported.file_sha256
    xietong.evaluate(db, PERIOD)
    (p,) = xietong.status(db, PERIOD)
    assert (p.adjustments, p.exceptions, p.reviews_open, p.reviews_decided) == (6, 3, 3, 0)
    assert p.latest_run["run_id"] == 1 and not p.latest_run["out_of_date"]
    # a corrected ledger makes the run out of date until the period is evaluated again
    rows = worked_example().build().rows
    rows["Departments"][0] = dict(rows["Departments"][0], base_score=Decimal("71"))
    corrected = tmp_path / "corrected.xlsx"
    write_ledger(corrected, rows, lang="en")
    xietong.import_ledger(db, corrected, PERIOD)
    (p,) = xietong.status(db)
    assert p.latest_run["out_of_date"] and p.active_import["import_id"] == 2
    assert xietong.status(db, "2026-10") == []


def test_verify_names_a_changed_record(db, ledger, db_url):
    xietong.import_ledger(db, ledger, PERIOD)
    xietong.evaluate(db, PERIOD)
    good = xietong.verify(db)
    assert good.ok and good.problem is None and good.head_seq == good.checked
    with sa.create_engine(db_url).begin() as c:
        c.execute(sa.text("UPDATE adjustment SET points = '9.11' WHERE ord = 1"))
    bad = xietong.verify(db)
    assert not bad.ok and bad.problem.endswith("was changed")
    assert bad.problem.startswith("adjustment ")


def _other_ledger(tmp_path):
    rows = worked_example().build().rows
    rows["Departments"][0] = dict(rows["Departments"][0], base_score=Decimal("71"))
    path = tmp_path / "other.xlsx"
    write_ledger(path, rows, lang="en")
    return path


def test_a_run_never_reports_another_files_results(db, ledger, tmp_path, db_url):
    """Issue: two `xietong run` of one period started together; the first evaluated the
    second's ledger. Evaluating with the import it made, a run refuses when another import
    became active before it read the ledger, and when one did while it computed."""
    mine = xietong.import_ledger(db, ledger, PERIOD)
    other = xietong.import_ledger(db, _other_ledger(tmp_path), PERIOD)
    before = db_state(db_url)
    with pytest.raises(xietong.Refused) as e:
        xietong.evaluate(db, PERIOD, import_id=mine.import_id)
    assert e.value.lines == [
        f"import #1 (ledger.xlsx, sha256 {mine.file_sha256[:16]}) was stored, but meanwhile "
        f"import #2 (other.xlsx, sha256 {other.file_sha256[:16]}) became the active ledger of "
        "2026-11: nothing was evaluated. Run `xietong evaluate --period 2026-11` to evaluate the "
        "active ledger, or import ledger.xlsx again to make it active"]
    assert db_state(db_url) == before


def test_an_import_that_lands_while_a_run_computes_refuses_it(db, ledger, tmp_path, db_url,
                                                               monkeypatch):
    import evaluator.runs as runs
    mine = xietong.import_ledger(db, ledger, PERIOD)
    compute = runs.Started.outcome

    def meanwhile(self):
        got = compute(self)
        xietong.import_ledger(db, _other_ledger(tmp_path), PERIOD)   # lands before the store
        return got

    monkeypatch.setattr(runs.Started, "outcome", meanwhile)
    with pytest.raises(xietong.Refused) as e:
        xietong.evaluate(db, PERIOD, import_id=mine.import_id)
    assert "became the active ledger of 2026-11: nothing was evaluated" in e.value.lines[0]
    assert xietong.status(db)[0].latest_run is None          # no run was stored
    # without import_id the evaluation follows the period's active ledger (it reads again)
    monkeypatch.setattr(runs.Started, "outcome", compute)
    run = xietong.evaluate(db, PERIOD)
    assert run.file_sha256 == xietong.status(db)[0].active_import["sha256"]


@pytest.mark.parametrize("lang, expected", [
    ("zh", ["生成待保存台账行的进程异常结束（signal SIGKILL），未写入任何数据"]),
    ("en", ["the process making the ledger's rows to store ended abruptly (signal SIGKILL); "
            "nothing was stored"])])
def test_an_import_whose_rows_maker_dies_is_refused_in_the_users_language(
        db, db_url, ledger, monkeypatch, lang, expected):
    """The rows to store made apart (evaluator.store's ROWS_APART_MIN lowered, two workers),
    their process killed: the import is refused with a sentence in the user's language, not a
    traceback, and the database holds nothing more."""
    import evaluator.store
    xietong.import_ledger(db, ledger, "2026-10")
    before = db_state(db_url)
    monkeypatch.setattr(evaluator.store, "ROWS_APART_MIN", 0)
    monkeypatch.setenv("XIETONG_WORKERS", "2")
    monkeypatch.setenv("XIETONG_FAULT", "kill:import-made")
    with pytest.raises(xietong.Refused) as e:
        xietong.import_ledger(db, ledger, PERIOD, lang=lang, force=True)   # the same file
    assert e.value.lines == expected
    assert db_state(db_url) == before

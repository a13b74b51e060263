"""The reports read a run's firings from the database as they write (evaluator.runs.RunFirings,
reports/facts.py), never holding them: what they write is exactly what the same writers write
from the whole run loaded as a list (load_run without `stream`, the way every report was made
before), on SQLite and, with XIETONG_TEST_DB, on PostgreSQL; a forked child is refused the
firings (a child never opens the database); and a run's firings read while another process
stores a new run of the same period are the run's own, from first to last."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from datetime import datetime, timedelta, timezone

import pytest
from sqlmodel import Session

import evaluator.runs
import xietong
from engine.isolation import ChildError, Forked
from evaluator.db import reader
from evaluator.runs import SPOOLED_SHEETS, RunFirings, latest_run, load_run
from evaluator.store import load_rows
from importers.spooled import SpooledRows
from reports import facts, feedback, json_files, reviews, statement, trace
from reports.labels import SHEET_ORDER
from rules.sources import RowSources
from tests.test_spool import open_under, tmpdir_only  # noqa: F401 - tmpdir_only is a fixture

PERIOD = "2026-11"
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)       # the first evaluation's start
ISSUED = datetime(2026, 12, 20, 9, 30, tzinfo=timezone.utc)
CHAIN = {"ok": True, "checked": 12, "problem": None, "head": "ab" * 32}


@pytest.fixture(scope="module")
def company(tmp_path_factory):
    """An 80-employee sample company, evaluated once (over a thousand firings, review items
    moved past their deadline, held ratings: every part of the facts the reports gather)."""
    from tests.dbs import ON_POSTGRES, create_database, drop_database
    tmp = tmp_path_factory.mktemp("report-stream")
    url = create_database() if ON_POSTGRES else f"sqlite:///{tmp / 'x.db'}"
    ledger = xietong.write_sample_ledger(tmp / "ledger.xlsx", employees=80, period=PERIOD,
                                         lang="zh")
    with xietong.open_database(url) as db, pytest.MonkeyPatch.context() as mp:
        clock = [T0]
        mp.setattr(evaluator.runs, "utcnow", lambda: clock[0])
        xietong.import_ledger(db, ledger, PERIOD)
        xietong.evaluate(db, PERIOD)
        clock[0] = T0 + timedelta(days=15)      # past the 14-day deadline: open items move up
        xietong.evaluate(db, PERIOD)
        yield db, tmp
    if ON_POSTGRES:
        drop_database(url)


def _write_all(out, rows, stored):
    """Every report file, by the writers `report` calls, with fixed stamps."""
    out.mkdir()
    files = [statement.write(out / "statement.xlsx", PERIOD, rows, stored, "zh",
                             {"ledger_file": "ledger.xlsx"}),
             trace.write_xlsx(out / "trace.xlsx", PERIOD, rows, stored, "zh", "zh",
                              "ledger.xlsx", CHAIN),
             trace.write_html(out / "trace.html", PERIOD, rows, stored, "zh", "zh",
                              "ledger.xlsx", CHAIN)]
    files += reviews.write(out / "reviews", PERIOD, rows, stored, "zh", "zh", issued_at=ISSUED)
    files += feedback.write(out / "feedback", PERIOD, rows, stored, "zh", "zh")
    files += json_files.write(out, PERIOD, rows, stored)
    return sorted(p.relative_to(out).as_posix() for p in files)


def _content(path):
    """A file's bytes; an xlsx file's members but its creation time (docProps/core.xml)."""
    if path.suffix != ".xlsx":
        return path.read_bytes()
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist() if n != "docProps/core.xml"}


def test_streamed_reports_are_the_whole_runs_reports(company):
    db, tmp = company
    with Session(reader(db.engine)) as s, s.begin():
        run = latest_run(s, PERIOD)
        rows = load_rows(s, run.import_id)
        whole = load_run(s, run)
        streamed = load_run(s, run, stream=db.engine, by_seq=True)
        assert "exceptions_by_seq" not in load_run(s, run, stream=db.engine)
    assert isinstance(streamed["firings"], RunFirings)
    assert isinstance(whole["firings"], list) and len(whole["firings"]) > 1000
    assert len(streamed["firings"]) == len(whole["firings"])
    assert list(streamed["firings"]) == whole["firings"]
    # the sentences adjustments and exceptions carry, read from just the firings they name;
    # streamed, the items are on files (read as often as asked, the same dicts each time)
    for key in ("adjustments", "exceptions"):
        assert isinstance(streamed[key], SpooledRows) and isinstance(whole[key], list)
        assert list(streamed[key]) == whole[key] == list(streamed[key])
        assert any(x["says"] for x in streamed[key])
        assert any(isinstance(x["sources"], RowSources) for x in streamed[key]) == \
            any(isinstance(x["sources"], RowSources) for x in whole[key])
        # and again in their firings' order, for the trace (reports.view.ItemsBySeq)
        assert list(streamed[f"{key}_by_seq"]) == sorted(whole[key],
                                                          key=lambda x: x["firing_seq"])
    # the run has what the facts are for: moved review items, held ratings
    assert any(f["rule"] == "review.escalate" for f in whole["firings"])
    assert any(f["rule"] == "rating.hold" for f in whole["firings"])
    names = _write_all(tmp / "whole", rows, whole)
    assert _write_all(tmp / "streamed", rows, streamed) == names
    assert {"trace.html", "trace.json", "trace.xlsx", "statement.xlsx"} <= set(names)
    for name in names:
        assert _content(tmp / "streamed" / name) == _content(tmp / "whole" / name), name
    # trace.json: the firings themselves, as stored (the library's own reading of them)
    trace_json = json.loads((tmp / "streamed" / "trace.json").read_text("utf-8"))
    assert trace_json == list(xietong.firings(db, PERIOD))


def test_a_run_loaded_compactly_writes_what_plain_lists_and_dicts_write(company):
    """load_run keeps a long list of sources as a RowSources and makes equal texts one object
    (evaluator.runs._loaded, _attach_says): the reports written from it are the reports of the
    same run as plain dicts, lists of tuples and sentences of their own."""
    from rules.sources import RowSources
    db, tmp = company
    with Session(reader(db.engine)) as s, s.begin():
        run = latest_run(s, PERIOD)
        rows = load_rows(s, run.import_id)
        stored = load_run(s, run, stream=db.engine)
    compact = [a for a in stored["adjustments"] if isinstance(a["sources"], RowSources)]
    assert compact and all(len(a["sources"]) > evaluator.runs.COMPACT_SOURCES for a in compact)
    plain = dict(stored)
    for key in ("adjustments", "exceptions"):
        plain[key] = [{**x, "sources": [tuple(s) for s in x["sources"]],
                       "says": json.loads(json.dumps(x["says"]))} for x in stored[key]]
        assert plain[key] == list(stored[key])
    names = _write_all(tmp / "plain", rows, plain)
    assert _write_all(tmp / "compact", rows, stored) == names
    for name in names:
        assert _content(tmp / "compact" / name) == _content(tmp / "plain" / name), name


def test_the_facts_are_gathered_once_and_agree_with_the_firings(company):
    db, _ = company
    with Session(reader(db.engine)) as s, s.begin():
        run = latest_run(s, PERIOD)
        whole = load_run(s, run)["firings"]
        stored = load_run(s, run, stream=db.engine)
    got = facts.of(stored)
    assert facts.of(stored) is got                      # kept with the run: one pass
    assert got == facts.gather(whole)
    assert got.count == len(whole)
    # by their definitions, from the list: every cited row once, in sheet order then row order
    assert list(got.cited_keys) == sorted({tuple(s) for f in whole for s in f["sources"]},
                                          key=lambda k: (SHEET_ORDER.get(k[0], 99), k[0], k[1]))
    assert got.rules == list(dict.fromkeys(f["rule"] for f in whole))
    held = {}                       # (department, sheet) -> the rows held, in firing order
    for f in whole:
        if f["rule"] == "rating.hold":
            sheet, row = f["sources"][0]
            held.setdefault((f["subject_id"], sheet), []).append(row)
    assert held and {k: list(v) for k, v in got.held.items()} == held
    assert "rating.hold" not in got.kept
    assert got.kept["linkage.blend"] == [
        {"rule": f["rule"], "subject_id": f["subject_id"], "sources": f["sources"]}
        for f in whole if f["rule"] == "linkage.blend"]
    tail = []
    for f in reversed(whole):
        if f["rule"] not in ("review.escalate", "review.stays"):
            break
        if f["rule"] == "review.escalate":
            tail.insert(0, f["outcome"])
    assert tail and [f["outcome"] for f in got.deadline_tail] == tail


def test_a_forked_child_is_refused_the_firings_and_the_parent_reads_on(company):
    """SQLite's lock bookkeeping is per process and a forked child inherits its parent's: a
    child never opens the database, so reading a run's firings there is refused, plainly."""
    db, _ = company
    with Session(reader(db.engine)) as s, s.begin():
        run = latest_run(s, PERIOD)
        stored = load_run(s, run, stream=db.engine)
        expected = [(f["seq"], f["rule"]) for f in load_run(s, run)["firings"]]
        child = Forked(lambda: [(f["seq"], f["rule"]) for f in stored["firings"]],
                       point="reports")
        with pytest.raises(ChildError) as refused:
            child.result()
        assert refused.value.kind == "RuntimeError"
        assert "never by a forked child" in str(refused.value)
        assert latest_run(s, PERIOD).id == run.id           # the parent's connection still works
    assert [(f["seq"], f["rule"]) for f in stored["firings"]] == expected


def two_ledgers(tmp_path):
    """Two different ledgers of the period: 40 employees, and 30 of another seed."""
    return (xietong.write_sample_ledger(tmp_path / "forty.xlsx", employees=40, period=PERIOD,
                                        lang="zh"),
            xietong.write_sample_ledger(tmp_path / "thirty.xlsx", employees=30, period=PERIOD,
                                        lang="zh", seed=3))


def test_a_run_read_while_a_new_run_is_stored_is_the_run_it_named(db_url, tmp_path):
    ledger, other = two_ledgers(tmp_path)
    with xietong.open_database(db_url) as db:
        xietong.import_ledger(db, ledger, PERIOD)
        named = xietong.evaluate(db, PERIOD).run_id
        with Session(reader(db.engine)) as s, s.begin():
            run = latest_run(s, PERIOD)
            assert run.id == named
            stored = load_run(s, run, stream=db.engine)
            expected = load_run(s, run)["firings"]
        assert len(expected) > 500
        reading = iter(stored["firings"])
        first = [next(reading) for _ in range(100)]

        # another ledger of the period imported and evaluated by another process
        command = [sys.executable, "-m", "xietong.cli", "run", str(other), "--period", PERIOD,
                   "--db", db_url, "--out", str(tmp_path / "theirs"), "--format", "json"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=300,
                              env={**os.environ, "XIETONG_LANG": "en"})
        assert done.returncode == 0, done.stderr
        with Session(reader(db.engine)) as s, s.begin():
            newer = latest_run(s, PERIOD).id
        assert newer > named
        assert first + list(reading) == expected            # the rest: still the named run's
        assert list(stored["firings"]) == expected          # and read again after it committed
        assert len(stored["firings"]) == len(expected)


def test_firings_split_over_sheets_are_read_a_sheet_at_a_time(company, monkeypatch):
    """More firings than a sheet holds (lowered here to 500 rows): each Firings sheet reads
    its own range from the database (RunFirings.range), and trace.html, written from the same
    reading (write_both), is still the whole page."""
    db, tmp = company
    monkeypatch.setattr(trace, "SHEET_ROWS", 500)
    with Session(reader(db.engine)) as s, s.begin():
        run = latest_run(s, PERIOD)
        rows = load_rows(s, run.import_id)
        whole = load_run(s, run)
        streamed = load_run(s, run, stream=db.engine)
    n = len(whole["firings"])
    assert [f["seq"] for f in streamed["firings"].range(499, 998)] == \
        [f["seq"] for f in whole["firings"][499:998]]
    out = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(trace, "write_html", None)     # write_both's second reading: never needed
        for name, stored in (("whole", whole), ("streamed", streamed)):
            out[name] = tmp / f"split-{name}"
            trace.write_both(out[name] / "trace.xlsx", out[name] / "trace.html", PERIOD, rows,
                             stored, "en", "zh", "ledger.xlsx", CHAIN)
    with zipfile.ZipFile(out["streamed"] / "trace.xlsx") as z:
        sheets = [n_ for n_ in z.namelist() if n_.startswith("xl/worksheets/sheet")]
    assert len(sheets) >= 2 + -(-n // 499)        # Run, Firings ×⌈n/499⌉, Sources…, why-not
    for name in ("trace.xlsx", "trace.html"):
        assert _content(out["streamed"] / name) == _content(out["whole"] / name), name
    assert (out["streamed"] / "trace.html").read_bytes() == trace_html(tmp, rows, whole)


def trace_html(tmp, rows, stored) -> bytes:
    """trace.html as write_html writes it alone (from its own reading of the firings)."""
    path = trace.write_html(tmp / "alone" / "trace.html", PERIOD, rows, stored, "en", "zh",
                            "ledger.xlsx", CHAIN)
    return path.read_bytes()


def test_trace_json_taken_from_the_trace_files_reading_is_the_one_written_alone(company,
                                                                                  tmp_path):
    """`report` writes trace.json from the firings trace.xlsx / trace.html read (one reading
    for the three): the same bytes as a report of JSON alone, whichever trace files are asked
    for, and the same as the library's own reading of the firings."""
    db, _ = company
    alone = xietong.report(db, PERIOD, tmp_path / "json", formats={"json"})
    assert alone.chain is None                       # JSON alone: no trace file, no reading
    expected = (tmp_path / "json" / "trace.json").read_bytes()
    assert json.loads(expected) == list(xietong.firings(db, PERIOD))
    for formats in ({"xlsx", "json"}, {"html", "json"}, {"xlsx", "html", "json"}):
        out = tmp_path / "-".join(sorted(formats))
        done = xietong.report(db, PERIOD, out, formats=formats)
        assert (out / "trace.json").read_bytes() == expected, formats
        assert done.files["json"][-1] == out / "trace.json"


def test_a_trace_json_not_given_every_firing_in_order_is_not_left_behind(company, tmp_path):
    """trace.json taken from another writer's reading is kept only when it saw the run's
    firings, each once and in seq order; else the file is removed (the report then writes
    it from a reading of its own)."""
    db, _ = company
    with Session(reader(db.engine)) as s, s.begin():
        firings = load_run(s, latest_run(s, PERIOD))["firings"]
    n = len(firings)
    with json_files.trace_writer(tmp_path / "a") as out:      # every firing, in order
        for f in firings:
            out.firing(f)
        assert out.whole(n)
        path = out.finish()
    assert json.loads(path.read_text("utf-8")) == list(xietong.firings(db, PERIOD))
    with json_files.trace_writer(tmp_path / "b") as out:      # two swapped
        for f in [firings[1], firings[0], *firings[2:]]:
            out.firing(f)
        assert not out.whole(n)
    with json_files.trace_writer(tmp_path / "c") as out:      # one missing
        for f in firings[1:]:
            out.firing(f)
        assert not out.whole(n)
    with pytest.raises(ZeroDivisionError):                     # the writing failed
        with json_files.trace_writer(tmp_path / "d") as out:
            out.firing(firings[0])
            1 / 0
    assert [p.name for p in tmp_path.glob("*/trace.json")] == ["trace.json"]
    assert (tmp_path / "a" / "trace.json").exists()
    with json_files.trace_writer(tmp_path / "e", wanted=False) as out:
        assert out is None


def handed_as_read(db, tmp_path, evaluated, formats, names):
    """A report handed its evaluation (`evaluated=`) writes the files `names` as a report that
    reads the run for itself does (an xlsx file: its members but the creation time)."""
    for folder, given in (("handed", evaluated), ("read", None)):
        xietong.report(db, PERIOD, tmp_path / folder, formats=formats, evaluated=given)
    for name in names:
        assert _content(tmp_path / "handed" / name) == _content(tmp_path / "read" / name), name


def test_a_report_reads_its_evaluations_sheets_back_from_their_files_and_closes_them(
        db_url, tmp_path, tmpdir_only):
    """An evaluation a report follows (`for_report`) hands it its transaction sheets still on
    the files it read them from: the report reads them back from there (its files as a report
    reading the database writes them) and closes them. A second report of the same evaluation
    reads those sheets from the database."""
    forty, _ = two_ledgers(tmp_path)
    with xietong.open_database(db_url) as db:
        xietong.import_ledger(db, forty, PERIOD)
        first = xietong.evaluate(db, PERIOD, for_report=True)
        on_files = {k: v for k, v in first.ledger_rows.items() if isinstance(v, SpooledRows)}
        assert sorted(on_files) == sorted(SPOOLED_SHEETS)
        assert not any(v.closed for v in on_files.values())
        assert len(on_files["InternalRatings"]) > 0
        names = ("scores.json", "adjustments.json", "exceptions.json", "trace.json", "trace.xlsx")
        handed_as_read(db, tmp_path, first, {"json", "xlsx"}, names)
        assert all(v.closed for v in on_files.values())
        assert open_under(tmpdir_only) == [] and os.listdir(tmpdir_only) == []
        xietong.report(db, PERIOD, tmp_path / "again", formats={"json", "xlsx"}, evaluated=first)
        for name in names:
            assert _content(tmp_path / "again" / name) == _content(tmp_path / "read" / name), name


def test_a_report_after_its_evaluation_shows_the_rows_it_read_and_only_its_own(db_url,
                                                                                tmp_path):
    """`xietong run` hands the report the ledger rows its evaluation read (`evaluated=`): the
    reports are those of a report reading the rows itself; an evaluation of another run (the
    period was evaluated again meanwhile) is ignored, its rows never shown."""
    forty, thirty = two_ledgers(tmp_path)
    with xietong.open_database(db_url) as db:
        xietong.import_ledger(db, forty, PERIOD)
        first = xietong.evaluate(db, PERIOD)
        assert len(first.ledger_rows["Employees"]) == 40
        handed_as_read(db, tmp_path, first, {"json", "xlsx"},
                       ("scores.json", "adjustments.json", "exceptions.json", "trace.json",
                        "trace.xlsx"))
        xietong.import_ledger(db, thirty, PERIOD)
        second = xietong.evaluate(db, PERIOD)
        done = xietong.report(db, PERIOD, tmp_path / "later", formats={"json"},
                              evaluated=first)            # not the run reported: ignored
        assert done.run_id == second.run_id != first.run_id
        assert done.employees == 30
        scores = json.loads((tmp_path / "later" / "scores.json").read_text("utf-8"))
        assert len(scores["employees"]) == 30


def test_the_facts_gathered_as_a_run_is_stored_are_those_read_back(db_url, tmp_path,
                                                                   monkeypatch):
    """`evaluate(for_report=True)` gathers what the reports need from all the firings as it
    stores them (reports/facts.py Gathering): exactly what a pass over the stored firings
    gathers — review items moved past their deadline and held ratings included — and the
    report that follows, which then reads the firings once fewer, writes the same files."""
    ledger = xietong.write_sample_ledger(tmp_path / "ledger.xlsx", employees=80, period=PERIOD,
                                         lang="zh")
    clock = [T0]
    monkeypatch.setattr(evaluator.runs, "utcnow", lambda: clock[0])
    with xietong.open_database(db_url) as db:
        xietong.import_ledger(db, ledger, PERIOD)
        xietong.evaluate(db, PERIOD)
        clock[0] = T0 + timedelta(days=15)      # past the 14-day deadline: open items move up
        done = xietong.evaluate(db, PERIOD, for_report=True)
        assert xietong.evaluate(db, PERIOD).firing_facts is None      # nobody asked
        with Session(reader(db.engine)) as s, s.begin():
            whole = load_run(s, latest_run(s, PERIOD))["firings"]
        got = done.firing_facts
        assert got == facts.gather(whole)
        assert got.count == len(whole) > 1000
        assert got.deadline_tail and got.held
        assert [f["outcome"] for f in got.deadline_tail] == [
            f["outcome"] for f in whole if f["rule"] == "review.escalate"][-len(got.deadline_tail):]
        # a report following the second evaluation (not the third, the latest) ignores them
        stale = xietong.report(db, PERIOD, tmp_path / "stale", formats={"html", "json"},
                               evaluated=done)
        assert stale.run_id != done.run_id
        latest = xietong.evaluate(db, PERIOD, for_report=True)
        handed_as_read(db, tmp_path, latest, {"html", "json"},
                       ("trace.html", "trace.json", "scores.json", "exceptions.json"))


def test_the_trace_holds_a_bounded_number_of_cited_rows_and_writes_the_same_file(company,
                                                                                  monkeypatch):
    """CitedRows holds at most HELD texts of cited rows, emptied when full (a text per cited
    row was 474 MB at 100,000 employees): with HELD lowered to 3, so that the held texts are
    dropped hundreds of times, trace.xlsx is the same file."""
    from reports import view
    db, tmp = company
    with Session(reader(db.engine)) as s, s.begin():
        run = latest_run(s, PERIOD)
        rows = load_rows(s, run.import_id)
        stored = load_run(s, run, stream=db.engine)
    held, dropped = tmp / "cited-held" / "trace.xlsx", tmp / "cited-dropped" / "trace.xlsx"
    trace.write_xlsx(held, PERIOD, rows, stored, "zh", "zh", "ledger.xlsx", CHAIN)
    sizes, dicts, real = [], set(), view.CitedRows.__call__

    def spy(self, sheet, row):
        entry = real(self, sheet, row)
        sizes.append(len(self.lines))
        dicts.add(id(self.lines))       # emptied, never replaced: the renderer holds it
        return entry
    monkeypatch.setattr(view.CitedRows, "HELD", 3)
    monkeypatch.setattr(view.CitedRows, "__call__", spy)
    trace.write_xlsx(dropped, PERIOD, rows, stored, "zh", "zh", "ledger.xlsx", CHAIN)
    assert len(facts.of(stored).cited_keys) > 300 and max(sizes) == 3 and len(dicts) == 1
    assert _content(dropped) == _content(held)


def test_firings_citing_many_rows_are_written_in_pieces_as_the_same_files(company, tmp_path,
                                                                         monkeypatch):
    """A firing citing more than json_files.LONG_SOURCES rows (a department's blend: 30,000 at
    100,000 employees) goes to trace.json and trace.html in pieces of that many sources, after
    the entries before it, and trace.xlsx's rows are deflated in chunks of at most
    workbook.CHUNK_CHARS characters: with both lowered so that every firing citing more than
    two rows is cut, and every row is a chunk of its own, the three files are the same."""
    from reports import workbook
    db, _ = company
    with Session(reader(db.engine)) as s, s.begin():
        run = latest_run(s, PERIOD)
        rows = load_rows(s, run.import_id)
        stored = load_run(s, run, stream=db.engine)
    many = [f for f in stored["firings"] if len(f["sources"]) > 2]
    assert len(many) > 10 and max(len(f["sources"]) for f in many) > 100

    def three(out):
        with json_files.trace_writer(out) as trace_json:
            trace.write_both(out / "trace.xlsx", out / "trace.html", PERIOD, rows, stored, "zh",
                             "zh", "ledger.xlsx", CHAIN, tap=trace_json.firing)
            assert trace_json.whole(len(stored["firings"]))
            trace_json.finish()
        return [_content(out / n) for n in ("trace.xlsx", "trace.html", "trace.json")]

    whole = three(tmp_path / "whole")
    writes = []
    real_chunks = workbook._chunks

    def chunks(*a):
        for data in real_chunks(*a):
            writes.append(len(data))
            yield data
    monkeypatch.setattr(json_files, "LONG_SOURCES", 2)
    monkeypatch.setattr(workbook, "CHUNK_CHARS", 1)
    monkeypatch.setattr(workbook, "_chunks", chunks)
    assert three(tmp_path / "pieces") == whole
    assert len(writes) > len(stored["firings"])        # a chunk a row, not 2,000 rows


def test_the_references_a_cell_cannot_hold_are_not_made(company):
    """CitedRows.texts with a `limit` stops making references once they are longer than it
    (a blend's 30,000 references were 2 MB of text for a cell of 32,000 characters): what a
    cell keeps of them (`clip`) is what it keeps of all of them."""
    from reports import view
    from reports.workbook import clip
    db, _ = company
    with Session(reader(db.engine)) as s, s.begin():
        rows = load_rows(s, latest_run(s, PERIOD).import_id)
    sources = [("InternalRatings", r["row"]) for r in rows["InternalRatings"]]
    assert len(sources) > 200
    cited = view.CitedRows(rows, "zh")
    refs, lines = cited.texts(sources, 5)
    made = []
    real = cited.reference
    cited.reference = lambda s, r: made.append(r) or real(s, r)
    for limit in (10, 100, 1000, len(refs) - 1, len(refs), len(refs) + 5):
        made.clear()
        cut, cut_lines = cited.texts(sources, 5, limit)
        assert clip(cut, limit) == clip(refs, limit) and cut_lines == lines, limit
        assert refs.startswith(cut)
        if limit < len(refs) // 2:
            assert len(made) < len(sources) // 2, limit
        if limit >= len(refs):
            assert cut == refs

"""The trace browser's filters (SPEC §12): subject, rule, mechanism, sheet and result of every
firing of a run, answered from an index table instead of the firings' JSON columns.

A 100,000-employee month stores 2.7 million firings, each with its sources and outcome as JSON
text. Filtering those by sheet or result means parsing every one (tens of seconds), so each run
gets, once, one `desk_firing_facet` row per firing and cited sheet — rule, mechanism (as the
trace reports name it: reports.labels.firing_mechanism), subject, sheet, result — with an index
per filter. A page is then one indexed count and one indexed range of `seq`, and the page's
firings are read by primary key.

The index is derived, never chained: it can be dropped and rebuilt at any time. It is built in
one write transaction (a reader sees all of a run's rows or none) by the desk's evaluation job
right after the run, or on the first request for a run evaluated from the command line.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session

from evaluator.canonical import OutcomeCodec, parse_sources
from evaluator.chain import BulkInsert
from evaluator.db import ExceptionItem, Firing, reader
from evaluator.desk_tables import FacetCount, FacetedRun, FiringFacet, ensure_tables
from reports.json_files import source_entries
from reports.labels import firing_mechanism
from rules.sources import base as base_sheet

FILTERS = ("subject", "rule", "mechanism", "sheet", "result")
RESULTS = ("adjustment", "exception", "note", "none")
_COLUMNS = ("run_id", "seq", "firing_id", "first", "rule", "mechanism", "subject_id", "sheet",
            "result")


def firing_result(outcome: dict) -> str:
    """What a firing produced, as the trace reports say it: an adjustment, an exception, a
    note, or nothing."""
    if "adjustments" in outcome:
        return "adjustment"
    if "exceptions" in outcome:
        return "exception"
    if any("note" in o for o in outcome.get("outcomes", ())):
        return "note"
    return "none"


def is_indexed(engine, run_id: int) -> bool:
    ensure_tables(engine)
    with Session(reader(engine)) as session, session.begin():
        return session.get(FacetedRun, run_id) is not None


def build(engine, run_id: int, progress=None) -> int:
    """Index one run's firings (nothing when it is indexed already); the number of firings."""
    ensure_tables(engine)
    with Session(engine) as session, session.begin():
        done = session.get(FacetedRun, run_id)
        if done is not None:
            return done.firings
        conn = session.connection()
        table = Firing.__table__
        q = (sa.select(table.c.id, table.c.seq, table.c.rule, table.c.subject_id,
                       table.c.sources, table.c.outcome)
             .where(table.c.run_id == run_id).order_by(table.c.seq))
        put = BulkInsert(conn, FiringFacet.__table__, _COLUMNS)
        results: dict[str, str] = {}          # outcome text -> result (most repeat)
        codec = OutcomeCodec()
        counts: dict[tuple[str, str], int] = {}
        n = 0
        contiguous = True
        # streamed (a server-side cursor on PostgreSQL): set on the statement, not on the
        # connection, whose inserts below must not go through a server-side cursor
        rows = conn.execute(q.execution_options(stream_results=True, yield_per=20000))
        for chunk in iter(lambda: list(itertools.islice(rows, 20000)), []):
            batch = []
            batch_firings: list[int] = []
            for fid, seq, rule, subject, sources_text, outcome_text in chunk:
                contiguous = contiguous and seq == n + len(batch_firings) + 1
                batch_firings.append(seq)
                result = results.get(outcome_text)
                if result is None:
                    result = firing_result(codec.value(outcome_text))
                    if len(results) < 10_000:
                        results[outcome_text] = result
                sources = parse_sources(sources_text)
                mechanism = firing_mechanism(rule, sources)
                # another month's row ("Sheet@YYYY-MM", rules/sources.py) under its sheet
                sheets = list(dict.fromkeys(base_sheet(s) for s, _ in sources)) or [""]
                for i, sheet in enumerate(sheets):
                    batch.append((run_id, seq, fid, 1 if i == 0 else 0, rule, mechanism,
                                  subject, sheet, result))
                    counts[("sheet", sheet)] = counts.get(("sheet", sheet), 0) + 1
                for key in (("rule", rule), ("mechanism", mechanism), ("result", result),
                            ("subject", subject or "")):
                    counts[key] = counts.get(key, 0) + 1
            put.tuples(batch)
            n += len(chunk)
            if progress is not None:
                progress("index", n, None, "firings")
        counts[("", "")] = n
        BulkInsert(conn, FacetCount.__table__, ("run_id", "dimension", "value", "n")).tuples(
            [(run_id, d, v[:255], c) for (d, v), c in sorted(counts.items())])
        session.add(FacetedRun(run_id=run_id, firings=n, contiguous=contiguous))
        # the planner's statistics, so that a page of two filters starts from the rarer one
        conn.exec_driver_sql("ANALYZE desk_firing_facet")
    return n


@dataclass
class Page:
    total: int
    offset: int
    limit: int
    items: list[dict]          # trace.json entries, plus "subject_id" and "id" (the firing's)


def query(engine, run_id: int, *, subject: str | None = None, rule: str | None = None,
          mechanism: str | None = None, sheet: str | None = None, result: str | None = None,
          review: str | None = None, offset: int = 0, limit: int = 50) -> Page:
    """One page of a run's firings in seq order, filtered (every filter exact; None or "" is
    no filter). `review`: the firing that raised that review item. The run must be indexed."""
    f = FiringFacet.__table__.c
    where = [f.run_id == run_id]
    where.append(f.sheet == sheet if sheet else f.first == 1)
    for column, value in ((f.subject_id, subject), (f.rule, rule), (f.mechanism, mechanism),
                          (f.result, result)):
        if value:
            where.append(column == value)
    with Session(reader(engine)) as session, session.begin():
        conn = session.connection()
        page_where = where
        if not (subject or rule or mechanism or sheet or result or review):
            faceted = session.get(FacetedRun, run_id)
            if faceted is not None and faceted.contiguous:
                # every firing, seq 1..n: the page starts at seq offset+1, found by the index
                # at once instead of stepping over `offset` entries
                page_where = [*where, f.seq > offset]
        if review:
            seqs = [s for (s,) in conn.execute(sa.select(ExceptionItem.__table__.c.firing_seq).where(
                ExceptionItem.__table__.c.run_id == run_id,
                ExceptionItem.__table__.c.review_id == review))]
            where.append(f.seq.in_(seqs or [-1]))
        given = [(d, v) for d, v in (("subject", subject), ("rule", rule),
                                     ("mechanism", mechanism), ("sheet", sheet),
                                     ("result", result)) if v]
        total = None
        if not review and len(given) <= 1:
            dimension, value = given[0] if given else ("", "")
            c = FacetCount.__table__.c
            total = conn.execute(sa.select(c.n).where(
                c.run_id == run_id, c.dimension == dimension, c.value == value)).scalar() or 0
        if total is None:
            total = conn.execute(sa.select(sa.func.count()).select_from(FiringFacet.__table__)
                                 .where(*where)).scalar() or 0
        ids = [i for (i,) in conn.execute(sa.select(f.firing_id).where(*page_where)
                                          .order_by(f.seq)
                                          .offset(offset if page_where is where else 0)
                                          .limit(limit))]
        items = []
        if ids:
            codec = OutcomeCodec()
            t = Firing.__table__.c
            found = {r.id: r for r in conn.execute(
                sa.select(t.id, t.seq, t.rule, t.subject_id, t.sources, t.outcome)
                .where(t.id.in_(ids)))}
            for i in ids:
                r = found[i]
                items.append({"seq": r.seq, "rule": r.rule,
                              "sources": source_entries(parse_sources(r.sources)),
                              "outcome": codec.value(r.outcome), "subject_id": r.subject_id})
    return Page(total, offset, limit, items)


def choices(counts: dict) -> dict[str, list[str]]:
    """The values each filter can take in a run (the browser's drop-downs), from the run's
    chained counts and the fixed lists: no scan of millions of rows."""
    from importers.schema import SHEETS
    from reports.labels import MECHANISMS
    return {"rule": sorted((counts or {}).get("by_rule", {})), "mechanism": list(MECHANISMS),
            "sheet": [s.name for s in SHEETS], "result": list(RESULTS)}

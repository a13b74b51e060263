"""Storing an imported ledger and reading a period's active ledger back (SPEC §3, §6).

One import is one transaction: the import record, every typed row with its Excel row and
content hash, the activation record and their chain links commit together or not at all.
Re-importing the period's active file (same SHA-256) writes nothing. Importing a file that was
imported for the period before (not the active one) re-activates it without storing its rows
twice; any other file is stored and becomes the active ledger. Every import stays for audit.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Iterator

import sqlalchemy as sa
from sqlmodel import Session, select

from evaluator import chain
from evaluator.canonical import GENESIS, RowsDigest, canonical_json, next_row_hash
from engine.isolation import ChildError, EvaluationCrashed, Streamed, fault
from evaluator.db import ROW_TABLES, ImportActivation, LedgerImport
from importers.columns import ColumnRows, same_key
from importers.memory import give_back_free_memory, row_maker
from importers.spooled import SpooledRows, close_spooled
from importers.result import Ledger
from importers.schema import SHEETS


@dataclass
class ImportOutcome:
    status: str                   # "stored" | "unchanged" | "reactivated"
    import_id: int
    rows_per_sheet: dict[str, int]
    previous_import_id: int | None = None


def active_import(session: Session, period: str) -> LedgerImport | None:
    return session.exec(select(LedgerImport).where(LedgerImport.period == period,
                                                   LedgerImport.active == True)).first()  # noqa: E712


def store_import(engine: sa.Engine, ledger: Ledger, period: str, progress=None,
                 account: str | None = None, at: datetime | None = None) -> ImportOutcome:
    """`account`: the desk's account that uploaded it, chained with the import and activation
    records (None from the command line). `at`: the import's time (its record's
    `imported_at`, its activation's `activated_at`), now unless given: `xietong run` gives the
    clock of the evaluation it started before storing the ledger
    (evaluator.runs.start_before_stored), so that the run is not older than its import."""
    stamp = {} if at is None else {"imported_at": at}
    with Session(engine) as session, session.begin():
        current = active_import(session, period)
        counts = {s.name: ledger.count(s.name) for s in SHEETS}
        if current is not None and current.sha256 == ledger.sha256:
            return ImportOutcome("unchanged", current.id, json.loads(current.rows_per_sheet))

        earlier = session.exec(select(LedgerImport).where(
            LedgerImport.period == period, LedgerImport.sha256 == ledger.sha256)
            .order_by(LedgerImport.id)).first()
        if earlier is not None:
            imp, status = earlier, "reactivated"
        else:
            imp = _store_rows(session, ledger, period, counts, progress, account, stamp)
            status = "stored"

        if current is not None:
            current.active = False
            session.add(current)
        imp.active = True
        session.add(imp)
        session.flush()
        activation = ImportActivation(period=period, import_id=imp.id,
                                      previous_import_id=current.id if current else None,
                                      account=account,
                                      **({} if at is None else {"activated_at": at}))
        session.add(activation)
        session.flush()
        chain.append(session, "activation", activation)
        session.flush()
        fault("import-commit")
        return ImportOutcome(status, imp.id, json.loads(imp.rows_per_sheet),
                             current.id if current else None)


# Imports of at least this many rows have their stored rows made (values converted for the
# driver, each row's hash after the one before) in a forked process of their own while this
# one inserts them (engine.isolation.Streamed): at 100,000 employees (981,000 rows) storing
# them took 11.6 s in one process, of which 5 s were the database's. A module constant so
# that a test can lower it.
ROWS_APART_MIN = 100_000


class StoreFailed(RuntimeError):
    """Storing an import's rows failed: nothing was stored. `crashed`: the process making
    them died (the message says how: a signal), else it raised (the message: the error)."""

    def __init__(self, message: str, crashed: bool = False):
        super().__init__(message)
        self.crashed = crashed


def _store_rows(session: Session, ledger: Ledger, period: str, counts, progress,
                account: str | None = None, stamp: dict | None = None) -> LedgerImport:
    from evaluator.evaluate import default_workers
    imp = LedgerImport(period=period, file_name=ledger.file_name, sha256=ledger.sha256,
                       rows_per_sheet=canonical_json(counts), rows_digest="",
                       lang=ledger.lang, warnings=canonical_json(list(ledger.warnings)),
                       account=account, **(stamp or {}))
    session.add(imp)
    session.flush()
    conn = session.connection()
    total = sum(counts.values())
    puts = {s.name: chain.BulkInsert(conn, ROW_TABLES[s.name],
                                     ("import_id", "row", "row_hash", *(c.name for c in s.columns)))
            for s in SHEETS if ledger.rows.get(s.name)}
    apart = (total >= ROWS_APART_MIN and default_workers() > 1
             and all(put.bulk for put in puts.values()))
    if apart:
        # forked inside this write transaction: the child reads the ledger's rows (in memory,
        # or on files read by position) and never touches the database; it starts with every
        # page this process holds, the heap's free ones handed back first
        give_back_free_memory()
    batches = Streamed(_made_rows, ledger.rows, imp.id, puts, point="import-made", apart=apart)
    done = 0
    try:
        for name, batch in batches:
            put = puts[name]
            put.tuples(batch, converted=put.bulk)
            fault("import-rows")
            done += len(batch)
            if progress:
                progress("store", done, total)
    except EvaluationCrashed as e:
        raise StoreFailed(str(e), crashed=True) from None
    except ChildError as e:
        raise StoreFailed(f"{e.kind}: {e}") from None
    finally:
        batches.cancel()
    if done != total:
        raise StoreFailed(f"{done} rows stored of the ledger's {total}")
    imp.rows_digest = batches.result
    session.add(imp)
    session.flush()
    chain.append(session, "import", imp)
    return imp


def _made_rows(rows: dict, imp_id: int, puts: dict):
    """(sheet, rows as stored: converted for the driver when its BulkInsert is `bulk`) a batch
    at a time, sheet by sheet in SHEETS order, each row's hash covering the previous one's;
    returns the rows' digest. One pass per row: its values in schema order give both the
    hashed text and the stored tuple (canonical.row_hash, without looking every value up
    twice); a batch at a time, since a transaction sheet is read back from its file
    (SpooledRows)."""
    digest = RowsDigest()
    prev = GENESIS
    for sheet in SHEETS:
        name = sheet.name
        if name not in puts:
            continue
        put = puts[name]
        names = [c.name for c in sheet.columns]
        read = iter(rows[name])
        while part := list(islice(read, 20000)):
            batch = []
            for r in part:
                values = list(map(r.get, names))
                excel_row = r["row"]
                prev = next_row_hash(prev, name, excel_row, values)
                digest.add(prev)
                batch.append((imp_id, excel_row, prev, *values))
            yield name, put.converted(batch) if put.bulk else batch
    return digest.hexdigest()


def load_rows(session: Session, import_id: int, sheets=None, spooled=(), by_column: bool = False
              ) -> dict[str, list[dict] | "SpooledRows" | ColumnRows]:
    """The typed rows of one import, per canonical sheet, in Excel-row order (only `sheets`,
    canonical names, when given).

    The sheets named in `spooled` are not held: each is a SpooledRows, its rows streamed from
    the database into an unnamed temporary file a batch at a time and read back from there,
    in order, each time it is iterated (the evaluation's transaction sheets: a
    100,000-employee month's 870,000 ratings and behaviours were 230 MB held in the process
    that evaluates, and in its parent). The caller closes them (close_spooled).

    Equal texts and dates are one object: a 100,000-employee ledger repeats a few dozen
    departments and dimensions and each rater in its million rating rows, and the driver
    returns a new string for each. They are immutable, so sharing them changes nothing a reader
    sees. The sheet's key columns (unique by definition) are left as they come, and so are
    numbers: Decimal("4") == Decimal("4.0"), so sharing them by equality would change how a
    value is written (db.ExactDecimal shares them by their stored text instead).

    A sheet's rows share one table of keys (importers.memory.row_maker): plain dicts all the
    same, 250 instead of 367 MB at 100,000 employees, in the evaluation and in the report
    alike. With `by_column`, the sheets that are not spooled are each a ColumnRows instead
    (importers/columns.py: 8 bytes a value; what the reports hold while they write)."""
    out: dict[str, list[dict] | SpooledRows | ColumnRows] = {}
    try:
        _load(session.connection(), import_id, sheets, spooled, by_column, out)
    except BaseException:
        close_spooled(out)                    # the files of the sheets read before
        raise
    return out


def _load(conn, import_id: int, sheets, spooled, by_column: bool, out: dict) -> None:
    """load_rows' reading, into `out`."""
    for sheet in SHEETS:
        if sheets is not None and sheet.name not in sheets:
            continue
        q, keys = sheet_query(sheet, import_id)
        if sheet.name in spooled:
            out[sheet.name] = spooled_rows(keys, as_read(conn, q))
            continue
        if by_column:
            out[sheet.name] = ColumnRows.from_records(keys, conn.execute(q),
                                                      sheet.shared_columns())
            continue
        make = row_maker(keys)                 # rows sharing one table of keys (above)
        out[sheet.name] = sharing_values((make(*rec).__dict__ for rec in conn.execute(q)),
                                          sheet.shared_columns())


def sheet_query(sheet, import_id: int) -> tuple[sa.Select, tuple[str, ...]]:
    """The query of one sheet's stored rows of an import, in Excel-row order, and the keys of
    its result rows' values: ("row", the sheet's columns in schema order)."""
    table = ROW_TABLES[sheet.name]
    names = [c.name for c in sheet.columns]
    q = sa.select(table.c.row, *(table.c[n] for n in names)).where(
        table.c.import_id == import_id).order_by(table.c.row)
    return q, ("row", *names)


def sharing_values(rows, shared: tuple[str, ...]) -> list[dict]:
    """The rows (dicts) in a list, the equal values of each of the `shared` columns made one
    object (load_rows says why; evaluator.runs.load_run does the same for a run's results)."""
    seen_in = [(name, {}) for name in shared]
    out = []
    append = out.append
    for r in rows:
        for name, seen in seen_in:
            value = r[name]
            r[name] = seen.setdefault(same_key(value), value)
        append(r)
    return out


SPOOL_READ = 10_000        # rows fetched from the database at a time into a SpooledRows


def spooled_rows(keys: tuple[str, ...], records, batch: int = SPOOL_READ) -> SpooledRows:
    """`records` (sequences of values in `keys` order, as they are read) into a SpooledRows,
    `batch` at a time: never all held."""
    rows, records = SpooledRows(keys), iter(records)
    while part := list(islice(records, batch)):
        rows.extend(part)
    rows.flush()
    return rows


def as_read(conn, query, batch: int = SPOOL_READ) -> Iterator:
    """The result rows of `query` as they are read, never all at once: sqlite3 steps through
    its cursor as rows are taken (iterating the result there was twice as fast as fetching its
    partitions: 1.1 against 2.0 s for 693,258 ratings); psycopg would fetch the whole result
    first, so PostgreSQL's are read `batch` at a time through a server-side cursor."""
    if conn.dialect.name == "sqlite":
        return iter(conn.execute(query))
    # for this statement only (Connection.execution_options would change the session's
    # connection for the rest of its transaction)
    result = conn.execute(query, execution_options={"yield_per": batch})
    return (r for part in result.partitions() for r in part)



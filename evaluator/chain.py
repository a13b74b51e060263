"""The tamper-evident audit chain (SPEC §6) and the content hashes it rests on.

Every chained record gets a `ChainLink`: seq 1, 2, 3 … with no gap, the previous link's hash,
and hash = SHA-256(prev_hash + canonical JSON of the record's content). Ledger rows are not
linked one by one in the chain (a million links a month buys nothing): they form a chain of
their own inside their import — each row's hash covers the previous row's hash and its own
content, in stored order — and the import's chained content holds the row counts per sheet and
the digest of all row hashes. So `verify` names the first changed row, and the place where a
row was deleted, inserted or moved.

What no hash chain can show by itself is the removal of its newest records (the tail): `verify`
prints the head (seq and hash) for auditors to note down and compare next time, and checks each
run's records against the counts its chained run record holds.

Canonical JSON: sorted keys, UTF-8, no spaces; Decimals as their exact text, dates ISO.
"""
from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Session, select

from evaluator.db import (ROW_TABLES, Adjustment, ChainLink, Decision, ExceptionItem, Firing,
                          ImportActivation, LedgerImport, Run, decimal_text)
from importers.schema import SHEETS

GENESIS = "0" * 64


def _default(v):
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, (date, datetime)):
        return v.isoformat()
    raise TypeError(f"not canonical-JSON serialisable: {type(v).__name__}")


def canonical_json(obj) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_default)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cell_text(v) -> str | None:
    """The canonical text of a typed ledger value, as every content hash spells it."""
    if v is None:
        return None
    if isinstance(v, (date, datetime)):
        return v.isoformat()
    if isinstance(v, Decimal):
        return decimal_text(v)
    return str(v)


def row_hash(sheet: str, row: dict, prev: str = GENESIS) -> str:
    """Hash of one typed ledger row, chained to the previous row of its import (`prev`, the
    previous row's hash; GENESIS for the first): sheet, Excel row, every column in schema order."""
    spec = _SHEET_COLUMNS[sheet]
    return sha256_text(prev + json.dumps([sheet, row["row"], *(cell_text(row.get(c)) for c in spec)],
                                         ensure_ascii=False, separators=(",", ":")))


def rows_digest(row_hashes_in_order) -> str:
    h = hashlib.sha256()
    for rh in row_hashes_in_order:
        h.update(rh.encode("ascii"))
    return h.hexdigest()


_SHEET_COLUMNS = {s.name: tuple(c.name for c in s.columns) for s in SHEETS}

# record_type -> SQLModel class of every chained record.
CHAINED: dict[str, type] = {
    "import": LedgerImport,
    "activation": ImportActivation,
    "run": Run,
    "firing": Firing,
    "adjustment": Adjustment,
    "exception": ExceptionItem,
    "decision": Decision,
}


def append(session: Session, record_type: str, record) -> ChainLink:
    """Link `record` (already flushed, so it has an id) at the end of the chain.

    Must run inside the caller's write transaction: on SQLite that transaction began with
    BEGIN IMMEDIATE (evaluator.db), on PostgreSQL the caller holds the chain lock, so no other
    writer can take the same seq.
    """
    last = session.exec(select(ChainLink).order_by(ChainLink.seq.desc()).limit(1)).first()
    seq = 1 if last is None else last.seq + 1
    prev = GENESIS if last is None else last.hash
    link = ChainLink(seq=seq, record_type=record_type, record_id=record.id, prev_hash=prev,
                     hash=sha256_text(prev + canonical_json(record.chain_content())))
    session.add(link)
    return link


class ChainWriter:
    """Links many records at once: reads the chain's tail once, hashes in memory, and inserts
    records and links in bulk. The caller pre-assigns record ids (`next_id`) inside its write
    transaction, which holds the database's write lock, so no other writer can take them."""

    def __init__(self, session: Session):
        self.session = session
        last = session.exec(select(ChainLink).order_by(ChainLink.seq.desc()).limit(1)).first()
        self.seq = 0 if last is None else last.seq
        self.prev = GENESIS if last is None else last.hash
        self.links: list[dict] = []

    def next_id(self, cls) -> int:
        top = self.session.exec(select(sa.func.max(cls.id))).one()
        return (top or 0) + 1

    def link(self, record_type: str, record) -> None:
        self.seq += 1
        h = sha256_text(self.prev + canonical_json(record.chain_content()))
        self.links.append({"seq": self.seq, "record_type": record_type, "record_id": record.id,
                           "prev_hash": self.prev, "hash": h})
        self.prev = h

    def insert(self, cls, records: list, record_type: str) -> None:
        """Insert `records` (model instances with ids set) and link them, in list order."""
        if not records:
            return
        rows = []
        for r in records:
            self.link(record_type, r)
            rows.append(r.model_dump())
        conn = self.session.connection()
        for i in range(0, len(rows), 20000):
            conn.execute(cls.__table__.insert(), rows[i:i + 20000])

    def insert_rows(self, cls, items, record_type: str, chunk: int = 20000) -> None:
        """insert() for plain rows: `items` yields (row dict with its id set, the record's
        chain content as canonical JSON text — what canonical_json(record.chain_content())
        gives). Rows and links go to the database a chunk at a time, so a run of millions of
        firings needs neither a model instance per record nor all of them in memory."""
        conn = self.session.connection()
        put_rows = _bulk_insert(conn, cls.__table__)
        put_links = _bulk_insert(conn, ChainLink.__table__)
        batch: list[dict] = []
        links: list[dict] = []
        seq, prev = self.seq, self.prev
        for row, content in items:
            seq += 1
            h = hashlib.sha256((prev + content).encode("utf-8")).hexdigest()
            links.append({"seq": seq, "record_type": record_type, "record_id": row["id"],
                          "prev_hash": prev, "hash": h})
            prev = h
            batch.append(row)
            if len(batch) >= chunk:
                put_rows(batch)
                put_links(links)
                batch, links = [], []
        self.seq, self.prev = seq, prev
        if batch:
            put_rows(batch)
            put_links(links)

    def flush(self) -> None:
        conn = self.session.connection()
        for i in range(0, len(self.links), 20000):
            conn.execute(ChainLink.__table__.insert(), self.links[i:i + 20000])
        self.links = []


def _bulk_insert(conn, table: sa.Table):
    """A function inserting a list of row dicts into `table`. On a qmark driver (SQLite) with
    no column needing a bind conversion it hands tuples straight to executemany, about 2.5x
    faster than SQLAlchemy's per-row parameter handling; otherwise the plain Core insert."""
    dialect = conn.dialect
    cols = list(table.columns)
    if dialect.paramstyle != "qmark" or any(c.type.bind_processor(dialect) is not None
                                            for c in cols):
        stmt = table.insert()
        return lambda rows: conn.execute(stmt, rows)
    quote = dialect.identifier_preparer.quote
    sql = (f"INSERT INTO {quote(table.name)} ({', '.join(quote(c.name) for c in cols)}) "
           f"VALUES ({', '.join('?' * len(cols))})")
    names = [c.name for c in cols]

    def put(rows: list[dict]) -> None:
        conn.exec_driver_sql(sql, [tuple(r.get(n) for n in names) for r in rows])
    return put


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    problem: str | None = None
    head_seq: int = 0            # the newest link: auditors note it, a later verify must reach it
    head_hash: str = ""


_STREAM = {"stream_results": True, "yield_per": 5000}


class _Records:
    """One record type's rows, streamed in id order and joined to the chain's links (which
    reach each type in increasing id order, as every writer assigns ids ascending). A link
    behind the stream, which only tampering produces, is looked up by id instead. Rows come
    back as plain dicts of column values: what each class's `content_of` takes."""

    def __init__(self, conn, cls):
        self.conn, self.table = conn, cls.__table__
        self.names = [c.name for c in self.table.columns]
        self.id_at = self.names.index("id")
        self.rows = None
        self.current = None
        self.skipped: list[int] = []          # ids passed over: not linked (so far)

    def _next(self):
        self.current = next(self.rows, None)

    def get(self, record_id: int) -> dict | None:
        if self.rows is None:
            q = sa.select(self.table).order_by(self.table.c.id)
            result = self.conn.execution_options(**_STREAM).execute(q)
            self.rows = itertools.chain.from_iterable(result.partitions())
            self._next()
        i = self.id_at
        while self.current is not None and self.current[i] < record_id:
            self.skipped.append(self.current[i])
            self._next()
        if self.current is not None and self.current[i] == record_id:
            row = self.current
            self._next()
            return dict(zip(self.names, row))
        if record_id in self.skipped:         # linked late
            self.skipped.remove(record_id)
        row = self.conn.execute(sa.select(self.table).where(self.table.c.id == record_id)).first()
        return None if row is None else dict(zip(self.names, row))

    def rest(self) -> list[int]:
        """Ids never linked: those passed over and those after the last link."""
        out = list(self.skipped)
        if self.rows is None:
            q = sa.select(self.table.c.id).order_by(self.table.c.id)
            return [r[0] for r in self.conn.execute(q)]
        while self.current is not None:
            out.append(self.current[self.id_at])
            self._next()
        return out


def _content_renderers() -> dict:
    """record type -> row dict -> canonical JSON of its chained content. Firings, millions a
    month, use the writer's own direct rendering (evaluator.runs), the rest `content_of`."""
    from evaluator.runs import _firing_content
    out = {t: (lambda row, cls=cls: canonical_json(cls.content_of(row))) for t, cls in CHAINED.items()}
    out["firing"] = _firing_content
    return out


def verify(session: Session, period: str | None = None) -> VerifyResult:
    """Recompute the whole chain; report the first record that is changed, missing, inserted
    or out of order. `period` narrows the row-level checks to that period's imports; the
    chain itself is always checked whole, since one link's hash covers all before it.

    Streams: the links in seq order, each record type in id order beside them (a merge join,
    not a lookup per link), so a million firings verify in seconds and in bounded memory."""
    conn = session.connection()
    records = {t: _Records(conn, cls) for t, cls in CHAINED.items()}
    render = _content_renderers()
    sha256 = hashlib.sha256
    prev = GENESIS
    expected_seq = 1
    checked = 0
    runs: dict[int, dict] = {}                 # run id -> counts its record promises
    per_run: dict[tuple[int, str], int] = {}   # (run id, type) -> records linked
    t = ChainLink.__table__.c
    links = conn.execution_options(**_STREAM).execute(
        sa.select(t.seq, t.record_type, t.record_id, t.prev_hash, t.hash).order_by(t.seq))
    for seq, rtype, rid, prev_hash, link_hash in itertools.chain.from_iterable(links.partitions()):
        if seq != expected_seq:
            return VerifyResult(False, checked, f"chain link {expected_seq} is missing (next is {seq}: {rtype} {rid})"
                                if seq > expected_seq else f"chain link {seq} ({rtype} {rid}) is out of order")
        if prev_hash != prev:
            return VerifyResult(False, checked,
                                f"chain link {seq} ({rtype} {rid}) does not follow link {seq - 1}")
        recs = records.get(rtype)
        if recs is None:
            return VerifyResult(False, checked, f"chain link {seq}: unknown record type {rtype!r}")
        row = recs.get(rid)
        if row is None:
            return VerifyResult(False, checked, f"{rtype} {rid} (chain link {seq}) is missing")
        if sha256((prev + render[rtype](row)).encode("utf-8")).hexdigest() != link_hash:
            return VerifyResult(False, checked, f"{rtype} {rid} (chain link {seq}) was changed")
        if rtype == "firing" or rtype == "adjustment" or rtype == "exception":
            key = (row["run_id"], rtype)
            per_run[key] = per_run.get(key, 0) + 1
        elif rtype == "import":
            if period is None or row["period"] == period:
                bad = _verify_import_rows(conn, row)
                if bad:
                    return VerifyResult(False, checked, bad)
        elif rtype == "run":
            try:
                runs[rid] = json.loads(row["counts"])
            except ValueError:
                runs[rid] = {}
        prev = link_hash
        expected_seq += 1
        checked += 1
    for rtype, recs in records.items():
        extra = recs.rest()
        if extra:
            return VerifyResult(False, checked, f"{rtype} {extra[0]} is not in the chain (inserted)")
    plural = {"firing": "firings", "adjustment": "adjustments", "exception": "exceptions"}
    for run_id, counts in runs.items():
        for rtype, key in plural.items():
            want, got = counts.get(key), per_run.get((run_id, rtype), 0)
            if isinstance(want, int) and want != got:
                return VerifyResult(False, checked,
                                    f"run {run_id}: {got} {key} in the chain, its record says {want} "
                                    f"({'the last ones were deleted' if got < want else 'some were added'})")
    return VerifyResult(True, checked, head_seq=expected_seq - 1, head_hash=prev if checked else "")


def _verify_import_rows(conn, imp) -> str | None:
    """Walk one import's rows in stored order, recomputing their chained hashes; name the first
    row that does not match, and say what happened there from the row counts the import's
    chained record holds (changed, deleted before it, inserted before it)."""
    imp_id = imp["id"]
    try:
        imported = json.loads(imp["rows_per_sheet"])
    except ValueError:
        imported = {}
    prev = GENESIS
    hashes = []
    for sheet in SHEETS:
        table = ROW_TABLES[sheet.name]
        want = imported.get(sheet.name, 0)
        have = conn.execute(sa.select(sa.func.count()).select_from(table)
                            .where(table.c.import_id == imp_id)).scalar() or 0
        names = [c.name for c in sheet.columns]
        cols = [table.c[n] for n in names]
        q = sa.select(table.c.pk, table.c.row, table.c.row_hash, *cols).where(
            table.c.import_id == imp_id).order_by(table.c.pk)
        last = None
        for rec in conn.execution_options(**_STREAM).execute(q):
            values = dict(zip(names, rec[3:]))
            values["row"] = rec.row
            where = f"import {imp_id}: {sheet.name} row {rec.row}"
            if last is not None and rec.row <= last:
                return f"{where} is out of order (it comes after row {last})"
            if row_hash(sheet.name, values, prev) != rec.row_hash:
                after = f"after row {last}" if last is not None else "at the start of the sheet"
                if have < want:
                    return f"{where}: a row before it ({after}) was deleted"
                if have > want:
                    return f"{where} was inserted, or a row before it ({after}) was"
                following = conn.execute(sa.select(table.c.row).where(
                    table.c.import_id == imp_id, table.c.pk > rec.pk).order_by(table.c.pk).limit(1)).scalar()
                if following is not None and following < rec.row:
                    return f"{where} is out of order (row {following} comes after it)"
                return f"{where} was changed"
            prev = rec.row_hash
            hashes.append(rec.row_hash)
            last = rec.row
        if have != want:
            after = f"after row {last}" if last is not None else "in the sheet"
            return (f"import {imp_id}: {sheet.name} holds {have} row(s), {want} imported "
                    f"(rows {after} were {'deleted' if have < want else 'added'})")
    if rows_digest(hashes) != imp["rows_digest"]:
        return f"import {imp_id}: its ledger rows were rewritten (they do not match its chained digest)"
    return None

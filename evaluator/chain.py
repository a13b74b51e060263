"""The tamper-evident audit chain (SPEC §6) and the content hashes it rests on.

Every chained record gets a `ChainLink`: seq 1, 2, 3 … with no gap, the previous link's hash,
and hash = SHA-256(prev_hash + canonical JSON of the record's content). Ledger rows are not
linked one by one (a million links a month buys nothing): each row stores its own content
hash, and its import's chained content holds the digest of all its rows' hashes, so a changed,
deleted, inserted or reordered row breaks its import's link and `verify` names the row.

Canonical JSON: sorted keys, UTF-8, no spaces; Decimals as their exact text, dates ISO.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Session, select

from evaluator.db import (ROW_TABLES, Adjustment, ChainLink, Decision, ExceptionItem, Firing,
                          ImportActivation, LedgerImport, Run)
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


def _cell_text(v) -> str | None:
    if v is None:
        return None
    if isinstance(v, (date, datetime)):
        return v.isoformat()
    return str(v)


def row_hash(sheet: str, row: dict) -> str:
    """Content hash of one typed ledger row: sheet, Excel row, every column in schema order."""
    spec = _SHEET_COLUMNS[sheet]
    return sha256_text(json.dumps([sheet, row["row"], *(_cell_text(row.get(c)) for c in spec)],
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

    def flush(self) -> None:
        conn = self.session.connection()
        for i in range(0, len(self.links), 20000):
            conn.execute(ChainLink.__table__.insert(), self.links[i:i + 20000])
        self.links = []


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    problem: str | None = None


def verify(session: Session, period: str | None = None) -> VerifyResult:
    """Recompute the whole chain; report the first record that is changed, missing, inserted
    or out of order. `period` narrows the row-level checks to that period's imports; the
    chain itself is always checked whole, since one link's hash covers all before it."""
    prev = GENESIS
    expected_seq = 1
    linked: dict[str, set[int]] = {t: set() for t in CHAINED}
    checked = 0
    for link in session.exec(select(ChainLink).order_by(ChainLink.seq)):
        if link.seq != expected_seq:
            return VerifyResult(False, checked, f"chain link {expected_seq} is missing (next is {link.seq})")
        if link.prev_hash != prev:
            return VerifyResult(False, checked,
                                f"chain link {link.seq} ({link.record_type} {link.record_id}) does not follow link {link.seq - 1}")
        cls = CHAINED.get(link.record_type)
        if cls is None:
            return VerifyResult(False, checked, f"chain link {link.seq}: unknown record type {link.record_type!r}")
        record = session.get(cls, link.record_id)
        if record is None:
            return VerifyResult(False, checked,
                                f"{link.record_type} {link.record_id} (chain link {link.seq}) is missing")
        if sha256_text(prev + canonical_json(record.chain_content())) != link.hash:
            return VerifyResult(False, checked,
                                f"{link.record_type} {link.record_id} (chain link {link.seq}) was changed")
        if link.record_type == "import" and (period is None or record.period == period):
            bad = _verify_import_rows(session, record)
            if bad:
                return VerifyResult(False, checked, bad)
        linked[link.record_type].add(link.record_id)
        prev = link.hash
        expected_seq += 1
        checked += 1
    for rtype, cls in CHAINED.items():
        for rid in session.exec(select(cls.id).order_by(cls.id)):
            if rid not in linked[rtype]:
                return VerifyResult(False, checked, f"{rtype} {rid} is not in the chain (inserted)")
    return VerifyResult(True, checked)


def _verify_import_rows(session: Session, imp: LedgerImport) -> str | None:
    hashes = []
    for sheet in SHEETS:
        table = ROW_TABLES[sheet.name]
        cols = [table.c[c.name] for c in sheet.columns]
        q = sa.select(table.c.pk, table.c.row, table.c.row_hash, *cols).where(
            table.c.import_id == imp.id).order_by(table.c.pk)
        for rec in session.connection().execute(q):
            values = dict(zip((c.name for c in sheet.columns), rec[3:]))
            values["row"] = rec.row
            if row_hash(sheet.name, values) != rec.row_hash:
                return f"import {imp.id}: {sheet.name} row {rec.row} was changed"
            hashes.append(rec.row_hash)
    if rows_digest(hashes) != imp.rows_digest:
        return f"import {imp.id}: its ledger rows were deleted, inserted or reordered"
    return None

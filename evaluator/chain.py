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

A full `verify` that passes is recorded as a checkpoint (itself a chained record: the link it
reached, that link's hash, when). `run` and `report` then check only what came after the newest
checkpoint, plus the reported run's import and its rows (`verify_since`, SPEC §10.8): the
twelfth month of a history costs what the first did. A `run`'s check that passed is recorded as
a checkpoint too (with the run's id), when it checked what a full verify would have checked
past the checkpoint before it: every link after it and the rows of every import linked there,
not only the period's. So each checkpoint rests on the one before it, back to a full verify (or
to the first run's check, which walked the whole chain), and a year of runs that nobody
verifies still costs month by month. A change made before the newest checkpoint is for the
next full verify to find.

What is hashed — canonical JSON, a ledger row's text — is spelled by evaluator/canonical.py.

Millions of rows and links a month go through here, so writing (BulkInsert) and verifying
(_scan) talk to sqlite3 directly on SQLite, inside the caller's transaction, with the columns'
own SQLAlchemy conversions; on PostgreSQL writing goes through COPY on the same psycopg
connection and transaction, and verifying through SQLAlchemy Core as usual.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import operator
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from evaluator.db import (ROW_TABLES, Adjustment, ChainLink, Checkpoint, Decision, ExactDecimal,
                          ExceptionItem, Firing, ImportActivation, LedgerImport, PeriodEvent, Run)
from evaluator.canonical import (GENESIS, RowsDigest, canonical_json, firing_content, next_row_hash,
                                 sha256_text, stored_decimal_text)
from importers.lang import Text
from importers.schema import SHEET_BY_NAME, SHEETS



# record_type -> SQLModel class of every chained record.
CHAINED: dict[str, type] = {
    "import": LedgerImport,
    "activation": ImportActivation,
    "run": Run,
    "firing": Firing,
    "adjustment": Adjustment,
    "exception": ExceptionItem,
    "decision": Decision,
    "period_event": PeriodEvent,
    "checkpoint": Checkpoint,
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


# The most characters of chain content a chunk of ChainWriter.insert_rows holds before it is
# written. A firing's content is ≈ 190 characters (a chunk of 20,000 ≈ 3.8 million), but a
# department blend's cites every rating the blend counted: at 100,000 employees the 84
# peripheral.blend firings' sources are 17 MB of text (one of 0.7 MB), their contents as much
# again, all in one chunk of firings — and again in one of adjustments. 2 million: the
# firings' maker holds a chunk's texts beside the trace's chunk it reads: in `xietong evaluate`
# of the 100,000-employee month its peak was 153 MB at 8 million, 136 MB at 2 million (a chunk
# of common firings is then ≈ 10,000 of them: twice the chunks, each quicker to write).
CHUNK_CHARS = 2_000_000


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
        put = BulkInsert(self.session.connection(), cls.__table__)
        for i in range(0, len(rows), 20000):
            put.dicts(rows[i:i + 20000])

    def insert_rows(self, cls, items, record_type: str, chunk: int = 20000,
                    chunk_chars: int | None = None) -> None:
        """insert() for plain rows: `items` yields (row dict with its id set, the record's
        chain content as canonical JSON text — what canonical_json(record.chain_content())
        gives). Rows and links go to the database a chunk at a time, so a run of millions of
        firings needs neither a model instance per record nor all of them in memory. A chunk
        ends at `chunk` rows or once its contents reach `chunk_chars` characters (default
        CHUNK_CHARS), whichever comes first: a row's columns hold about what its content does."""
        conn = self.session.connection()
        put_rows = BulkInsert(conn, cls.__table__)
        put_links = BulkInsert(conn, ChainLink.__table__, _LINK_COLUMNS)
        sha256 = hashlib.sha256
        most = CHUNK_CHARS if chunk_chars is None else chunk_chars
        batch: list[dict] = []
        links: list[tuple] = []
        chars = 0
        seq, prev = self.seq, self.prev
        for row, content in items:
            seq += 1
            h = sha256((prev + content).encode("utf-8")).hexdigest()
            links.append((seq, record_type, row["id"], prev, h))
            prev = h
            batch.append(row)
            chars += len(content)
            if len(batch) >= chunk or chars >= most:
                put_rows.dicts(batch)
                put_links.tuples(links)
                batch, links, chars = [], [], 0
        self.seq, self.prev = seq, prev
        if batch:
            put_rows.dicts(batch)
            put_links.tuples(links)

    def insert_made(self, cls, names: tuple[str, ...], chunks, record_type: str, first_id: int,
                    fixed: dict | None = None, done=None) -> int:
        """insert_rows for records made elsewhere (evaluator.firing_rows: perhaps in another
        process) with their links' hashes: each of `chunks` is (columns, hashes) — `columns` a
        list of values per name of `names`, `hashes` each record's link hash, made from the
        hash before it (this writer's head for the first record) and the record's content, as
        insert_rows makes it. The records' ids are `first_id` on; `fixed` {column: value} is
        the same for every record (a firing's run_id). The rows are put together here by zip,
        without a Python step per record: what is left of storing them is the database's.
        `done(n)`, if given, is called with the records inserted so far after each chunk.
        Returns how many were inserted."""
        conn = self.session.connection()
        fixed = fixed or {}
        put_rows = BulkInsert(conn, cls.__table__, ("id", *fixed, *names))
        put_links = BulkInsert(conn, ChainLink.__table__, _LINK_COLUMNS)
        constants = [itertools.repeat(v) for v in fixed.values()]
        seq, prev, next_id = self.seq, self.prev, first_id
        for columns, hashes in chunks:
            n = len(hashes)
            if not n:
                continue
            if any(len(c) != n for c in columns):
                raise ValueError(f"a chunk of {n} {record_type} hashes with columns of "
                                 f"{[len(c) for c in columns]} values")
            ids = range(next_id, next_id + n)
            put_rows.tuples(list(zip(ids, *constants, *columns)))
            prevs = [prev]
            prevs += hashes[:-1]
            put_links.tuples(list(zip(range(seq + 1, seq + 1 + n),
                                      itertools.repeat(record_type), ids, prevs, hashes)))
            seq, prev, next_id = seq + n, hashes[-1], next_id + n
            # the writer's head moves with each chunk: what is inserted is linked
            self.seq, self.prev = seq, prev
            if done is not None:
                done(next_id - first_id)
        return next_id - first_id

    def flush(self) -> None:
        put = BulkInsert(self.session.connection(), ChainLink.__table__)
        for i in range(0, len(self.links), 20000):
            put.dicts(self.links[i:i + 20000])
        self.links = []


_LINK_COLUMNS = ("seq", "record_type", "record_id", "prev_hash", "hash")


def _sqlite_driver(conn):
    """The sqlite3 connection under `conn` (the same one, inside the same transaction), or
    None on any other database."""
    dialect = conn.dialect
    if dialect.name == "sqlite" and dialect.driver == "pysqlite":
        return conn.connection.driver_connection
    return None


def _psycopg_driver(conn):
    """The psycopg 3 connection under `conn` (the same one, inside the same transaction), or
    None on any other driver."""
    dialect = conn.dialect
    if dialect.name == "postgresql" and dialect.driver == "psycopg":
        return conn.connection.driver_connection
    return None


class BulkInsert:
    """Inserts rows into one table in bulk, given as dicts or as tuples in `names` order.

    On SQLite the rows go as tuples straight to sqlite3's executemany, with each column's bind
    conversion (exact decimals as text, dates) applied here: SQLAlchemy's per-row parameter
    handling cost more than the inserts themselves (measured: 3 s of 5.3 s for 266,000 firings).
    On PostgreSQL through psycopg 3 they go the same way to `COPY table (columns) FROM STDIN`
    (psycopg's `cursor.copy`, in the caller's transaction): executemany of INSERTs made the
    10,000-employee run 1.8× slower than on SQLite (docs/benchmarks.md). Every column is then
    given (ids are pre-assigned by the callers), so a dict lacking one goes through Core, which
    fills in its default. Any other driver: the plain Core insert of dicts."""

    def __init__(self, conn, table: sa.Table, names=None):
        self.conn, self.table = conn, table
        self.names = tuple(names or (c.name for c in table.columns))
        dialect = conn.dialect
        quote = dialect.identifier_preparer.quote
        self.driver = _sqlite_driver(conn)
        self.copy = None
        if self.driver is None:
            self.stmt = table.insert()
            pg = _psycopg_driver(conn)
            if pg is None:
                return
            self.copy = pg
            self.sql = (f"COPY {quote(table.name)} ({', '.join(quote(n) for n in self.names)}) "
                        "FROM STDIN")
        else:
            self.sql = (f"INSERT INTO {quote(table.name)} "
                        f"({', '.join(quote(n) for n in self.names)}) "
                        f"VALUES ({', '.join('?' * len(self.names))})")
        self.procs = [(i, p) for i, n in enumerate(self.names)
                      if (p := table.c[n].type.dialect_impl(dialect).bind_processor(dialect)) is not None]
        names = self.names
        self.getter = operator.itemgetter(*names) if len(names) > 1 else (lambda r: (r[names[0]],))

    def dicts(self, rows: list[dict]) -> None:
        if self.driver is None and self.copy is None:
            self.conn.execute(self.stmt, rows)
            return
        try:
            tuples = list(map(self.getter, rows))
        except KeyError:                  # a column left out: Core fills in its default
            self.conn.execute(self.table.insert(), rows)
            return
        self.tuples(tuples)

    @property
    def bulk(self) -> bool:
        """The rows go to the driver itself (SQLite's executemany, PostgreSQL's COPY), as
        `converted` makes them; else through Core, which converts them itself."""
        return self.driver is not None or self.copy is not None

    def converted(self, rows) -> list:
        """`rows` as `tuples` hands them to the driver: each column's bind conversion applied
        (plain ints, floats, texts and None; made anywhere, even in another process, and
        inserted by `tuples(..., converted=True)`). Only when `bulk`."""
        return list(_convert(rows, self.procs)) if self.procs else list(rows)

    def tuples(self, rows: list, converted: bool = False) -> None:
        if converted and not self.bulk:
            raise ValueError("rows converted for a driver that is not used here")
        procs = () if converted else self.procs
        if self.copy is not None:
            if not rows:
                return
            if procs:
                rows = _convert(rows, procs)
            with self.copy.cursor() as cursor, cursor.copy(self.sql) as copy:
                write = copy.write_row
                for r in rows:
                    write(r)
            return
        if self.driver is None:
            names = self.names
            self.conn.execute(self.stmt, [dict(zip(names, r)) for r in rows])
            return
        if procs:
            rows = list(_convert(rows, procs))
        self.driver.executemany(self.sql, rows)


def _scan(conn, table: sa.Table, names, where: tuple | None = None, order: str | None = None,
          convert: dict | None = None, after: tuple | None = None):
    """The `names` columns of `table`'s rows (WHERE column = value, and column > value for
    `after`, ORDER BY a column), as
    sequences of the values SQLAlchemy would return, read as they are iterated: a raw sqlite3
    cursor on SQLite (a Row object per record cost more than hashing it), a streamed Core
    select (a server-side cursor) elsewhere. On SQLite, `convert` {column: function(result
    processor) -> function(stored value)} replaces a column's result processor."""
    driver = _sqlite_driver(conn)
    if driver is None:
        q = sa.select(*(table.c[n] for n in names))
        if where is not None:
            q = q.where(table.c[where[0]] == where[1])
        if after is not None:
            q = q.where(table.c[after[0]] > after[1])
        if order is not None:
            q = q.order_by(table.c[order])
        return itertools.chain.from_iterable(conn.execution_options(**_STREAM).execute(q).partitions())
    dialect = conn.dialect
    quote = dialect.identifier_preparer.quote
    sql = f"SELECT {', '.join(quote(n) for n in names)} FROM {quote(table.name)}"
    conditions, params = [], []
    if where is not None:
        conditions.append(f"{quote(where[0])} = ?")
        params.append(where[1])
    if after is not None:
        conditions.append(f"{quote(after[0])} > ?")
        params.append(after[1])
    if conditions:
        sql += " WHERE " + " AND ".join(conditions)
    if order is not None:
        sql += f" ORDER BY {quote(order)}"
    procs = []
    for i, n in enumerate(names):
        p = table.c[n].type.dialect_impl(dialect).result_processor(dialect, None)
        if convert and n in convert:
            p = convert[n](p)
        if p is not None:
            procs.append((i, p))
    cursor = driver.execute(sql, tuple(params))
    return _convert(cursor, procs) if procs else cursor


def _convert(rows, procs):
    """Each row as a list, with the (index, converter) pairs of `procs` applied."""
    for r in rows:
        r = list(r)
        for i, p in procs:
            r[i] = p(r[i])
        yield r


@dataclass
class VerifyResult:
    ok: bool
    checked: int                 # links checked (after the checkpoint, when incremental)
    problem: Text | None = None      # the first problem found, in both languages
    head_seq: int = 0            # the newest link: auditors note it, a later verify must reach it
    head_hash: str = ""
    # incremental (verify_since): the checkpoint's link, up to which the chain was verified,
    # when, and the run whose check wrote it (None: a full verify); 0 and None when the whole
    # chain was verified
    since_seq: int = 0
    since_at: datetime | None = None
    since_run: int | None = None
    # a check that passed and may make a checkpoint (a full verify; verify_since(checkpoint=
    # True)): {record type: largest id}, what a checkpoint records
    record_ids: dict | None = None


_STREAM = {"stream_results": True, "yield_per": 5000}


class _Records:
    """One record type's rows, streamed in id order and joined to the chain's links (which
    reach each type in increasing id order, as every writer assigns ids ascending). A link
    behind the stream, which only tampering produces, is looked up by id instead. Rows come
    back as sequences of column values in table order (`names`)."""

    def __init__(self, conn, cls, after: int = 0):
        self.conn, self.table = conn, cls.__table__
        self.names = [c.name for c in self.table.columns]
        self.id_at = self.names.index("id")
        self.after = ("id", after) if after else None     # stream only the ids above it
        self.rows = None
        self.current = None
        self.skipped: dict[int, None] = {}     # ids passed over: not linked (so far), in order

    def get(self, record_id: int):
        """The row with this id (None when there is none). verify takes the usual case, the
        stream's next row, itself."""
        if self.rows is None:
            self.rows = iter(_scan(self.conn, self.table, self.names, order="id", after=self.after))
            self.current = next(self.rows, None)
        i = self.id_at
        while self.current is not None and self.current[i] < record_id:
            self.skipped[self.current[i]] = None
            self.current = next(self.rows, None)
        if self.current is not None and self.current[i] == record_id:
            row = self.current
            self.current = next(self.rows, None)
            return row
        self.skipped.pop(record_id, None)      # linked late
        found = list(_scan(self.conn, self.table, self.names, where=("id", record_id)))
        return found[0] if found else None

    def as_dict(self, row) -> dict:
        return dict(zip(self.names, row))

    def rest(self) -> list[int]:
        """Ids never linked: those passed over and those after the last link."""
        out = list(self.skipped)
        if self.rows is None:
            return [r[0] for r in _scan(self.conn, self.table, ["id"], order="id", after=self.after)]
        while self.current is not None:
            out.append(self.current[self.id_at])
            self.current = next(self.rows, None)
        return out


def _content_renderers() -> dict:
    """record type -> its row as a dict -> canonical JSON of its chained content. Firings,
    millions a month, use the text the store hashed them with (canonical.firing_content), the
    rest `content_of`."""
    out = {t: (lambda d, cls=cls: canonical_json(cls.content_of(d))) for t, cls in CHAINED.items()}
    out["firing"] = firing_content
    return out


# What verify reports: the first record changed, missing, inserted or out of order, in both
# languages (an auditor reads it in the command's or the report's language). Record types and
# sheets are named in each language; ids, seq numbers and row numbers are the same in both.
_PROBLEMS: dict[str, Text] = {
    "link_missing": Text(zh="审计链第 {seq} 条缺失（下一条是第 {next} 条：{rtype} {rid}）",
                         en="chain link {seq} is missing (next is {next}: {rtype} {rid})"),
    "link_order": Text(zh="审计链第 {seq} 条（{rtype} {rid}）顺序错乱",
                       en="chain link {seq} ({rtype} {rid}) is out of order"),
    "link_follow": Text(zh="审计链第 {seq} 条（{rtype} {rid}）未接在第 {before} 条之后",
                        en="chain link {seq} ({rtype} {rid}) does not follow link {before}"),
    "link_type": Text(zh="审计链第 {seq} 条：未知的记录类型 {rtype}",
                      en="chain link {seq}: unknown record type {rtype}"),
    "record_missing": Text(zh="{rtype} {rid}（审计链第 {seq} 条）缺失",
                           en="{rtype} {rid} (chain link {seq}) is missing"),
    "record_changed": Text(zh="{rtype} {rid}（审计链第 {seq} 条）已被改动",
                           en="{rtype} {rid} (chain link {seq}) was changed"),
    "record_inserted": Text(zh="{rtype} {rid} 不在审计链中（被插入）",
                            en="{rtype} {rid} is not in the chain (inserted)"),
    "run_deleted": Text(zh="运行记录 {run}：审计链中有 {got} 条{rtype}，记录中为 {want} 条（最后几条被删除）",
                        en="run {run}: {got} {rtype}s in the chain, its record says {want} (the last "
                           "ones were deleted)"),
    "run_added": Text(zh="运行记录 {run}：审计链中有 {got} 条{rtype}，记录中为 {want} 条（有记录被添加）",
                      en="run {run}: {got} {rtype}s in the chain, its record says {want} (some were "
                         "added)"),
    "row_order": Text(zh="导入记录 {imp}：{sheet} 第 {row} 行顺序错乱（排在第 {last} 行之后）",
                      en="import {imp}: {sheet} row {row} is out of order (it comes after row "
                         "{last})"),
    "row_deleted": Text(zh="导入记录 {imp}：{sheet} 第 {row} 行之前（第 {last} 行之后）有一行被删除",
                        en="import {imp}: {sheet} row {row}: a row before it (after row {last}) "
                           "was deleted"),
    "row_deleted_first": Text(zh="导入记录 {imp}：{sheet} 第 {row} 行之前（工作表开头）有一行被删除",
                              en="import {imp}: {sheet} row {row}: a row before it (at the start "
                                 "of the sheet) was deleted"),
    "row_inserted": Text(zh="导入记录 {imp}：{sheet} 第 {row} 行被插入，或其前（第 {last} 行之后）有一行被插入",
                         en="import {imp}: {sheet} row {row} was inserted, or a row before it (after "
                            "row {last}) was"),
    "row_inserted_first": Text(zh="导入记录 {imp}：{sheet} 第 {row} 行被插入，或其前（工作表开头）有一行被插入",
                               en="import {imp}: {sheet} row {row} was inserted, or a row before it "
                                  "(at the start of the sheet) was"),
    "row_before": Text(zh="导入记录 {imp}：{sheet} 第 {row} 行顺序错乱（第 {following} 行排在它之后）",
                       en="import {imp}: {sheet} row {row} is out of order (row {following} comes "
                          "after it)"),
    "row_changed": Text(zh="导入记录 {imp}：{sheet} 第 {row} 行已被改动",
                        en="import {imp}: {sheet} row {row} was changed"),
    "rows_deleted": Text(zh="导入记录 {imp}：{sheet} 有 {have} 行，导入时为 {want} 行（第 {last} 行之后的行被删除）",
                         en="import {imp}: {sheet} holds {have} row(s), {want} imported (rows after "
                            "row {last} were deleted)"),
    "rows_added": Text(zh="导入记录 {imp}：{sheet} 有 {have} 行，导入时为 {want} 行（第 {last} 行之后有行被添加）",
                       en="import {imp}: {sheet} holds {have} row(s), {want} imported (rows after "
                          "row {last} were added)"),
    "rows_deleted_sheet": Text(zh="导入记录 {imp}：{sheet} 有 {have} 行，导入时为 {want} 行（表中的行被删除）",
                               en="import {imp}: {sheet} holds {have} row(s), {want} imported (rows "
                                  "in the sheet were deleted)"),
    "rows_added_sheet": Text(zh="导入记录 {imp}：{sheet} 有 {have} 行，导入时为 {want} 行（表中有行被添加）",
                             en="import {imp}: {sheet} holds {have} row(s), {want} imported (rows in "
                                "the sheet were added)"),
    "checkpoint_head": Text(zh="检查点 {cid}：它校验到的审计链第 {seq} 条已缺失或被改动（请运行完整校验）",
                            en="checkpoint {cid}: chain link {seq}, up to which it verified the chain, "
                               "is missing or was changed (run a full verify)"),
    "rows_rewritten": Text(zh="导入记录 {imp}：其台账行被改写（与审计链中的摘要不符）",
                           en="import {imp}: its ledger rows were rewritten (they do not match its "
                              "chained digest)"),
}
# a record type and a sheet as each language names them
_RECORD_ZH = {"import": "导入记录", "activation": "启用记录", "run": "运行记录", "firing": "规则触发",
              "adjustment": "调整", "exception": "异常", "decision": "复核结论",
              "period_event": "考核期事件", "checkpoint": "检查点"}


def _problem(key: str, **values) -> Text:
    """The problem `key`, filled in both languages."""
    zh = dict(values)
    if "rtype" in zh:
        zh["rtype"] = _RECORD_ZH.get(zh["rtype"], zh["rtype"])
    if "sheet" in zh and zh["sheet"] in SHEET_BY_NAME:
        zh["sheet"] = SHEET_BY_NAME[zh["sheet"]].zh
    template = _PROBLEMS[key]
    return Text(zh=template.zh.format(**zh), en=template.en.format(**values))


def verify(session: Session, period: str | None = None) -> VerifyResult:
    """Recompute the whole chain; report the first record that is changed, missing, inserted
    or out of order. `period` narrows the row-level checks to that period's imports; the
    chain itself is always checked whole, since one link's hash covers all before it.

    Streams: the links in seq order, each record type in id order beside them (a merge join,
    not a lookup per link), so a million firings verify in seconds and in bounded memory.
    A result that passed holds `record_ids` (the largest id of each record type), what a
    checkpoint of it records (write_checkpoint)."""
    conn = session.connection()
    result, _ = _walk(conn, lambda imp: period is None or imp["period"] == period)
    if result.ok:
        result.record_ids = _record_ids(conn)
    return result


def _record_ids(conn) -> dict:
    """{record type: its largest id} in the caller's snapshot, the one the check just read:
    what a checkpoint of a passed check records (a larger id must be linked after it)."""
    return {t: conn.execute(sa.select(sa.func.max(cls.__table__.c.id))).scalar() or 0
            for t, cls in CHAINED.items()}


def _walk(conn, rows_of, seq: int = 0, prev: str = GENESIS, after: dict | None = None
          ) -> tuple[VerifyResult, set[int]]:
    """Check the links after link `seq` (whose hash is `prev`) up to the head, each record they
    link, that no record of a type with an id above `after[type]` is left unlinked, the counts
    of the runs linked here, and the rows of each import linked here for which `rows_of(import
    as a dict)` is true. Returns the result and the ids of the imports whose rows it checked."""
    records = {t: _Records(conn, cls, (after or {}).get(t, 0)) for t, cls in CHAINED.items()}
    render = _content_renderers()
    per_run: dict[str, dict[int, int]] = {"firing": {}, "adjustment": {}, "exception": {}}
    # record type -> what the loop needs of it, looked up once per link
    kinds = {t: (recs, recs.id_at, recs.names, render[t],
                 recs.names.index("run_id") if t in per_run else None, per_run.get(t))
             for t, recs in records.items()}
    counts_at = records["run"].names.index("counts")
    sha256 = hashlib.sha256
    expected_seq = seq + 1
    checked = 0
    rows_checked: set[int] = set()
    runs: dict[int, dict] = {}                 # run id -> counts its record promises
    links = _scan(conn, ChainLink.__table__, _LINK_COLUMNS, order="seq",
                  after=("seq", seq) if seq else None)
    for seq, rtype, rid, prev_hash, link_hash in links:
        if seq != expected_seq:
            return VerifyResult(False, checked, _problem("link_missing", seq=expected_seq,
                                                         next=seq, rtype=rtype, rid=rid)
                                if seq > expected_seq else
                                _problem("link_order", seq=seq, rtype=rtype, rid=rid)), rows_checked
        if prev_hash != prev:
            return VerifyResult(False, checked, _problem("link_follow", seq=seq, rtype=rtype,
                                                         rid=rid, before=seq - 1)), rows_checked
        kind = kinds.get(rtype)
        if kind is None:
            return VerifyResult(False, checked, _problem("link_type", seq=seq,
                                                         rtype=repr(rtype))), rows_checked
        recs, id_at, names, rend, run_at, linked = kind
        row = recs.current
        if row is not None and row[id_at] == rid:     # _Records.get's usual case, inline
            recs.current = next(recs.rows, None)
        else:
            row = recs.get(rid)
            if row is None:
                return VerifyResult(False, checked, _problem("record_missing", rtype=rtype,
                                                             rid=rid, seq=seq)), rows_checked
        if sha256((prev + rend(dict(zip(names, row)))).encode("utf-8")).hexdigest() != link_hash:
            return VerifyResult(False, checked, _problem("record_changed", rtype=rtype, rid=rid,
                                                         seq=seq)), rows_checked
        if linked is not None:
            run_id = row[run_at]
            linked[run_id] = linked.get(run_id, 0) + 1
        elif rtype == "import":
            imp = recs.as_dict(row)
            if rows_of(imp):
                bad = _verify_import_rows(conn, imp)
                if bad:
                    return VerifyResult(False, checked, bad), rows_checked
                rows_checked.add(rid)
        elif rtype == "run":
            try:
                runs[rid] = json.loads(row[counts_at])
            except ValueError:
                runs[rid] = {}
        prev = link_hash
        expected_seq += 1
        checked += 1
    for rtype, recs in records.items():
        extra = recs.rest()
        if extra:
            return VerifyResult(False, checked, _problem("record_inserted", rtype=rtype,
                                                         rid=extra[0])), rows_checked
    plural = {"firing": "firings", "adjustment": "adjustments", "exception": "exceptions"}
    for run_id, counts in runs.items():
        for rtype, key in plural.items():
            want, got = counts.get(key), per_run[rtype].get(run_id, 0)
            if isinstance(want, int) and want != got:
                return VerifyResult(False, checked, _problem(
                    "run_deleted" if got < want else "run_added", run=run_id, got=got, want=want,
                    rtype=rtype)), rows_checked
    return (VerifyResult(True, checked, head_seq=expected_seq - 1,
                         head_hash=prev if expected_seq > 1 else ""), rows_checked)


# --------------------------------------------------------------------------- checkpoints (§10.8)

def newest_checkpoint(session: Session) -> Checkpoint | None:
    """The newest checkpoint (the largest id), or None when no check has written one yet."""
    return session.exec(select(Checkpoint).order_by(Checkpoint.id.desc()).limit(1)).first()


def write_checkpoint(session: Session, result: VerifyResult, account: str | None = None,
                     run_id: int | None = None) -> tuple[Checkpoint, ChainLink]:
    """Record, chained, that the check `result` passed (inside the caller's write transaction):
    a full verify, or (`run_id`: the run whose report made it) verify_since(checkpoint=True).
    The chain may have grown since the check read it: the checkpoint names the link the check
    reached, so what came after is verified incrementally like the rest."""
    if not result.ok or result.record_ids is None or not result.head_seq:
        raise ValueError("only a check that passed and covered what a full verify would have "
                         "(verify, or verify_since with checkpoint=True) makes a checkpoint")
    cp = Checkpoint(seq=result.head_seq, head_hash=result.head_hash,
                    record_ids=canonical_json(result.record_ids), account=account, run_id=run_id)
    session.add(cp)
    session.flush()
    link = append(session, "checkpoint", cp)
    session.flush()
    return cp, link


def verify_since(session: Session, period: str | None = None, run_id: int | None = None,
                 checkpoint: bool = False) -> VerifyResult:
    """What `run` and `report` verify (SPEC §10.8): the chain from the newest checkpoint up to
    the head — every link after the link the checkpoint names, every record they link, no
    record inserted since, the counts of the runs among them, the rows of the imports among
    them of `period` — and the run `run_id`: its record, its import's record and every row
    of that import, wherever they are in the chain. What lies before the checkpoint was
    verified when it was written: changes there are found by a full verify, not here.
    Without a checkpoint, the full verify (of `period`'s rows).

    `checkpoint`: the result is meant for a checkpoint (write_checkpoint), so it checks what a
    full verify would have checked past the newest checkpoint: the rows of EVERY import linked
    after it, whatever its period; a passed result then holds `record_ids`."""
    cp = newest_checkpoint(session)
    conn = session.connection()
    if checkpoint:
        of_period = lambda imp: True   # noqa: E731
    else:
        of_period = lambda imp: period is None or imp["period"] == period   # noqa: E731
    if cp is None:
        result, rows_checked = _walk(conn, of_period)
        return _with_run(conn, result, run_id, rows_checked, checkpoint)
    bad = _own_link(conn, "checkpoint", Checkpoint, cp.id)
    if bad is None:
        at = session.get(ChainLink, cp.seq)
        own = session.exec(select(ChainLink).where(ChainLink.record_type == "checkpoint",
                                                   ChainLink.record_id == cp.id)).one()
        if at is None or at.hash != cp.head_hash or own.seq <= cp.seq:
            bad = _problem("checkpoint_head", cid=cp.id, seq=cp.seq)
    if bad is not None:
        return VerifyResult(False, 0, bad, since_seq=cp.seq, since_at=cp.at, since_run=cp.run_id)
    try:
        after = json.loads(cp.record_ids)
    except ValueError:
        after = {}
    result, rows_checked = _walk(conn, of_period, seq=cp.seq, prev=cp.head_hash, after=after)
    result.since_seq, result.since_at, result.since_run = cp.seq, cp.at, cp.run_id
    return _with_run(conn, result, run_id, rows_checked, checkpoint)


def _with_run(conn, result: VerifyResult, run_id: int | None, rows_checked: set[int],
              checkpoint: bool) -> VerifyResult:
    """`result` of the chain after the checkpoint, plus the run's own records and rows; with
    the record ids a checkpoint of it records when it passed and is meant for one."""
    if result.ok and run_id is not None:
        result.problem = _run_import_rows(conn, run_id, rows_checked)
        result.ok = result.problem is None
    if result.ok and checkpoint:
        result.record_ids = _record_ids(conn)
    return result


def _run_import_rows(conn, run_id: int, done: set[int]) -> Text | None:
    """The run's record and its import's record against their links, and the import's rows
    (unless `done` holds the import: its rows were checked already)."""
    bad = _own_link(conn, "run", Run, run_id)
    if bad is not None:
        return bad
    import_id = conn.execute(sa.select(Run.__table__.c.import_id)
                             .where(Run.__table__.c.id == run_id)).scalar()
    bad = _own_link(conn, "import", LedgerImport, import_id)
    if bad is not None or import_id in done:
        return bad
    imp = conn.execute(sa.select(LedgerImport.__table__)
                       .where(LedgerImport.__table__.c.id == import_id)).mappings().one()
    return _verify_import_rows(conn, imp)


def _own_link(conn, rtype: str, cls, rid: int) -> Text | None:
    """One record against its own link: the link's hash covers the link before it and the
    record's content as stored now. (The links before it are not checked here.)"""
    links = ChainLink.__table__
    link = conn.execute(sa.select(links.c.seq, links.c.prev_hash, links.c.hash)
                        .where(links.c.record_type == rtype, links.c.record_id == rid)).first()
    if link is None:
        return _problem("record_inserted", rtype=rtype, rid=rid)
    table = cls.__table__
    names = [c.name for c in table.columns]
    found = list(_scan(conn, table, names, where=("id", rid)))
    if not found:
        return _problem("record_missing", rtype=rtype, rid=rid, seq=link.seq)
    content = _content_renderers()[rtype](dict(zip(names, found[0])))
    if sha256_text(link.prev_hash + content) != link.hash:
        return _problem("record_changed", rtype=rtype, rid=rid, seq=link.seq)
    return None


def _verify_import_rows(conn, imp) -> Text | None:
    """Walk one import's rows in stored order, recomputing their chained hashes; name the first
    row that does not match, and say what happened there from the row counts the import's
    chained record holds (changed, deleted before it, inserted before it)."""
    imp_id = imp["id"]
    try:
        imported = json.loads(imp["rows_per_sheet"])
    except ValueError:
        imported = {}
    prev = GENESIS
    digest = RowsDigest()
    for sheet in SHEETS:
        name = sheet.name
        table = ROW_TABLES[name]
        want = imported.get(name, 0)
        have = conn.execute(sa.select(sa.func.count()).select_from(table)
                            .where(table.c.import_id == imp_id)).scalar() or 0
        cols = ["pk", "row", "row_hash", *(c.name for c in sheet.columns)]
        # SQLite's stored decimal text, hashed as it is when already canonical
        exact = {c.name: stored_decimal_text for c in sheet.columns
                 if isinstance(table.c[c.name].type, ExactDecimal)}
        last = None
        for rec in _scan(conn, table, cols, where=("import_id", imp_id), order="pk", convert=exact):
            pk, row, stored = rec[0], rec[1], rec[2]
            if last is not None and row <= last:
                return _problem("row_order", imp=imp_id, sheet=name, row=row, last=last)
            if next_row_hash(prev, name, row, rec[3:]) != stored:
                at = dict(imp=imp_id, sheet=name, row=row, last=last)
                start = "" if last is not None else "_first"
                if have < want:
                    return _problem("row_deleted" + start, **at)
                if have > want:
                    return _problem("row_inserted" + start, **at)
                following = conn.execute(sa.select(table.c.row).where(
                    table.c.import_id == imp_id, table.c.pk > pk).order_by(table.c.pk).limit(1)).scalar()
                if following is not None and following < row:
                    return _problem("row_before", following=following, **at)
                return _problem("row_changed", **at)
            prev = stored
            digest.add(stored)
            last = row
        if have != want:
            key = "rows_deleted" if have < want else "rows_added"
            return _problem(key + ("" if last is not None else "_sheet"), imp=imp_id, sheet=name,
                            have=have, want=want, last=last)
    if digest.hexdigest() != imp["rows_digest"]:
        return _problem("rows_rewritten", imp=imp_id)
    return None

"""The database: SQLModel records, typed ledger-row tables, engine creation.

Two kinds of tables live on one `SQLModel.metadata`:

* **Records** people and auditors talk about (imports, activations, runs, firings,
  adjustments, exceptions, decisions) are SQLModel classes.
* **Ledger rows** are one plain SQLAlchemy Core table per ledger sheet, generated from
  `importers.schema`, with one typed column per ledger column plus the Excel row number and
  the row's content hash. They are written in bulk (100,000 rows must store in about a second)
  and read back in bulk, so per-row ORM objects would only cost time.

Decimals are stored exactly: as text on SQLite (whose NUMERIC affinity would turn them into
binary floats) and as NUMERIC on PostgreSQL. "Correct to the cent" starts here.
"""
from __future__ import annotations

import os
import re
import sqlite3
import time
from datetime import datetime, timezone
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy import event
from sqlmodel import Field, SQLModel, create_engine

from importers.schema import SHEETS
from rules.policy import decimal_text     # an adjustment's points, as chained

DEFAULT_DB_URL = "sqlite:///xietong.db"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def iso_utc(v: datetime | None) -> str | None:
    """A timestamp as chained: ISO 8601 in UTC, whatever zone the database hands it back in
    (a naive value is UTC: every timestamp is written by utcnow())."""
    if v is None:
        return None
    v = v.replace(tzinfo=timezone.utc) if v.tzinfo is None else v.astimezone(timezone.utc)
    return v.isoformat()


class ExactDecimal(sa.types.TypeDecorator):
    """A Decimal that round-trips exactly on every backend."""

    impl = sa.String(64)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "postgresql":
            return dialect.type_descriptor(sa.Numeric())
        return dialect.type_descriptor(sa.String(64))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if not isinstance(value, Decimal):
            value = Decimal(str(value))
        return value if dialect.name == "postgresql" else str(value)

    # A ledger's numbers repeat (a million ratings are a handful of scores): the Decimal of a
    # stored text is made once and shared (Decimals are immutable), keyed by the text itself,
    # so "4" and "4.0" stay two values. Bounded: a column of distinct amounts stops adding.
    SHARED_MAX = 4096

    def process_result_value(self, value, dialect):
        if value is None or isinstance(value, Decimal):
            return value
        shared = self.__dict__.get("_shared")
        if shared is None:
            shared = self.__dict__.setdefault("_shared", {})
        number = shared.get(value)
        if number is None:
            number = Decimal(value)
            if len(shared) < self.SHARED_MAX:
                shared[value] = number
        return number


# --------------------------------------------------------------------------- records

# Who made a change (the desk's account, SPEC §12) is chained with the record that changed the
# database: imports, activations, runs and decisions have a nullable `account` column, and it is
# part of a record's chained content only when it is set. Records written before the column
# existed (and every record the command line writes) hash exactly as they always did, so old
# databases still verify; `_add_missing_columns` adds the column to an old database at start-up
# (and any other nullable column these tables gained since: a run's `other_imports`, a
# checkpoint's `run_id`, likewise chained only when set).
NULLABLE_COLUMN_TABLES = ("ledger_import", "import_activation", "run", "decision", "checkpoint")


def with_account(d, content: dict) -> dict:
    """`content` plus "account" when the record names one."""
    account = d.get("account")
    if account is not None:
        content["account"] = account
    return content


class ChainLink(SQLModel, table=True):
    """One link of the tamper-evident audit chain (SPEC §6).

    Every chained record (import, activation, firing, adjustment, exception, decision) gets one
    link: a contiguous sequence number, the previous link's hash, and
    hash = SHA-256(prev_hash + canonical JSON of the record's content). Each record class says
    what its content is in `content_of(values)`, which `chain_content()` (writing) and
    `evaluator.chain.verify` (reading plain rows, no model instance) both use.
    """
    __tablename__ = "chain_link"
    seq: int = Field(primary_key=True)
    record_type: str = Field(max_length=32)
    record_id: int
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)

    __table_args__ = (sa.UniqueConstraint("record_type", "record_id"),)


class LedgerImport(SQLModel, table=True):
    """One imported workbook. Every import stays for audit; one per period is active."""
    __tablename__ = "ledger_import"
    id: int | None = Field(default=None, primary_key=True)
    period: str = Field(index=True, max_length=7)
    file_name: str
    sha256: str = Field(index=True, max_length=64)
    imported_at: datetime = Field(default_factory=utcnow)
    rows_per_sheet: str          # canonical JSON {sheet: count}
    rows_digest: str = Field(max_length=64)   # SHA-256 over every stored row's hash, in order
    lang: str = Field(default="en", max_length=2)
    warnings: str = "[]"         # canonical JSON list of warning texts
    active: bool = Field(default=False, index=True)  # convenience flag; ImportActivation is the record
    account: str | None = None   # the desk's account that imported it (None: the command line)

    def chain_content(self) -> dict:
        return self.content_of(self.model_dump())

    @staticmethod
    def content_of(d) -> dict:
        return with_account(d, {
            "period": d["period"], "file_name": d["file_name"], "sha256": d["sha256"],
            "imported_at": iso_utc(d["imported_at"]), "rows_per_sheet": d["rows_per_sheet"],
            "rows_digest": d["rows_digest"], "lang": d["lang"], "warnings": d["warnings"],
        })


class ImportActivation(SQLModel, table=True):
    """The record that an import became its period's active ledger (first import or switch)."""
    __tablename__ = "import_activation"
    id: int | None = Field(default=None, primary_key=True)
    period: str = Field(index=True, max_length=7)
    import_id: int = Field(foreign_key="ledger_import.id")
    previous_import_id: int | None = None
    activated_at: datetime = Field(default_factory=utcnow)
    account: str | None = None

    def chain_content(self) -> dict:
        return self.content_of(self.model_dump())

    @staticmethod
    def content_of(d) -> dict:
        return with_account(d, {
            "period": d["period"], "import_id": d["import_id"],
            "previous_import_id": d["previous_import_id"],
            "activated_at": iso_utc(d["activated_at"]),
        })


class Run(SQLModel, table=True):
    """One evaluation of a period's active ledger (SPEC §6)."""
    __tablename__ = "run"
    id: int | None = Field(default=None, primary_key=True)
    period: str = Field(index=True, max_length=7)
    import_id: int = Field(foreign_key="ledger_import.id")
    file_sha256: str = Field(max_length=64)
    policy_sha256: str = Field(max_length=64)
    policy_json: str                      # the effective policy, canonical JSON
    rules_version: str = Field(max_length=64)
    program_version: str = Field(max_length=32)
    decisions_digest: str = Field(max_length=64)   # which decisions the run applied
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    counts: str = "{}"                    # canonical JSON
    account: str | None = None
    # The other months' active imports the run also read (quarterly ratings, LINKAGE_CHANGED,
    # the frequent-proposer window, SPEC §11.5–§11.9): canonical JSON {period: {"import_id",
    # "file_sha256"}}, the imports a source "Sheet@YYYY-MM" names a row of (rules/sources.py).
    # None when it read none; chained only when set, so earlier runs hash as they always did.
    other_imports: str | None = None

    def chain_content(self) -> dict:
        return self.content_of(self.model_dump())

    @staticmethod
    def content_of(d) -> dict:
        return {k: (iso_utc(v) if isinstance(v, datetime) else v) for k, v in d.items()
                if k != "id" and not (k in _NULL_UNCHAINED and v is None)}


# Run columns added after runs were first chained: left out of the content while NULL.
_NULL_UNCHAINED = frozenset(("account", "other_imports"))


class Firing(SQLModel, table=True):
    """One rule firing, in firing order, with the source rows it matched."""
    __tablename__ = "firing"
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id", index=True)
    seq: int                              # order within the run
    rule: str = Field(max_length=64)
    subject_id: str | None = None
    sources: str                          # canonical JSON [[sheet, row], ...]
    outcome: str                          # canonical JSON of what it produced

    def chain_content(self) -> dict:
        return self.content_of(self.model_dump())

    @staticmethod
    def content_of(d) -> dict:
        return {k: v for k, v in d.items() if k != "id"}


class Adjustment(SQLModel, table=True):
    """A signed point delta produced by one firing (SPEC §2, §8 adjustments.json)."""
    __tablename__ = "adjustment"
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id", index=True)
    ord: int                              # SPEC §5.7 output order
    adjustment_id: str = Field(max_length=32)
    firing_seq: int
    subject_type: str = Field(max_length=16)
    subject_id: str
    mechanism: str = Field(max_length=16)
    rule: str = Field(max_length=64)
    points: Decimal = Field(sa_type=ExactDecimal)
    sources: str
    explanation: str

    def chain_content(self) -> dict:
        return self.content_of(self.model_dump())

    @staticmethod
    def content_of(d) -> dict:
        out = {k: v for k, v in d.items() if k != "id"}
        out["points"] = decimal_text(d["points"])
        return out


class ExceptionItem(SQLModel, table=True):
    """A rejection or a review item produced by one firing (SPEC §5, §8 exceptions.json)."""
    __tablename__ = "exception_item"
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id", index=True)
    ord: int
    review_id: str = Field(max_length=32, index=True)
    kind: str = Field(max_length=32)
    type: str = Field(max_length=16)
    subject_id: str
    assignee_id: str
    status: str = Field(max_length=16)
    sources: str
    source_hash: str = Field(max_length=64)   # content hash of the item's source rows
    message: str
    firing_seq: int

    def chain_content(self) -> dict:
        return self.content_of(self.model_dump())

    @staticmethod
    def content_of(d) -> dict:
        return {k: v for k, v in d.items() if k != "id"}


class Decision(SQLModel, table=True):
    """A manager's or HR's decision on a review item (SPEC §6). Later ones replace earlier."""
    __tablename__ = "decision"
    id: int | None = Field(default=None, primary_key=True)
    period: str = Field(index=True, max_length=7)
    review_id: str = Field(max_length=32, index=True)
    decision: str = Field(max_length=16)
    reviewer_id: str
    comment: str | None = None
    source_hash: str = Field(max_length=64)   # the item's source rows when decided
    file_name: str
    file_sha256: str = Field(max_length=64)
    sheet: str
    row: int
    decided_at: datetime = Field(default_factory=utcnow)
    account: str | None = None

    def chain_content(self) -> dict:
        return self.content_of(self.model_dump())

    @staticmethod
    def content_of(d) -> dict:
        return {k: (iso_utc(v) if isinstance(v, datetime) else v) for k, v in d.items()
                if k != "id" and not (k == "account" and v is None)}


class PeriodEvent(SQLModel, table=True):
    """A period closed or reopened (SPEC §11.1): who, when, why. The latest event of a period
    says whether it is closed; every event stays, chained, for audit."""
    __tablename__ = "period_event"
    id: int | None = Field(default=None, primary_key=True)
    period: str = Field(index=True, max_length=7)
    action: str = Field(max_length=8)          # close | reopen
    reason: str | None = None
    by: str                                    # the account (the desk) or the system user (CLI)
    at: datetime = Field(default_factory=utcnow)
    open_reviews: int = 0                      # reviews still open when it was closed

    def chain_content(self) -> dict:
        return self.content_of(self.model_dump())

    @staticmethod
    def content_of(d) -> dict:
        return {k: (iso_utc(v) if isinstance(v, datetime) else v) for k, v in d.items() if k != "id"}


class Checkpoint(SQLModel, table=True):
    """A successful verification of the audit chain up to link `seq` (SPEC §10.8), whose hash
    was `head_hash`, at `at` (by `account` in the desk): either a full `verify` (`run_id`
    None), which recomputed the whole chain, or the check of run `run_id`'s report, which
    recomputed everything after the checkpoint before it — every link and the rows of every
    import linked there (evaluator.chain.verify_since) — so that the checkpoints chain back to
    a full verification. `run` and `report` then verify only the links after the newest.
    `record_ids` is canonical JSON {record type: the largest id of that type then}: a record
    with a larger id must be linked after the checkpoint, else it was inserted behind the
    chain's back. A checkpoint is itself chained, so changing one is tampering like any other."""
    __tablename__ = "checkpoint"
    id: int | None = Field(default=None, primary_key=True)
    seq: int                                   # the chain was verified from link 1 up to here
    head_hash: str = Field(max_length=64)      # the hash of link `seq` then
    record_ids: str = "{}"                     # canonical JSON {record type: largest id}
    at: datetime = Field(default_factory=utcnow)
    account: str | None = None
    run_id: int | None = None                  # the run whose report's check made it; None: a full verify

    def chain_content(self) -> dict:
        return self.content_of(self.model_dump())

    @staticmethod
    def content_of(d) -> dict:
        content = with_account(d, {"seq": d["seq"], "head_hash": d["head_hash"],
                                   "record_ids": d["record_ids"], "at": iso_utc(d["at"])})
        # only when set: a full verify's checkpoint (and every one written before the column
        # existed) hashes as it always did
        if d.get("run_id") is not None:
            content["run_id"] = d["run_id"]
        return content


# --------------------------------------------------------------------------- ledger rows

_KIND_TYPES = {
    "id": lambda: sa.String(255),
    "text": lambda: sa.Text(),
    "number": lambda: ExactDecimal(),
    "ratio": lambda: ExactDecimal(),
    "date": lambda: sa.Date(),
    "enum": lambda: sa.String(16),
}


def row_table_name(sheet_name: str) -> str:
    """CompanyKPIs -> ledger_company_kpis, InternalRatings -> ledger_internal_ratings."""
    return "ledger_" + re.sub(r"(?<=[a-z])(?=[A-Z])", "_", sheet_name).lower()


def _make_row_table(sheet) -> sa.Table:
    cols = [
        sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("import_id", sa.Integer, sa.ForeignKey("ledger_import.id"), nullable=False, index=True),
        sa.Column("row", sa.Integer, nullable=False),
        sa.Column("row_hash", sa.String(64), nullable=False),
    ]
    for c in sheet.columns:
        cols.append(sa.Column(c.name, _KIND_TYPES[c.kind](), nullable=True))
    return sa.Table(row_table_name(sheet.name), SQLModel.metadata, *cols)


ROW_TABLES: dict[str, sa.Table] = {s.name: _make_row_table(s) for s in SHEETS}


# --------------------------------------------------------------------------- engine

def database_url(cli_value: str | None = None) -> str:
    return cli_value or os.environ.get("XIETONG_DB") or DEFAULT_DB_URL


# How long a command waits for another one's write transaction before it gives up with a clear
# message (xietong.cli): long enough for the biggest import or evaluation to store its records.
def _lock_timeout() -> int:
    try:
        return max(1, int(os.environ.get("XIETONG_LOCK_TIMEOUT", "") or 600))
    except ValueError:
        return 600


LOCK_TIMEOUT_S = _lock_timeout()

# Every transaction is a writer that takes the database's single write lock when it begins,
# unless it is opened on `reader(engine)`. On SQLite the lock is BEGIN IMMEDIATE; on PostgreSQL
# a transaction-level advisory lock with this key (any constant; per database).
_PG_WRITE_LOCK = 0x78696574   # "xiet"
READ_OPTION = "xietong_read"


def reader(engine: sa.Engine) -> sa.Engine:
    """The same engine for read-only work (verify, the reading phase of an evaluation; reports
    should read through it too):
    its transactions take no write lock, so they neither wait for a writer nor block one
    (SQLite WAL readers see the last committed state; PostgreSQL readers never block). Each
    read transaction sees one snapshot throughout — SQLite's deferred transaction in WAL mode,
    PostgreSQL's REPEATABLE READ — so `verify` never mistakes a record committed while it read
    for one inserted behind the chain's back."""
    options = {READ_OPTION: True}
    if engine.dialect.name == "postgresql":
        options["isolation_level"] = "REPEATABLE READ"
    return engine.execution_options(**options)


def _is_read(conn) -> bool:
    return bool(conn.get_execution_options().get(READ_OPTION))


def _sqlite_pragmas(dbapi_conn, _record):
    cur = dbapi_conn.cursor()
    # The busy timeout makes a second writer wait instead of failing at once. WAL lets a
    # report read while an evaluation writes.
    cur.execute(f"PRAGMA busy_timeout={LOCK_TIMEOUT_S * 1000}")
    _switch_to_wal(cur)
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _switch_to_wal(cur) -> None:
    """PRAGMA journal_mode=WAL, waiting as the busy timeout would. On a database already in WAL
    mode it takes no lock. On a new (empty) file it reads the header under a shared lock and
    then needs the write lock to write it; when another command holds that lock (it is
    creating the same new database), SQLite answers "database is locked" at once without
    calling the busy handler — it never waits while holding a read lock, to avoid deadlock
    (measured with strace: one of two commands started together on a new database failed
    about one time in four). So the switch is retried here until the lock timeout."""
    deadline = time.monotonic() + LOCK_TIMEOUT_S
    pause = 0.001
    while True:
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            if not is_busy_error(e) or time.monotonic() >= deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


def _pg_settings(dbapi_conn, _record):
    cur = dbapi_conn.cursor()
    cur.execute(f"SET lock_timeout = '{LOCK_TIMEOUT_S}s'")
    cur.execute("SET TIME ZONE 'UTC'")
    cur.close()
    dbapi_conn.commit()


def make_engine(url: str | None = None) -> sa.Engine:
    url = database_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"isolation_level": None, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)

        # pysqlite's own transaction handling is off (isolation_level=None); SQLAlchemy's
        # begin() then issues BEGIN IMMEDIATE so a writer takes the lock up front and the
        # chain's sequence numbers cannot interleave between two processes. Readers BEGIN
        # (deferred): in WAL mode they read a snapshot without any lock.
        @event.listens_for(engine, "begin")
        def _begin(conn):
            conn.exec_driver_sql("BEGIN" if _is_read(conn) else "BEGIN IMMEDIATE")
    elif url.startswith("postgresql"):
        engine = create_engine(url, pool_pre_ping=True)
        event.listen(engine, "connect", _pg_settings)

        # The same single-writer rule as SQLite's: a write transaction first waits for the
        # database's xietong write lock (released at commit or rollback, or when a killed
        # client's session ends), so the chain's seq, prev_hash and the records' ids, all read
        # from the tail, cannot interleave. It works before any table exists (create_all).
        @event.listens_for(engine, "begin")
        def _begin(conn):
            if not _is_read(conn):
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_WRITE_LOCK})")
    else:
        engine = create_engine(url)
    _create_tables(engine)
    return engine


def _create_tables(engine: sa.Engine) -> None:
    """Create the missing tables, in one write transaction; when none is missing (every command
    but the first) take no write lock at all, so that `verify` or `report` need not wait for a
    long import or evaluation to finish storing."""
    tables = list(SQLModel.metadata.sorted_tables)
    with reader(engine).connect() as conn:
        inspector = sa.inspect(conn)
        names = set(inspector.get_table_names())
        missing = _missing_columns(inspector, names)
    if all(t.name in names for t in tables) and not missing:
        return
    SQLModel.metadata.create_all(engine)
    if missing:
        _add_missing_columns(engine)


def _missing_columns(inspector, names: set[str]) -> list[tuple[str, sa.Column]]:
    """Nullable columns a model has that an existing table (of an older database) lacks."""
    out = []
    for table in SQLModel.metadata.sorted_tables:
        if table.name not in NULLABLE_COLUMN_TABLES or table.name not in names:
            continue
        have = {c["name"] for c in inspector.get_columns(table.name)}
        out += [(table.name, c) for c in table.columns if c.name not in have and c.nullable]
    return out


def _add_missing_columns(engine: sa.Engine) -> None:
    """The migration of an older database: ALTER TABLE … ADD COLUMN for each nullable column
    it lacks, in one write transaction (checked again inside it: another process may have
    added them meanwhile). Old rows hold NULL, which no chained content includes."""
    with engine.begin() as conn:
        inspector = sa.inspect(conn)
        for table, column in _missing_columns(inspector, set(inspector.get_table_names())):
            kind = column.type.compile(dialect=conn.dialect)
            quote = conn.dialect.identifier_preparer.quote
            conn.exec_driver_sql(f"ALTER TABLE {quote(table)} ADD COLUMN {quote(column.name)} {kind}")


def is_busy_error(e: BaseException) -> bool:
    """True when a database error means "another command holds the write lock too long"."""
    text = str(getattr(e, "orig", e)).lower()
    return "database is locked" in text or "lock timeout" in text or "database table is locked" in text

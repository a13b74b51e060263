"""The desk's own tables (SPEC §12): accounts, sign-in attempts, background jobs, and the trace
browser's filter index. None of them is chained: they say who may act and how the desk finds
things, not what was decided — every change an account makes to the product's records goes
into the chain through those records' `account` column (evaluator/db.py).

They live on the same metadata as every other table, so `make_engine` creates them with the
rest once this module is imported (xietong.api imports it before it makes an engine;
`ensure_tables` covers an engine made before).
"""
from __future__ import annotations

import weakref
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from evaluator.db import utcnow

ROLES = ("hr", "auditor", "manager")


class Account(SQLModel, table=True):
    """A person who signs in to the desk. A manager is bound to an employee id."""
    __tablename__ = "desk_account"
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    role: str = Field(max_length=16)
    employee_id: str | None = Field(default=None, max_length=255, index=True)
    name: str | None = None
    email: str | None = None
    password_hash: str
    disabled: bool = False
    lang: str | None = Field(default=None, max_length=2)   # chosen in the desk; None: the database's
    # bumped by a password change or a disable: a session cookie signed before no longer counts
    session_epoch: int = 0
    created_at: datetime = Field(default_factory=utcnow)


class SignIn(SQLModel, table=True):
    """Every sign-in attempt, for the lock-out (five failures in 15 minutes) and for audit."""
    __tablename__ = "desk_sign_in"
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64)
    ok: bool
    at: datetime = Field(default_factory=utcnow)
    address: str | None = None

    __table_args__ = (sa.Index("ix_desk_sign_in_username_at", "username", "at"),)


class Job(SQLModel, table=True):
    """A background evaluation: queued → running → done | failed. Its progress is a small file
    in the desk's data directory (writing it to the database would wait for the evaluation's
    own write transaction)."""
    __tablename__ = "desk_job"
    id: int | None = Field(default=None, primary_key=True)
    period: str = Field(max_length=7, index=True)
    state: str = Field(max_length=16, index=True)
    account: str | None = None
    run_id: int | None = None
    message: str | None = None
    host: str | None = None
    pid: int | None = None
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None


class FiringFacet(SQLModel, table=True):
    """What the trace browser filters on, one row per firing and source sheet (a firing citing
    two sheets has two rows; `first` marks one row per firing), derived from the stored firings
    (xietong/trace_index.py). Filtering the firing table itself would read its JSON columns
    row by row: 2.7 million of them at 100,000 employees."""
    __tablename__ = "desk_firing_facet"
    id: int | None = Field(default=None, primary_key=True)
    run_id: int
    seq: int
    firing_id: int
    first: int                       # 1 on one row per firing
    rule: str = Field(max_length=64)
    mechanism: str = Field(max_length=16)
    subject_id: str | None = Field(default=None, max_length=255)
    sheet: str = Field(max_length=32)          # "" for a firing without sources
    result: str = Field(max_length=16)         # adjustment | exception | note | none

    # One index per filter, each ending (first, seq): a page of one filter is a range of one
    # index read in seq order, whatever the offset's size (docs/decisions.md "The desk").
    __table_args__ = (
        sa.Index("ix_facet_first", "run_id", "first", "seq"),
        sa.Index("ix_facet_sheet", "run_id", "sheet", "seq"),
        sa.Index("ix_facet_rule", "run_id", "rule", "first", "seq"),
        sa.Index("ix_facet_mechanism", "run_id", "mechanism", "first", "seq"),
        sa.Index("ix_facet_subject", "run_id", "subject_id", "first", "seq"),
        sa.Index("ix_facet_result", "run_id", "result", "first", "seq"),
    )


class FacetCount(SQLModel, table=True):
    """How many firings of a run each single filter value selects ("" and "" for all of them):
    counted once when the run is indexed, so that the total above a page of one filter is a
    lookup, not a count of up to millions of rows."""
    __tablename__ = "desk_facet_count"
    run_id: int = Field(primary_key=True)
    dimension: str = Field(primary_key=True, max_length=16)     # subject | rule | … | ""
    value: str = Field(primary_key=True, max_length=255)
    n: int


class FacetedRun(SQLModel, table=True):
    """A run whose firings are in desk_firing_facet (written in the same transaction)."""
    __tablename__ = "desk_faceted_run"
    run_id: int = Field(primary_key=True)
    firings: int
    contiguous: bool = False      # seq runs 1..firings: a page of all firings is a seq range
    built_at: datetime = Field(default_factory=utcnow)


DESK_TABLES = [Account.__table__, SignIn.__table__, Job.__table__, FiringFacet.__table__,
               FacetCount.__table__, FacetedRun.__table__]
_ready: "weakref.WeakSet[sa.Engine]" = weakref.WeakSet()


def ensure_tables(engine: sa.Engine) -> None:
    """Create the desk's tables on an engine made before this module was imported (once per
    engine; create_all skips the tables that exist)."""
    if engine in _ready:
        return
    from evaluator.db import reader
    with reader(engine).connect() as conn:
        names = set(sa.inspect(conn).get_table_names())
    if not all(t.name in names for t in DESK_TABLES):
        SQLModel.metadata.create_all(engine, tables=DESK_TABLES)
    _row_indexes(engine, names)
    _ready.add(engine)


def _row_indexes(engine: sa.Engine, names: set[str]) -> None:
    """An index (import_id, row) on every ledger row table, so that the desk reads the few rows
    a page cites (and the names beside its ids) without scanning an import's million rows
    (0.25 s → 0.03 s for a page of reviews at 100,000 employees). Made once, by the desk's
    first use of a database: the command line alone never needs them. Building them on a
    100,000-employee database took 0.6 s; each import then maintains them too. Also, for the
    summary page, Employees by (employee_id, import_id, dept_id), adjustments by (run_id,
    subject_type, subject_id) and review items by (run_id, type, status) (docs/decisions.md,
    "Summary and trends")."""
    from evaluator.db import ROW_TABLES, reader
    wanted = {f"ix_desk_{t.name}_row": (t.name, ("import_id", "row"))
              for t in ROW_TABLES.values() if t.name in names}
    # the summary page (SPEC §12 over §11.2) reads a page of employees over a year of imports:
    # their ids in order, grouped, with their department (covering), and their adjustments
    employees = ROW_TABLES["Employees"].name
    if employees in names:
        wanted["ix_desk_employees_by_id"] = (employees, ("employee_id", "import_id", "dept_id"))
    if "adjustment" in names:
        wanted["ix_desk_adjustment_subject"] = ("adjustment",
                                                ("run_id", "subject_type", "subject_id"))
    if "exception_item" in names:      # each month's open reviews, counted from the index
        wanted["ix_desk_exception_status"] = ("exception_item", ("run_id", "type", "status"))
    with reader(engine).connect() as conn:
        inspector = sa.inspect(conn)
        have = {i["name"] for t in {t for t, _ in wanted.values()}
                for i in inspector.get_indexes(t)}
    missing = {k: v for k, v in wanted.items() if k not in have}
    if not missing:
        return
    with engine.begin() as conn:
        quote = conn.dialect.identifier_preparer.quote
        for name, (table, columns) in missing.items():
            conn.exec_driver_sql(f"CREATE INDEX IF NOT EXISTS {quote(name)} ON "
                                 f"{quote(table)} ({', '.join(quote(c) for c in columns)})")

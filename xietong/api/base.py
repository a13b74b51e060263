"""The ground every module of the library stands on: the database handle (`Database`,
`open_database`), the refusals every function raises (`Refused` and its kinds `NotFound`,
`Conflict`, `Locked`), the formats a report writes, and the small helpers the others share
(`_existing`, `_engine`, `_words`, `_aware`, `_latest_run_or_404`, `_refuse_if_closed`).
Nothing here imports another module of xietong.api.
"""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import sqlalchemy as sa
from sqlmodel import Session, select

from xietong import i18n

FORMATS = ("xlsx", "html", "json")
Progress = Callable[..., None]        # progress(phase, done, total, unit="rows")


class Refused(Exception):
    """A refused input (a bad ledger or review workbook, an unknown period, a policy with errors,
    a failed verification…): nothing was stored. `lines` are the messages in the user's
    language; `problems` the structured problems behind them, when there are any."""

    def __init__(self, lines: list[str], problems: list | None = None):
        super().__init__("\n".join(lines))
        self.lines = list(lines)
        self.problems = list(problems or [])

    @classmethod
    def listing(cls, lang: str, path, problems, header: str = "refused_header",
                tail: str = "nothing_stored") -> "Refused":
        """A refused file: a header naming it, one indented line per problem, nothing stored."""
        return cls([i18n.t(lang, header, path=path, n=len(problems))]
                   + [f"  {p}" for p in problems] + [i18n.t(lang, tail)], problems)


class NotFound(Refused):
    """No such thing (period, item, job): the same answer whoever asks."""


class Conflict(Refused):
    """The request cannot be done now: the period is closed, or an evaluation of it runs."""


class Locked(Refused):
    """Too many failed sign-ins: the username is locked for a while."""


class Database:
    """One database of xietong (SQLite file or PostgreSQL server): its URL and a connection
    pool. Close it (or use it as a context manager) when done, so that SQLite's last
    connection checkpoints its write-ahead log before the process goes on."""

    def __init__(self, url: str | None = None):
        from evaluator.db import database_url
        self.url = database_url(url)
        self._engine: sa.Engine | None = None

    @property
    def engine(self) -> sa.Engine:
        """The SQLAlchemy engine, made (and the tables created) on first use."""
        if self._engine is None:
            from evaluator.db import make_engine
            self._engine = make_engine(self.url)
        return self._engine

    @property
    def shown_url(self) -> str:
        """The URL with any password hidden: what messages may print."""
        try:
            return sa.engine.make_url(self.url).render_as_string(hide_password=True)
        except Exception:                   # noqa: BLE001 - an unparsable URL is shown as such
            return "(an unreadable database URL)"

    def exists(self) -> bool:
        """False for an SQLite database whose file is not there yet, or a server database
        without xietong's tables (only a change creates them: a command that reads, or a refused
        import, must not start a new, empty history by mistake)."""
        url = sa.engine.make_url(self.url)
        if url.get_backend_name() == "sqlite":
            return url.database in (None, "", ":memory:") or Path(url.database).exists()
        if self._engine is not None:        # made: its tables were created
            return True
        probe = sa.create_engine(self.url, poolclass=sa.pool.NullPool)
        try:
            with probe.connect() as conn:
                return sa.inspect(conn).has_table("chain_link")
        finally:
            probe.dispose()

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def __enter__(self) -> "Database":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_database(url: str | None = None) -> Database:
    """`url`, else $XIETONG_DB, else sqlite:///xietong.db in the working directory."""
    return Database(url)


def database_language(db: Database, period: str | None = None) -> str | None:
    """The language the database's people use (SPEC §10.5): that of the period's active import,
    else of the newest import; None when there is no import (or no database)."""
    from evaluator.db import LedgerImport, reader
    if not db.exists():
        return None
    with Session(reader(db.engine)) as session, session.begin():
        found = None
        if period is not None:
            found = session.exec(select(LedgerImport.lang).where(
                LedgerImport.period == period, LedgerImport.active == True)).first()  # noqa: E712
        if found is None:
            found = session.exec(select(LedgerImport.lang)
                                 .order_by(LedgerImport.id.desc()).limit(1)).first()
    return found if found in ("zh", "en") else None


def _existing(db: Database, lang: str | None) -> Database:
    """The database, or Refused when it is an SQLite file that does not exist: reading commands
    never create one."""
    if not db.exists():
        raise Refused([i18n.t(lang, "no_database", url=db.shown_url)])
    return db


def database_problem(e: BaseException, db: Database, lang: str | None) -> list[str] | None:
    """Lines for a database that is busy, unreachable or unusable, else None (a bug). Every
    write is one transaction, so in each of these cases nothing was stored."""
    from evaluator.db import LOCK_TIMEOUT_S, is_busy_error
    lang = lang or "en"
    url = db.shown_url
    if isinstance(e, sa.exc.OperationalError) and is_busy_error(e):
        return [i18n.t(lang, "database_busy", url=url, s=LOCK_TIMEOUT_S)]
    if isinstance(e, (sa.exc.OperationalError, sa.exc.InterfaceError)):   # not a bug's IntegrityError
        text = str(getattr(e, "orig", e)).strip()
        return [i18n.t(lang, "database_error", url=url,
                       error=text.splitlines()[0][:300] if text else type(e).__name__)]
    if isinstance(e, sa.exc.ArgumentError):
        return [i18n.t(lang, "database_error", url=url, error=str(e))]
    if isinstance(e, ModuleNotFoundError) and (e.name or "").startswith("psycopg"):
        return [i18n.t(lang, "database_driver", url=url)]
    return None


def _refuse_if_closed(session, period: str, lang: str | None) -> None:
    from evaluator.periods import PeriodRefused, refuse_if_closed
    try:
        refuse_if_closed(session, period, lang)
    except PeriodRefused as e:
        raise Refused(e.lines) from None


def _latest_run_or_404(session, period: str, lang):
    from evaluator.runs import latest_run, refusal
    run = latest_run(session, period)
    if run is None:
        raise NotFound([refusal(lang or "en", "no_run", period=period)])
    return run


def _words(lang, key, **kw) -> str:
    from xietong.words import w
    return w(lang, key, **kw)


def _engine(db: Database):
    import evaluator.desk_tables                      # noqa: F401 - its tables on the metadata
    from evaluator.desk_tables import ensure_tables
    engine = db.engine
    ensure_tables(engine)
    return engine


def _aware(t: datetime) -> datetime:
    """SQLite hands timestamps back naive (they are stored in UTC)."""
    return t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t

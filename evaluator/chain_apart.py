"""A report's chain check (evaluator.chain.verify_since) in a process of its own, while the
report's files are written.

At 100,000 employees the first run's check reads 1.85 million links and a million ledger rows:
13 s on one core, which the run process spent before writing the trace (the trace shows the
chain's status) while the other core sat idle for most of the reports phase. Run here, the
check takes that idle core, and the trace waits for its result only when it writes the status,
last (reports/trace.py).

A fresh interpreter started with subprocess, not a fork: a forked child must never open the
SQLite database its parent has open (SQLite keeps its locks' bookkeeping per process, and a
child inherits the parent's: evaluator.runs.RunFirings). It opens the database by its URL (given
on stdin, never on the command line, where `ps` would show a password) and checks in a read
transaction of its own, so it sees the database as committed when it starts — the run it is
given, and anything committed after the report's snapshot (docs/decisions.md says why that is
right). It answers on stdout with JSON. Should it fail in any way (it could not start, the
database was unreachable from it, it died), the caller checks in its own process instead:
the result is the same, only later (`ApartCheck.result` returns None).

It runs at a lower priority (`_yield_to_the_writers`): the trace's writer, the longest of the
report's processes, keeps its core.

A small check is not worth a process (its start costs ≈ 0.5 s of a core): `start` returns None
below APART_MIN links and rows to check, as for a database in memory, which another process
cannot open.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa

# links after the newest checkpoint plus the rows of the run's import below which the check
# stays in the caller's process (10,000 employees: ≈ 300,000; 1,000: ≈ 30,000)
APART_MIN = 250_000


class ApartCheck:
    """verify_since(period, run_id, checkpoint) running in a child interpreter; `result()`
    waits for it."""

    def __init__(self, url: str, period: str, run_id: int, checkpoint: bool):
        import evaluator
        root = str(Path(evaluator.__file__).resolve().parent.parent)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        # -P: the current folder is not on its path (only this program's own modules are)
        self._child = subprocess.Popen(
            [sys.executable, "-P", "-m", "evaluator.chain_apart"], env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        order = {"url": url, "period": period, "run_id": run_id, "checkpoint": checkpoint,
                 "parent": os.getpid()}
        try:
            self._child.stdin.write(json.dumps(order).encode("utf-8"))
            self._child.stdin.close()
        except OSError:                     # it died at once: result() says None
            pass

    def result(self):
        """(VerifyResult, the head link's hash in the snapshot it checked), or None when the
        child failed (the caller checks in its own process)."""
        from evaluator.chain import VerifyResult
        from importers.lang import Text
        with self._child.stdout:
            out = self._child.stdout.read()
        if self._child.wait() != 0:
            return None
        try:
            answer = json.loads(out)
            problem = answer.pop("problem")
            since_at = answer.pop("since_at")
            head = answer.pop("head")
            result = VerifyResult(**answer,
                                  problem=None if problem is None else Text(*problem),
                                  since_at=None if since_at is None
                                  else datetime.fromisoformat(since_at))
        except (ValueError, TypeError, KeyError):
            return None
        return result, head

    def cancel(self) -> None:
        """Stop the check (the report failed) and reap the child."""
        if self._child.poll() is None:
            self._child.kill()
        self._child.stdout.close()
        self._child.wait()


def start(engine: sa.Engine, session, period: str, run_id: int, checkpoint: bool
          ) -> ApartCheck | None:
    """The check started apart, or None when it is small (APART_MIN) or the database cannot be
    opened by another process (SQLite in memory). `session`: the report's read snapshot, for
    the size."""
    url = engine.url
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        return None
    if _size(session, run_id) < APART_MIN:
        return None
    try:
        return ApartCheck(url.render_as_string(hide_password=False), period, run_id, checkpoint)
    except OSError:             # no interpreter to start (sys.executable gone): checked here
        return None


def _size(session, run_id: int) -> int:
    """Links after the newest checkpoint plus the rows of the run's import: what the check
    reads, near enough."""
    from evaluator.chain import newest_checkpoint
    from evaluator.db import ChainLink, LedgerImport, Run
    cp = newest_checkpoint(session)
    head = session.execute(sa.select(sa.func.max(ChainLink.__table__.c.seq))).scalar() or 0
    run = session.get(Run, run_id)
    imp = session.get(LedgerImport, run.import_id) if run is not None else None
    try:
        rows = sum(json.loads(imp.rows_per_sheet).values()) if imp is not None else 0
    except (ValueError, TypeError, AttributeError):
        rows = 0
    return head - (cp.seq if cp is not None else 0) + rows


def check(session, period: str, run_id: int, checkpoint: bool):
    """(verify_since's result, the hash of the head link) in `session`'s snapshot: what a
    report shows of the chain, whichever process checks it."""
    from sqlmodel import select
    from evaluator.chain import verify_since
    from evaluator.db import ChainLink
    result = verify_since(session, period, run_id, checkpoint=checkpoint)
    head = session.exec(select(ChainLink.hash).order_by(ChainLink.seq.desc()).limit(1)).first()
    return result, head


def _yield_to_the_writers() -> None:
    """A lower priority (nice 10) for this process: while the report's two writers and this
    check want the machine's two cores, the writer of the trace — the longest of the three, and
    the one that waits for this check only at its very end — keeps a core to itself, and the
    check takes what the other writer leaves (at 100,000 employees the check is 13 s, the
    other writer 27 s, the trace 42 s). Alone on a core, a process runs as fast at any nice."""
    try:
        os.nice(10)
    except (AttributeError, OSError):
        pass


def _main() -> int:
    """The child: read the order on stdin, check, answer on stdout."""
    from sqlmodel import Session
    from engine.isolation import die_with_parent
    from evaluator.db import make_engine, reader
    order = json.loads(sys.stdin.buffer.read())
    die_with_parent(order["parent"])
    _yield_to_the_writers()
    engine = make_engine(order["url"])
    try:
        with Session(reader(engine)) as session, session.begin():
            result, head = check(session, order["period"], order["run_id"], order["checkpoint"])
    finally:
        engine.dispose()
    answer = {"ok": result.ok, "checked": result.checked,
              "problem": None if result.problem is None else list(result.problem),
              "head_seq": result.head_seq, "head_hash": result.head_hash,
              "since_seq": result.since_seq,
              "since_at": None if result.since_at is None else result.since_at.isoformat(),
              "since_run": result.since_run, "record_ids": result.record_ids, "head": head}
    sys.stdout.buffer.write(json.dumps(answer, ensure_ascii=False).encode("utf-8"))
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(_main())

"""A report's check of the audit chain (SPEC §10.8), made in a process of its own while the
report's process writes trace.xlsx, whose Run sheet, written last, shows the result.

Why: at 100,000 employees the check reads and hashes again two million records — the month's
import and its run, since the newest checkpoint — about 12 s, and the trace's sheets take
about 30 s; one process did one after the other, while the report's second writer (the
statement, the review workbooks, the feedback) was done long before.

Spawned — a new interpreter that opens the database itself — never forked: a forked child
inherits SQLite's lock bookkeeping from its parent and must never open the database
(evaluator.runs.RunFirings says why). The arguments go in on its standard input (the URL may
hold a password: never on a command line), the answer comes back pickled on its standard
output: evaluator.chain.VerifyResult and the hash of the newest link it saw. It reads in a
snapshot of its own, taken when it starts, after the report's: it checks the database as it
is then, and the head it names is the one it reached. It dies with the report's process.

A small check (fewer than SPAWN_MIN links to walk) is made by the report itself: a new
interpreter costs about half a second. Should the spawned check fail to start or to answer,
the report checks the chain itself: a check is never skipped, nor said to pass unless it
passed.
"""
from __future__ import annotations

import os
import pickle
import subprocess
import sys

# Links after the newest checkpoint from which the check is worth a process of its own: a
# link is checked in a few microseconds, a new interpreter with the database's models costs
# about half a second.
SPAWN_MIN = 200_000


class Check:
    """The chain's check running in its own process (`start`); `result()` waits for it."""

    def __init__(self, proc: subprocess.Popen):
        self._proc = proc

    def result(self):
        """(VerifyResult, the head's hash or None), or None when the process could not give
        it (the caller then checks the chain itself)."""
        try:
            with self._proc.stdout as answer:
                out = answer.read()
        except (OSError, ValueError):         # ValueError: cancelled, its pipe closed
            out = b""
        if self._proc.wait() != 0 or not out:
            return None
        try:
            return pickle.loads(out)
        except Exception:                   # noqa: BLE001 - a cut answer is no answer
            return None

    def cancel(self) -> None:
        """Stops the check if it still runs and reaps it. Idempotent."""
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.stdout.close()
        self._proc.wait()


def start(url: str, period: str, run_id: int, checkpoint: bool) -> Check | None:
    """The check of the chain for the report of `run_id`, started in a new process; None when
    it could not be started (the caller then checks the chain itself)."""
    from engine.isolation import die_with_parent
    parent = os.getpid()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "xietong.chain_check"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, close_fds=True,
                                preexec_fn=lambda: die_with_parent(parent))
        proc.stdin.write(pickle.dumps((url, period, run_id, checkpoint)))
        proc.stdin.close()
    except OSError:
        return None
    return Check(proc)


def check(session, period: str, run_id: int, checkpoint: bool):
    """The report's check in `session`'s snapshot: (VerifyResult, the newest link's hash)."""
    from sqlmodel import select

    from evaluator.chain import verify_since
    from evaluator.db import ChainLink
    result = verify_since(session, period, run_id, checkpoint=checkpoint)
    head = session.exec(select(ChainLink).order_by(ChainLink.seq.desc()).limit(1)).first()
    return result, head.hash if head else None


def _main() -> int:
    from sqlmodel import Session

    from evaluator.db import make_engine, reader
    url, period, run_id, checkpoint = pickle.loads(sys.stdin.buffer.read())
    engine = make_engine(url)
    try:
        with Session(reader(engine)) as session, session.begin():
            answer = check(session, period, run_id, checkpoint)
    finally:
        engine.dispose()
    sys.stdout.buffer.write(pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL))
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(_main())

"""Background evaluations (SPEC §12): HR asks, the desk answers at once with a job id, and the
evaluation runs in a process of its own (`python -m xietong.worker JOB`), so that leaving the
page does not stop it and the desk keeps answering while it runs.

A job is a `desk_job` row: queued → running → done | failed. One period has at most one job
queued or running: a second request is refused, naming the first (who asked, since when). The
worker writes its progress to a small JSON file in the desk's data directory (the database
would make it wait for the evaluation's own write transaction) and its state to the row.

A job whose process dies (killed, crashed) is marked failed by the desk that started it, which
waits on the process; one that was running when its desk stopped is killed and marked failed
at shutdown, and any left behind by a desk that itself died is marked failed at the next
start-up (`reap`: its process is gone). The evaluation stores in one transaction
(evaluator/runs.py), so a failed job leaves nothing half-written in the database.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from types import SimpleNamespace
from pathlib import Path

from sqlmodel import Session, select

from evaluator.db import reader, utcnow
from evaluator.desk_tables import Job, ensure_tables

ACTIVE = ("queued", "running")
HOST = socket.gethostname()

_children: dict[int, subprocess.Popen] = {}        # job id -> the worker this process started
_lock = threading.Lock()


class JobBusy(Exception):
    """Another evaluation of the period is queued or running."""

    def __init__(self, job):
        super().__init__(f"job {job.id}")
        self.job = job


def progress_path(data_dir: Path, job_id: int) -> Path:
    return Path(data_dir) / "jobs" / f"{job_id}.json"


def start(engine, url: str, period: str, data_dir, *, account: str | None, lang: str) -> int:
    """Queue an evaluation of `period` and start its process; the job id."""
    ensure_tables(engine)
    data_dir = Path(data_dir)
    (data_dir / "jobs").mkdir(parents=True, exist_ok=True)
    with Session(engine, expire_on_commit=False) as session, session.begin():
        busy = session.exec(select(Job).where(Job.period == period, Job.state.in_(ACTIVE))
                            .order_by(Job.id)).first()
        if busy is not None:
            # plain values: the rollback that the exception brings expires the row
            raise JobBusy(SimpleNamespace(id=busy.id, account=busy.account,
                                          created_at=busy.created_at))
        job = Job(period=period, state="queued", account=account, host=HOST)
        session.add(job)
        session.flush()
        job_id = job.id
    env = dict(os.environ, XIETONG_DB=url, XIETONG_DESK_DATA=str(data_dir.resolve()),
               XIETONG_JOB_LANG=lang)
    log = open(data_dir / "jobs" / f"{job_id}.log", "wb")
    try:
        child = subprocess.Popen([sys.executable, "-m", "xietong.worker", str(job_id)], env=env,
                                 stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                 start_new_session=True, close_fds=True)
    except OSError as e:
        finish(engine, job_id, "failed", message=f"could not start the evaluation: {e}")
        raise
    finally:
        log.close()
    with Session(engine) as session, session.begin():
        row = session.get(Job, job_id)
        if row.pid is None:
            row.pid = child.pid
            session.add(row)
    with _lock:
        _children[job_id] = child
    threading.Thread(target=_watch, args=(engine, job_id, child), daemon=True,
                     name=f"job-{job_id}").start()
    return job_id


def _watch(engine, job_id: int, child: subprocess.Popen) -> None:
    """Wait for the worker; if it ended without saying done or failed, it died: say so."""
    code = child.wait()
    with _lock:
        _children.pop(job_id, None)
    how = f"exit code {code}" if code >= 0 else f"signal {signal.Signals(-code).name}"
    finish(engine, job_id, "failed", only_if_active=True,
           message_key=("job_died", {"how": how}))


def finish(engine, job_id: int, state: str, *, run_id: int | None = None,
           message: str | None = None, message_key: tuple | None = None,
           only_if_active: bool = False) -> None:
    """Mark a job done or failed (`message_key`: (key, values) of xietong.words, worded in the
    job's language when it is read)."""
    if message_key is not None:
        message = json.dumps({"key": message_key[0], "values": message_key[1]})
    with Session(engine) as session, session.begin():
        job = session.get(Job, job_id)
        if job is None or (only_if_active and job.state not in ACTIVE):
            return
        job.state, job.run_id, job.message, job.finished_at = state, run_id, message, utcnow()
        session.add(job)


def set_running(engine, job_id: int, pid: int) -> Job | None:
    with Session(engine, expire_on_commit=False) as session, session.begin():
        job = session.get(Job, job_id)
        if job is None or job.state != "queued":
            return None
        job.state, job.pid, job.started_at = "running", pid, utcnow()
        session.add(job)
        return job


def get(engine, job_id: int, data_dir) -> dict | None:
    """The job as GET /api/jobs/{id} shows it, with its progress; None when there is none."""
    ensure_tables(engine)
    with Session(reader(engine), expire_on_commit=False) as session, session.begin():
        job = session.get(Job, job_id)
    if job is None:
        return None
    progress = None
    if job.state in ACTIVE:
        try:
            progress = json.loads(progress_path(data_dir, job_id).read_text("utf-8"))
        except (OSError, ValueError):
            progress = None
    return {"job_id": job.id, "period": job.period, "state": job.state, "run_id": job.run_id,
            "message": job.message, "account": job.account, "progress": progress,
            "created_at": job.created_at, "started_at": job.started_at,
            "finished_at": job.finished_at}


def listing(engine, period: str | None = None, limit: int = 20) -> list[Job]:
    ensure_tables(engine)
    with Session(reader(engine), expire_on_commit=False) as session, session.begin():
        q = select(Job).order_by(Job.id.desc()).limit(limit)
        if period is not None:
            q = q.where(Job.period == period)
        return list(session.exec(q))


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:                               # a zombie is dead for us
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def reap(engine) -> int:
    """At start-up: jobs of this host still queued or running whose process is gone (their desk
    stopped or died with them) are failed. How many."""
    ensure_tables(engine)
    with Session(reader(engine), expire_on_commit=False) as session, session.begin():
        stale = [j for j in session.exec(select(Job).where(Job.state.in_(ACTIVE),
                                                           Job.host == HOST))
                 if j.id not in _children and not _alive(j.pid)]
    for j in stale:
        finish(engine, j.id, "failed", only_if_active=True, message_key=("job_orphaned", {}))
    return len(stale)


def stop_all(engine) -> None:
    """At shutdown: the evaluations this desk started are stopped and marked failed."""
    with _lock:
        children = dict(_children)
    for job_id, child in children.items():
        finish(engine, job_id, "failed", only_if_active=True,
               message_key=("job_desk_stopped", {}))
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    for child in children.values():
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

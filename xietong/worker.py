"""The process of one background evaluation of the desk (xietong.jobs): `python -m
xietong.worker JOB_ID`, with XIETONG_DB, XIETONG_DESK_DATA and XIETONG_JOB_LANG in its
environment (never the database URL on a command line, where `ps` shows passwords).

It evaluates the job's period through the library, as its account; writes the reports into the
data directory's folder for the period (reports/<period>/, what the desk offers to download);
indexes the run's firings for the trace browser; and marks the job done — or failed with the
refusal's lines. Its progress goes to jobs/<id>.json in the data directory, at most ten times a
second.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from xietong import api, jobs


class _ProgressFile:
    def __init__(self, path: Path):
        self.path = path
        self.last = 0.0
        self.phase = None

    def __call__(self, phase: str, done: int, total: int | None, unit: str = "rows") -> None:
        now = time.monotonic()
        if phase == self.phase and now - self.last < 0.1 and not (total and done >= total):
            return
        self.phase, self.last = phase, now
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"phase": phase, "done": done, "total": total, "unit": unit}),
                       "utf-8")
        os.replace(tmp, self.path)


def main(argv: list[str]) -> int:
    job_id = int(argv[0])
    data_dir = Path(os.environ["XIETONG_DESK_DATA"])
    lang = os.environ.get("XIETONG_JOB_LANG") or "en"
    db = api.open_database(os.environ["XIETONG_DB"])
    engine = api._engine(db)
    job = jobs.set_running(engine, job_id, os.getpid())
    if job is None:
        return 1
    progress = _ProgressFile(jobs.progress_path(data_dir, job_id))
    try:
        api.refuse_if_closed(db, job.period, lang)
        run = api.evaluate(db, job.period, lang=lang, progress=progress, account=job.account,
                           for_report=True)
        progress("report", 0, None, "files")
        # a run's report: its passed chain check is written as a checkpoint (SPEC §10.8)
        api.report(db, job.period, data_dir / "reports" / job.period, lang=lang, evaluated=run,
                   checkpoint=True)
        api.index_trace(db, run.run_id, progress)
        jobs.finish(engine, job_id, "done", run_id=run.run_id,
                    message_key=("job_done", {"run": run.run_id, "adjustments": run.adjustments,
                                              "reviews": run.reviews, "open": run.open_reviews}))
        return 0
    except api.Refused as refused:
        jobs.finish(engine, job_id, "failed", message="\n".join(refused.lines))
        return 1
    except Exception as e:                        # noqa: BLE001 - said in the job, then raised
        lines = api.database_problem(e, db, lang)
        jobs.finish(engine, job_id, "failed",
                    message="\n".join(lines) if lines else f"{type(e).__name__}: {e}")
        raise
    finally:
        db.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

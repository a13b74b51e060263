"""Background evaluations (SPEC §12): a job in its own process that the desk answers about while
it runs; one evaluation of a period at a time; a job whose process dies, or that was running when
the desk stopped, is failed with a message and leaves nothing half-written."""
from __future__ import annotations

import os
import subprocess
import sys

import sqlalchemy as sa
from sqlmodel import Session

import xietong
from evaluator.desk_tables import Job
from tests import desk_support
from tests.desk_support import client, wait_for_job
from tests.ledgers import PERIOD
from xietong import jobs


def _counts(url: str) -> tuple:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as c:
            return tuple(c.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar()
                         for t in ("run", "firing", "chain_link", "decision"))
    finally:
        engine.dispose()


def test_an_evaluation_runs_in_the_background_and_applies_the_decisions(tmp_path):
    url = desk_support.new_url(tmp_path)
    try:
        d = desk_support.build(tmp_path, url)
        with client(d.app)[0]:
            boss, btoken = client(d.app, "boss")
            r = boss.post(f"/api/periods/{PERIOD}/reviews/{d.own}/decision",
                          headers={"X-CSRF-Token": btoken},
                          json={"decision": "confirm", "comment": "the 5 is deserved"})
            assert r.status_code == 200
            hr, token = client(d.app, "hr")
            r = hr.post(f"/api/periods/{PERIOD}/runs", headers={"X-CSRF-Token": token})
            assert r.status_code == 202
            job_id = r.json()["job_id"]
            # the desk answers while the evaluation runs in another process
            assert hr.get("/api/periods").status_code == 200
            done = wait_for_job(d.app, job_id)
            assert done["state"] == "done", done
            body = hr.get(f"/api/jobs/{job_id}").json()
            assert (body["state"], body["run_id"], body["account"]) == ("done", 2, "hr")
            # SPEC §9 with the 5 confirmed (counted, no longer held): ratings 4, 4, 5 → R = 86.67, P = 88.33,
            # peripheral 0.15 × 18.33 = 2.75; D3 = 70 + 13.46 + 2.75 − 1.50 − 1.80 = 82.91
            scores = hr.get(f"/api/periods/{PERIOD}/scores").json()
            d3 = next(x for x in scores["departments"] if x["dept_id"] == "D3")
            assert (d3["final"], d3["by_mechanism"]["peripheral"]) == (82.91, 2.75)
            # the reports of the run are there to download, and the trace is indexed
            page = hr.get(f"/periods/{PERIOD}").text
            assert "scores.json" in page and "trace.html" in page
            runs = hr.get("/api/runs").json()
            assert (runs[0]["run_id"], runs[0]["account"]) == (2, "hr")
            # the job's report checked the chain and wrote its checkpoint, as `xietong run`
            # does (SPEC §10.8), chained with the run and the account that asked for it
            engine = sa.create_engine(url)
            try:
                with engine.connect() as c:
                    assert c.exec_driver_sql("SELECT run_id, account FROM checkpoint").all() == \
                        [(2, "hr")]
            finally:
                engine.dispose()
            with xietong.open_database(url) as db:
                assert xietong.verify(db).ok
    finally:
        desk_support.forget(url)


def test_a_second_evaluation_of_the_period_is_refused_naming_the_first(tmp_path):
    url = desk_support.new_url(tmp_path)
    try:
        d = desk_support.build(tmp_path, url)
        engine = d.app.state.db.engine
        with Session(engine) as s, s.begin():      # a job of this host, its process alive
            s.add(Job(period=PERIOD, state="running", account="someone", host=jobs.HOST,
                      pid=os.getpid()))
        hr, token = client(d.app, "hr")
        r = hr.post(f"/api/periods/{PERIOD}/runs", headers={"X-CSRF-Token": token})
        assert r.status_code == 409
        assert r.json()["error"].startswith(
            f"an evaluation of {PERIOD} is already under way (job #1, asked by someone at ")
        d.app.state.db.close()
    finally:
        desk_support.forget(url)


def test_a_job_whose_process_dies_is_failed_and_stores_nothing(tmp_path, monkeypatch):
    url = desk_support.new_url(tmp_path)
    try:
        d = desk_support.build(tmp_path, url)
        before = _counts(url)
        # the worker kills itself inside the evaluation's write transaction (engine.isolation)
        monkeypatch.setenv("XIETONG_FAULT", "kill:evaluate-commit")
        with client(d.app)[0]:
            hr, token = client(d.app, "hr")
            job_id = hr.post(f"/api/periods/{PERIOD}/runs",
                             headers={"X-CSRF-Token": token}).json()["job_id"]
            done = wait_for_job(d.app, job_id)
            assert done["state"] == "failed"
            assert hr.get(f"/api/jobs/{job_id}").json()["message"] == (
                "the evaluation's process ended unexpectedly (signal SIGKILL): nothing was "
                "stored; evaluate again")
        assert _counts(url) == before
    finally:
        desk_support.forget(url)


def test_jobs_left_by_a_stopped_desk_are_failed(tmp_path):
    url = desk_support.new_url(tmp_path)
    try:
        d = desk_support.build(tmp_path, url)
        before = _counts(url)
        # a desk that stops while its job runs: the job is stopped and failed
        with client(d.app)[0]:
            hr, token = client(d.app, "hr")
            job_id = hr.post(f"/api/periods/{PERIOD}/runs",
                             headers={"X-CSRF-Token": token}).json()["job_id"]
        found = xietong.api.job(d.app.state.db, job_id, d.data_dir)
        assert (found["state"], found["message"]) == (
            "failed", "the desk stopped while the evaluation ran: it was stopped and nothing "
                      "was stored; evaluate again")
        # a desk that died: its job's process is gone; the next start-up fails it
        gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True).stdout.strip()
        engine = d.app.state.db.engine
        with Session(engine) as s, s.begin():
            s.add(Job(period=PERIOD, state="running", account="hr", host=jobs.HOST, pid=int(gone)))
        with client(d.app)[0] as c:
            c2, _ = client(d.app, "auditor")
            body = c2.get("/api/jobs/2").json()
        assert (body["state"], body["message"]) == (
            "failed", "the desk stopped while the evaluation ran: nothing was stored; evaluate again")
        assert _counts(url) == before
    finally:
        desk_support.forget(url)

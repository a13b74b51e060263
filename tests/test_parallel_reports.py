"""`xietong report` writes the reports in two processes (xietong/cli.py write_reports): the
files, their contents and the printed lines are those of one process, and a writer that dies
ends the command with a clear message, not a traceback or a half-told success."""
import io
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from openpyxl import load_workbook

import xietong.api.month
from xietong.cli import main
from xietong.sample import write_sample_ledger
from tests.ledgers import PERIOD


def cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("reports")
    ledger = tmp / "ledger.xlsx"
    write_sample_ledger(ledger, employees=120, seed=3, period=PERIOD)
    url = f"sqlite:///{tmp / 'x.db'}"
    code, out, err = cli("run", str(ledger), "--period", PERIOD, "--out", str(tmp / "first"),
                         "--db", url, "--format", "json")
    assert code == 0, err
    return tmp, url


def _cells(path: Path):
    wb = load_workbook(path)
    return {ws.title: [[(c.value, c.data_type, c.protection.locked) for c in row]
                       for row in ws.iter_rows()] for ws in wb.worksheets}


class _OneMinute(datetime):
    """The reports' clock stopped: the review workbooks show their issue time to the minute,
    and two reports a second apart across a minute's turn differ there (a failure seen once
    in a full test run)."""

    @classmethod
    def now(cls, tz=None):
        return datetime(2026, 12, 1, 9, 30, 15, tzinfo=timezone.utc).astimezone(tz)


def test_two_processes_write_what_one_writes(evaluated, monkeypatch):
    tmp, url = evaluated
    monkeypatch.setattr(xietong.api.month, "datetime", _OneMinute)
    monkeypatch.setenv("XIETONG_WORKERS", "2")
    code2, out2, err2 = cli("report", "--period", PERIOD, "--out", str(tmp / "two"), "--db", url,
                            "--format", "json,xlsx,html")
    monkeypatch.setenv("XIETONG_WORKERS", "1")
    code1, out1, err1 = cli("report", "--period", PERIOD, "--out", str(tmp / "one"), "--db", url,
                            "--format", "json,xlsx,html")
    assert (code1, code2, err1, err2) == (0, 0, "", "")
    assert out2.replace(str(tmp / "two"), "OUT") == out1.replace(str(tmp / "one"), "OUT")
    one = sorted(p.relative_to(tmp / "one") for p in (tmp / "one").rglob("*") if p.is_file())
    two = sorted(p.relative_to(tmp / "two") for p in (tmp / "two").rglob("*") if p.is_file())
    assert one == two
    assert len([p for p in one if p.parts[0] == "reviews"]) > 5
    for rel in one:
        a, b = tmp / "one" / rel, tmp / "two" / rel
        if rel.suffix == ".xlsx":
            assert _cells(a) == _cells(b), rel
        elif rel.name == "manifest.json":     # the same files; its time and the workbooks'
            ma, mb = (json.loads(x.read_text("utf-8")) for x in (a, b))   # stamps differ
            assert [f["path"] for f in ma["files"]] == [f["path"] for f in mb["files"]]
            assert (ma["period"], ma["run_id"]) == (mb["period"], mb["run_id"])
        elif rel.suffix == ".json":
            assert a.read_bytes() == b.read_bytes(), rel


def test_a_report_writer_that_dies_is_reported(evaluated, monkeypatch):
    tmp, url = evaluated
    monkeypatch.setenv("XIETONG_WORKERS", "2")
    monkeypatch.setenv("XIETONG_FAULT", "kill:reports")
    code, out, err = cli("report", "--period", PERIOD, "--out", str(tmp / "killed"), "--db", url,
                         "--format", "json,xlsx", "--lang", "en")
    assert code == 1
    assert err == (f"Could not write the reports in {tmp / 'killed'}: crash: signal SIGKILL\n")
    assert "Reports in" not in out

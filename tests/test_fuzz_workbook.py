"""Fuzzing the whole import path (SPEC §3.1): random values of random types in every column of
every sheet, written into a real .xlsx and put through `xietong import` (and, when accepted,
`evaluate` and `verify`) against the test database. The result is always a clean import or a
clean refusal — one `Sheet!Cell (column): expected …, got …` line per problem — never a
traceback, on SQLite and on PostgreSQL (which, unlike SQLite, refuses NUL characters in text and
checks lengths).

Two generators: a valid ledger (the worked example) with a few cells replaced — so that most
examples go deep, through the master-data checks, storage and the rules — and sheets of
nothing but random cells.
"""
from __future__ import annotations

import datetime as dt
import io
import re
from decimal import Decimal

import openpyxl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xietong.cli import main
from importers.schema import SHEETS
from reports.template import write_ledger
from tests.ledgers import PERIOD, worked_example
from test_import_support import write_xlsx

_ILLEGAL = "".join(chr(c) for c in range(32) if chr(c) not in "\t\n\r")   # openpyxl refuses them
_SPECIAL = [
    "", " ", "\u3000", "HR", "hr", "D1", "D3", "E1", "E30", "P1", "K1", "R1", "M1", "NOPE",
    "front", "后台", "middle", "high", "强", "★★", "3", "R", "confirm", "维持", "overturn",
    "higher", "越低越好", "LEAD", "DELAY", "主动牵头跨部门项目并推动关键节点落地",
    "92%", "８５", "85％", "1,234.5", "1e999", "-0", "0.0000001", "NaN", "inf", "1E+20",
    "2026-11-03", "2026/11/3", "2026年11月3日", "03/11/2026", "2026-02-30",
    "#N/A", "#DIV/0!", "=1+1", "=HYPERLINK(\"http://x\",\"y\")", "'quoted",
    "_x0000_", "a_x0001_b", "tab\there", "line\nbreak", "\ud7ff\ue000", "😀", "x" * 300,
    "Ｅ１", " E1 ", "1001", "1001.0",
]
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters=_ILLEGAL),
               max_size=24)
CELL = st.one_of(
    st.none(),
    TEXT,
    st.sampled_from(_SPECIAL),
    st.integers(min_value=-10**18, max_value=10**18),
    st.sampled_from([0, 1, 2, 5, 70, 100, 200, 201, -1, 1001, 2**53 + 1]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0.5, 0.92, 1.5, 85.5, 1e15, 1e-9, -0.0]),
    st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=-1000, max_value=1000),
    st.booleans(),
    st.dates(min_value=dt.date(1900, 3, 1), max_value=dt.date(9999, 12, 31)),
    st.sampled_from([dt.date(2026, 11, 3), dt.date(2026, 10, 31), dt.datetime(2026, 11, 30, 23, 59)]),
    st.datetimes(min_value=dt.datetime(1900, 3, 1), max_value=dt.datetime(9999, 12, 31)),
    st.times(),
)

_WHERE = r"(?:\S[^:]*?(?:![A-Z]{1,3}[0-9]+(?::[A-Z]{1,3}[0-9]+)?)?(?: \([^)]*\))?: )?"
PROBLEM = re.compile(rf"^  {_WHERE}(?:expected .+, got .+|应为.+，实际为 .+)$", re.S)


def _base_book() -> dict[str, list[list]]:
    """The worked example as raw cell values per sheet (row 1 = header), as a person would
    have typed them: read back from the workbook write_ledger makes."""
    import tempfile
    from pathlib import Path
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "base.xlsx"
        write_ledger(path, worked_example().build().rows, lang="en", guide=False)
        wb = openpyxl.load_workbook(path)
        return {ws.title: [list(r) for r in ws.iter_rows(values_only=True)] for ws in wb.worksheets
                if not ws.title.startswith("_")}


BASE = _base_book()


def import_cleanly(path, url) -> bool:
    """`xietong import`: True when stored; a refusal must be clean lines, never an exception."""
    out, err = io.StringIO(), io.StringIO()
    code = main(["import", str(path), "--period", PERIOD, "--db", url, "--lang", "en"], out, err)
    if code == 0:
        assert err.getvalue() == "" and PERIOD in out.getvalue(), (out.getvalue(), err.getvalue())
        return True
    assert code == 1, (code, err.getvalue())
    lines = err.getvalue().rstrip("\n").split("\n")
    assert lines[0].endswith("problem(s):") and lines[-1] == "Nothing was stored.", lines
    n = int(re.search(r"refused, (\d+) problem", lines[0]).group(1))
    assert len(lines) == n + 2 and n >= 1, lines
    for line in lines[1:-1]:
        assert PROBLEM.match(line), line
    return False


def evaluates_and_verifies(url) -> None:
    out, err = io.StringIO(), io.StringIO()
    code = main(["evaluate", "--period", PERIOD, "--db", url, "--lang", "en"], out, err)
    # a Reviews sheet's decisions may be refused (exit 1, clean lines); nothing else
    assert code == 0 or (code == 1 and "Traceback" not in err.getvalue()
                         and "the evaluation failed" not in err.getvalue()), err.getvalue()
    out, err = io.StringIO(), io.StringIO()
    assert main(["verify", "--db", url], out, err) == 0, err.getvalue()


MUTATION = st.tuples(st.sampled_from(sorted(BASE)), st.integers(0, 8), st.integers(0, 9), CELL)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(mutations=st.lists(MUTATION, min_size=1, max_size=6), evaluate=st.integers(0, 3))
def test_a_ledger_with_random_cells_imports_cleanly(tmp_path, db_url, mutations, evaluate):
    book = {name: [list(r) for r in rows] for name, rows in BASE.items()}
    for sheet, i, j, value in mutations:
        rows = book[sheet]
        i = 1 + i % max(len(rows), 1)             # a data row, or the one after the last
        while len(rows) <= i:
            rows.append([None] * len(rows[0]))
        rows[i][j % len(rows[0])] = value
    path = write_xlsx(tmp_path / "fuzz.xlsx", book)
    if import_cleanly(path, db_url) and evaluate == 0:
        evaluates_and_verifies(db_url)


SHEET_ROWS = st.lists(st.lists(CELL, min_size=12, max_size=12), max_size=3)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(data=st.fixed_dictionaries({s.name: SHEET_ROWS for s in SHEETS}),
       chinese=st.lists(st.booleans(), min_size=len(SHEETS), max_size=len(SHEETS)),
       drop=st.sampled_from([None, *range(60)]))
def test_every_sheet_of_random_cells_is_refused_or_imported_cleanly(tmp_path, db_url, data, chinese,
                                                                    drop):
    book = {}
    for k, (s, zh) in enumerate(zip(SHEETS, chinese)):
        header = [c.zh if zh else c.name for c in s.columns]
        if drop is not None and drop % len(SHEETS) == k:
            del header[drop % len(header)]        # a missing column
        book[s.zh if zh else s.name] = [header] + [r[:len(header)] for r in data[s.name]]
    path = write_xlsx(tmp_path / "fuzz.xlsx", book)
    if import_cleanly(path, db_url):
        evaluates_and_verifies(db_url)


def test_escaped_control_characters_and_overlong_ids_are_cell_errors(tmp_path, db_url):
    """`_x0000_` is how Excel escapes a NUL, and calamine unescapes it: PostgreSQL could not
    store it, and no one types one. An id longer than the database's id columns is refused too."""
    book = {name: [list(r) for r in rows] for name, rows in BASE.items()}
    book["Departments"][1][1] = "Sales_x0000_ dept"
    book["Departments"][2][0] = "D" * 300
    path = write_xlsx(tmp_path / "nul.xlsx", book)
    out, err = io.StringIO(), io.StringIO()
    assert main(["import", str(path), "--period", PERIOD, "--db", db_url, "--lang", "en"], out, err) == 1
    lines = err.getvalue().splitlines()
    assert "  Departments!B2 (name): expected text without control characters, got 'Sales\\x00 dept'" in lines
    assert "  Departments!A3 (dept_id): expected an id of at most 255 characters, got 300 characters" in lines


def test_decimal_spellings_verify_on_every_backend(tmp_path, db_url):
    """1E+20, -0 and trailing zeros come back from PostgreSQL's NUMERIC spelled otherwise."""
    book = {name: [list(r) for r in rows] for name, rows in BASE.items()}
    base = book["Departments"][0].index("base_score")
    book["Departments"][1][base] = "70.500"
    book["Departments"][2][base] = Decimal("0E+2")
    path = write_xlsx(tmp_path / "dec.xlsx", book)
    assert import_cleanly(path, db_url)
    evaluates_and_verifies(db_url)

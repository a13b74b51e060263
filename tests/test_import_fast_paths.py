"""The importer's fast paths (issue 2: import within 2x calamine's own parse) against the plain
code they replace: each must give exactly what the plain one gives. No timing here.

* guard._scan_common (the one-pass sheet scan) against guard._scan_general;
* normalize.convert_column_types (grouped by distinct value, result types known) against the
  converter cell by cell;
* ledger._Reader._type_rows against the column-by-column code as it was before the fast paths,
  here with the converter applied cell by cell: typed rows and every problem, in order.
"""
from __future__ import annotations

import copy
import datetime as dt
import math
from decimal import Decimal
from operator import itemgetter

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

# generated workbooks are large by design: hypothesis's size and speed health checks
# would fail the run at random, not the code under test
_BIG = [HealthCheck.data_too_large, HealthCheck.too_slow, HealthCheck.large_base_example]

from importers import guard, ledger
from importers.columns import ColumnRows
from importers.normalize import BLANK, CONVERTERS, Bad, convert_column_types, make_enum
from importers.schema import ENUMS, SHEETS
from importers.workbook import RawBook, RawSheet

# ----------------------------------------------------------------------------- sheet scan
#
# A sheet is drawn as pieces: cells (letters, digits, the rest of the element) and other text.
# Whether the one-pass scan must answer is decided from the pieces alone, by its contract
# (guard._scan_common): it answers — the same as the general scan — for a sheet whose every
# cell element is `<c r="` + one letter + one to six digits + `"`, and whose coarse rectangle
# (row 99,999, or the largest six-digit row, times the last column letter) is within the cell
# limit; it declines (None) for any other sheet, which the general scan judges alone.

_LETTERS = ["A", "B", "F", "Z", "a", "f"]
_ODD_LETTERS = ["AB", "XFD", ""]                       # two or more letters, or none
_digits = st.one_of(st.sampled_from(["0", "1", "99999", "100000", "123456", "999999", "000123"]),
                    st.integers(1, 999_999).map(str))
_odd_digits = st.one_of(st.sampled_from(["", "1000000"]),
                        st.integers(1_000_000, 2_000_000).map(str))
_ends = st.sampled_from(['"/>', '" s="3"/>', '"><v>1</v></c>', '" t="e"><v>#N/A</v></c>',
                         "\" t='e'><v>#REF!</v></c>", '" t="s"><v>0</v></c>',
                         '"  t="e" s="2"/>', '" ><is><t>t="e"</t></is></c>'])
_HARMLESS = ["<col/>", "<cols>", '<row r="7">', "</row>", " "]   # no cell element in them
# Cell elements the one-pass scan does not read: no leading r="…", a namespace prefix, single
# quotes, a tab before r=.
_UNREAD = ['<c s="1"><v>2</v></c>', "<c/>", "<c>", '<x:c r="A1"/>', "<x:row>", '<c\tr="A1"/>',
           "<c r='B2'/>"]

_cell = st.tuples(st.sampled_from(_LETTERS), _digits, _ends)
_odd_cell = st.one_of(st.tuples(st.sampled_from(_ODD_LETTERS), _digits, _ends),
                      st.tuples(st.sampled_from(_LETTERS), _odd_digits, _ends))
_piece = st.one_of(_cell, _odd_cell, st.sampled_from(_HARMLESS), st.sampled_from(_UNREAD))
# Half the sheets are common ones (the fast path's work), half mix in every odd piece.
_pieces = st.one_of(st.lists(st.one_of(_cell, st.sampled_from(_HARMLESS)), max_size=10),
                    st.lists(_piece, max_size=10))
_limits = st.sampled_from([guard.MAX_CELLS, guard.MAX_CELLS, 3_000_000, 150_000, 50])


def _sheet(pieces) -> bytes:
    text = "".join(p if isinstance(p, str) else f'<c r="{p[0]}{p[1]}{p[2]}' for p in pieces)
    return ('<worksheet><sheetData><row r="1">' + text + "</row></sheetData></worksheet>").encode()


def _fast_path_answers(pieces, max_cells) -> bool:
    cells = [p for p in pieces if not isinstance(p, str)]
    if any(p in _UNREAD for p in pieces if isinstance(p, str)):
        return False
    if any(len(letters) != 1 or not 1 <= len(digits) <= 6 for letters, digits, _ in cells):
        return False
    rows = max([99_999] + [int(d) for _, d, _ in cells]) if cells else 0
    cols = max((ord(letters.upper()) - 64 for letters, _, _ in cells), default=0)
    return rows * cols <= max_cells


@settings(max_examples=400, deadline=None, suppress_health_check=_BIG)
@given(_pieces, _limits)
def test_scan_common_answers_exactly_the_common_sheets(pieces, max_cells):
    x = _sheet(pieces)
    old = guard.MAX_CELLS
    guard.MAX_CELLS = max_cells
    try:
        fast, general = guard._scan_common(x), guard._scan_general(x)
        # guard.read_member gives a part as a bytearray: the scans read it as they read bytes
        as_read = bytearray(x)
        assert (guard._scan_common(as_read), guard._scan_general(as_read)) == (fast, general)
    finally:
        guard.MAX_CELLS = old
    if _fast_path_answers(pieces, max_cells):
        assert fast is not None and fast == general
    else:
        assert fast is None


def _zip_of(xml: bytes) -> "zipfile.ZipFile":
    import io
    import zipfile
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("sheet.xml", xml)
    return zipfile.ZipFile(io.BytesIO(out.getvalue()))


@settings(max_examples=300, deadline=None, suppress_health_check=_BIG)
@given(st.lists(_pieces, min_size=1, max_size=6), _limits, st.integers(1, 400))
def test_the_scan_in_pieces_is_the_scan_of_the_whole(rows, max_cells, size):
    """The sheet is scanned a piece at a time (guard.member_windows cuts it where rows end):
    the pieces' answers combine into the whole part's, and the pieces are the part."""
    x = ('<worksheet><sheetData>' + "".join(
        '<row r="%d">' % (i + 1) + _sheet(r).decode()[len('<worksheet><sheetData><row r="1">'):
                                                     -len("</sheetData></worksheet>")]
        for i, r in enumerate(rows)) + "</sheetData></worksheet>").encode()
    z = _zip_of(x)
    pieces = list(guard.member_windows(z, "sheet.xml", size))
    assert b"".join(pieces) == x
    assert all(p.endswith(guard.ROW_END) for p in pieces[:-1])
    old = guard.MAX_CELLS
    guard.MAX_CELLS = max_cells
    try:
        assert guard._scan_common_windows(pieces) == guard._scan_common(x)
        assert guard.scan_sheet_xml(z, "sheet.xml") == (guard._scan_common(x)
                                                         or guard._scan_general(x))
    finally:
        guard.MAX_CELLS = old


@pytest.mark.parametrize("piece, general", [
    *((p, (False, 0, 0)) for p in _UNREAD),           # the isolated reader will read these
    ('<c r="AB1"/>', (True, 99_999, 28)),              # AB is column 28
    ('<c r="A1000000"/>', (True, 1_000_000, 1)),       # seven digits: the row is read exactly
])
def test_scan_common_declines_what_it_does_not_read(piece, general):
    x = _sheet(['<c r="A1"/>', piece])
    assert guard._scan_common(x) is None
    got = guard._scan_general(x)
    assert (got.sure, got.max_row, got.max_col) == general


def test_scan_common_declines_a_sheet_the_limit_might_refuse():
    """Cells B2 and A300000: 300,000 rows × column B is 600,000 cells, over a 500,000 limit, so
    the one-pass scan leaves the sheet to the general scan, which bounds it the same way (and
    the reader refuses it). Under the default limit the one-pass scan answers, with the coarse
    column bound Z."""
    x = _sheet(['<c r="B2"><v>1</v></c>', '<c r="A300000"><v>1</v></c>'])
    old = guard.MAX_CELLS
    guard.MAX_CELLS = 500_000
    try:
        assert guard._scan_common(x) is None
        got = guard._scan_general(x)
    finally:
        guard.MAX_CELLS = old
    assert (got.sure, got.max_row, got.max_col) == (True, 300_000, 2)
    fast = guard._scan_common(x)
    assert (fast.sure, fast.max_row, fast.max_col) == (True, 300_000, 26)


# ----------------------------------------------------------------------------- converters

_pool = st.sampled_from([
    "", " ", "\u3000", "E001", " E001 ", "ＥＯＯ１", "#N/A", " #n/a", "a\x01b", "a\x1fb", "x" * 300,
    "front", "前台", "强", "★★", "3", "85%", "1,234.5", "1,5", "2026-11-03", "2026年11月3日",
    "03/11/2026", "TRUE", 0.0, -0.0, 1.0, 3.0, 2.5, -7.25, 1e15, 1e16, float("nan"),
    float("inf"), 1, 3, True, False, None, dt.date(2026, 11, 3), dt.datetime(2026, 11, 3, 8, 30),
])
_kinds = [*CONVERTERS.items(), *(("enum", make_enum(s)) for s in ENUMS.values())]


@settings(max_examples=300, deadline=None, suppress_health_check=_BIG)
@given(st.lists(_pool, min_size=1, max_size=6), st.integers(0, 200), st.randoms(use_true_random=False))
def test_convert_column_types_is_cell_by_cell(few, n, rnd):
    """Long columns of few distinct values (the grouped path) and short or mixed ones."""
    col = [rnd.choice(few) for _ in range(n)]
    for kind, conv in _kinds:
        want = [conv(v) for v in col]
        got, types = convert_column_types(kind, conv, list(col))
        assert [repr(v) for v in got] == [repr(v) for v in want], kind
        assert types == set(map(type, want)), kind


def test_convert_column_types_keeps_signed_zeros():
    col = [0.0, -0.0, 1.5] * 40
    got, _ = convert_column_types("number", CONVERTERS["number"], col)
    assert [str(d) for d in got[:3]] == ["0.0", "-0.0", "1.5"]


# ----------------------------------------------------------------------------- typing

def _reference_type_rows(self, sh, book, done, total):
    """ledger._Reader._type_rows before the fast paths, converting cell by cell."""
    if not sh.usable:
        return done
    raw = book.rows.get(sh.name) or []
    body = raw[1:]
    n = len(body)
    if not n:
        return done
    errors = book.errors.get(sh.name) or {}
    plan = [c for c in sh.d.columns if c.name in sh.colmap]
    columns, odd = [], []
    for c in plan:
        j = sh.colmap[c.name]
        conv = ledger._ENUM_CONVERTERS[c.enum] if c.kind == "enum" else CONVERTERS[c.kind]
        values = [conv(v) for v in map(itemgetter(j), body)]
        good = ledger._GOOD_TYPE[c.kind]
        bad_rows = [k for k, v in enumerate(values) if type(v) is not good]
        for (i, jj) in errors:
            if jj == j and 0 < i <= n:
                bad_rows.append(i - 1)
        columns.append(values)
        odd.append(bad_rows)
    blank = set()
    if odd and odd[0]:
        cand = [k for k in odd[0] if columns[0][k] is BLANK]
        blank = {k for k in cand if all(col[k] is BLANK for col in columns)
                 and not any((k + 1, sh.colmap[c.name]) in errors for c in plan)}
    if sh.d.name == "Reviews" and "decision" in sh.colmap:
        dcol = [c.name for c in plan].index("decision")
        blank |= {k for k in range(n) if columns[dcol][k] is BLANK
                  and (k + 1, sh.colmap["decision"]) not in errors}
    for c, values, bad_rows in zip(plan, columns, odd):
        j = sh.colmap[c.name]
        for k in sorted(set(bad_rows)):
            if k in blank:
                continue
            v = values[k]
            if (k + 1, j) in errors:
                self.found.append(self._cell(sh, k + 1, j, c, "error", (errors[(k + 1, j)] or None,)))
                values[k] = ledger._INVALID
            elif v is BLANK:
                if c.optional:
                    values[k] = c.default
                else:
                    self.found.append(self._cell(sh, k + 1, j, c, "blank", ()))
                    values[k] = ledger._INVALID
            elif type(v) is Bad:
                self.found.append(self._cell(sh, k + 1, j, c, v.key, v.args))
                values[k] = ledger._INVALID
        if c.kind in ("number", "ratio") and (c.min is not None or c.max is not None):
            for k, d in enumerate(values):
                if type(d) is Decimal and not ledger._in_range(d, c):
                    self.found.append(self._cell(sh, k + 1, j, c, "range", (body[k][j],)))
                    values[k] = ledger._INVALID
    rows = []
    for k in range(n):
        if k in blank:
            continue
        row = {c.name: values[k] for c, values in zip(plan, columns)}
        for c in sh.d.columns:
            row.setdefault(c.name, c.default)
        row["row"] = k + 2
        rows.append(row)
    sh.rows = rows
    return done + n


def _type_rows(r, sh, book):
    """The importer's own steps for one sheet: read it, match its header, type its rows."""
    raw = book.sheet(sh.name)
    r._read_header(sh, raw)
    r._type_rows(sh, raw, 0)


def _reference_steps(r, sh, book):
    rows = book.rows.get(sh.name) or []
    r._read_header(sh, RawSheet(rows[0] if rows else [], iter(())))
    _reference_type_rows(r, sh, book, 0, 1)


def _typed(book: RawBook, steps):
    book = copy.deepcopy(book)                    # reading a sheet takes it from the book
    r = ledger._Reader("x.xlsx", "en", None)
    r._match_sheets(book)
    for sh in sorted(r.sheets.values(), key=lambda s: s.pos):
        steps(r, sh, book)
    r.found.sort(key=lambda f: (f.sheet_pos, f.row, f.col_pos))
    problems = [str(f.render("en")) for f in r.found]
    rows = {name: [{k: ("INVALID" if v is ledger._INVALID else repr(v)) for k, v in row.items()}
                   for row in sh.rows] for name, sh in r.sheets.items()}
    r._close()
    return rows, problems


# Per column, values of one kind drawn from a small pool, so that most columns are long runs of
# repeated, mostly valid values (the fast paths), with blanks, errors and bad cells mixed in.
# The cells come from a seeded random.Random: hypothesis draws only the shape.
_by_kind = {
    "id": ["E1", "E2", " E3", "D01", "", 7.0, "#N/A", "ＥＯＯ１", 1.5],
    "text": ["note", "", "  ", "说明", "x\x02", "#REF!", 3.0, True],
    "number": [1.0, 2.5, 0.0, -0.0, 250.0, -3.0, "", "abc", "85%", "1,234"],
    "ratio": [0.5, 1.0, 1.5, "", "50%", "x", 0.0],
    "date": [dt.date(2026, 11, 3), dt.datetime(2026, 11, 4, 9), "", "2026-11-05", "03/11/2026",
             46329.0],
    "enum": ["front", "R", "A", "higher", "high", "confirm", "维持", "", "?", 3.0],
}
_TYPED_SHEETS = [s for s in SHEETS if s.name in ("Departments", "Employees", "InternalRatings",
                                                 "Behaviours", "ServiceMetrics", "Reviews")]


@st.composite
def _books(draw):
    rnd = draw(st.randoms(use_true_random=False))
    rows, errors, names = {}, {}, []
    for s in _TYPED_SHEETS:
        n = draw(st.sampled_from([0, 1, 3, 70, 150]))
        common = {c.name: rnd.choice(_by_kind[c.kind]) for c in s.columns}
        mostly = draw(st.sampled_from([0.5, 0.9, 0.99, 1.0]))
        body = [[common[c.name] if rnd.random() < mostly else rnd.choice(_by_kind[c.kind])
                 for c in s.columns] for _ in range(n)]
        if n and draw(st.booleans()):
            body[rnd.randrange(n)] = [""] * len(s.columns)              # a blank row
        rows[s.name] = [[c.name for c in s.columns]] + body
        errors[s.name] = {(rnd.randint(1, n), rnd.randrange(len(s.columns))): "#N/A"
                          for _ in range(draw(st.integers(0, 2)))} if n else {}
        names.append(s.name)
    return RawBook("xlsx", [(n, "visible") for n in names], rows=rows, errors=errors)


@settings(max_examples=150, deadline=None, suppress_health_check=_BIG)
@given(_books(), st.sampled_from([ledger.TYPE_CHUNK, 1, 7, 64]))
def test_type_rows_is_the_plain_typing(book, chunk):
    """Typed a chunk of rows at a time (a 150-row sheet in 1, 7 and 64-row chunks too): the
    same rows and problems as the whole sheet typed cell by cell."""
    want = _typed(book, _reference_steps)
    old = ledger.TYPE_CHUNK
    ledger.TYPE_CHUNK = chunk
    try:
        got = _typed(book, _type_rows)
    finally:
        ledger.TYPE_CHUNK = old
    assert got == want


def test_type_rows_on_the_sample_ledger_shapes():
    """A long sheet of repeated ids, blank comments and scores (InternalRatings as generated)."""
    s = next(s for s in SHEETS if s.name == "InternalRatings")
    body = [[f"IR-{k:06d}", f"XT{k % 97:04d}", f"D{k % 7:02d}", "响应速度", float(1 + k % 5),
             "" if k % 9 else "slow"] for k in range(500)]
    body[17][4] = 6.0                                   # out of range
    body[33][5] = "#N/A"                                # an error literal typed as text
    book = RawBook("xlsx", [(s.name, "visible")], rows={s.name: [[c.name for c in s.columns]] + body},
                   errors={s.name: {(41, 4): "#DIV/0!"}})
    got = _typed(book, _type_rows)
    assert got == _typed(book, _reference_steps)
    assert [p for p in got[1] if p.startswith("InternalRatings!")] == ["InternalRatings!E19 (score): expected a number from 1 to 5, got 6",
                      "InternalRatings!F35 (comment): expected a value, got the error value #N/A",
                      "InternalRatings!E42 (score): expected a value, got the error value #DIV/0!"]


def test_read_rows_are_plain_dicts_that_share_their_keys():
    """The typed rows are dicts, the Excel row then the sheet's columns in order, that share
    one table of keys per sheet, and stay ordinary dicts: a transaction sheet's, read back from
    its file; a held sheet's, read from its columns, which hold far less than the dicts."""
    import tracemalloc
    s = next(s for s in SHEETS if s.name == "InternalRatings")
    body = [[f"IR-{k:06d}", f"XT{k:04d}", "D01", "响应速度", 4.0, ""] for k in range(3)]
    book = RawBook("xlsx", [(s.name, "visible")], rows={s.name: [[c.name for c in s.columns]] + body},
                   errors={})
    r = ledger._Reader("x.xlsx", "en", None)
    r._match_sheets(book)                             # (finds the other sheets missing)
    (sh,) = r.sheets.values()
    missing = len(r.found)
    _type_rows(r, sh, book)
    assert len(r.found) == missing                   # no cell refused
    rows = list(sh.rows)
    assert [list(row.items()) for row in rows] == [
        [("row", k + 2), ("rating_id", f"IR-{k:06d}"), ("rater_id", f"XT{k:04d}"),
         ("ratee_dept_id", "D01"), ("dimension", "响应速度"), ("score", Decimal("4")),
         ("comment", None)] for k in range(3)]
    assert all(type(row) is dict for row in rows)
    rows[0]["comment"] = "x"
    assert rows[1]["comment"] is None
    r._close()

    # a held sheet's rows (the master sheets) are held by column: each row read is a new
    # dict equal to the row, and they hold far less than the dicts (7 columns: 8 bytes a
    # value against a dict of 7 values, ≈ 360 bytes a row)
    names = ("row", "rating_id", "rater_id", "ratee_dept_id", "dimension", "score", "comment")
    columns = [list(range(2, 2002)), [f"IR-{k}" for k in range(2000)], ["XT1"] * 2000,
               ["D1"] * 2000, ["d"] * 2000, [None] * 2000, [None] * 2000]
    tracing = tracemalloc.is_tracing()               # (under -X tracemalloc: left on)
    if not tracing:
        tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        by_column = ColumnRows(names)
        by_column.extend_columns(columns)
        held = tracemalloc.get_traced_memory()[0] - base
        base += held
        anew = [dict(zip(names, t)) for t in zip(*columns)]
        plain = tracemalloc.get_traced_memory()[0] - base
    finally:
        if not tracing:
            tracemalloc.stop()
    assert by_column == anew and list(by_column) == anew
    assert held < 0.25 * plain, (held, plain)

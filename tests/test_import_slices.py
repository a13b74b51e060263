"""calamine reads a big sheet a slice of rows at a time, from workbooks packed around it
(importers/slices.py): every sheet so read must give the rows calamine gives for the whole sheet
in the file itself — the same values, of the same types, at the same rows and columns. The only
allowed difference is blank cells at a row's end, past the first row's width (calamine pads
every row to the sheet's widest; the importer reads no further than the first row).

The slices are made tiny here (a row or a few per slice), so that every cut, gap and column
shift a real 8 MB slice can meet is met in a small sheet. The memory it saves is the
benchmark's (bench/run.py).
"""
from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from python_calamine import CalamineWorkbook

from importers import guard, slices
from importers.workbook import open_book

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"


def _whole(data: bytes, name: str) -> list[list]:
    """The sheet as calamine reads it from the file itself, from A1."""
    wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
    return wb.get_sheet_by_name(name).to_python(skip_empty_area=False)


def _through_the_importer(data: bytes, name: str) -> list[list]:
    book = open_book(data, lambda names: [name])
    assert not book.isolated
    sheet = book.sheet(name)
    assert sheet is not None, book.unreadable
    return _rows(sheet)


def _rows(sheet) -> list[list]:
    rows = [sheet.header, *sheet.body]
    return [] if rows == [[]] else rows          # an empty sheet: no header either


def _same_but_trailing_blanks(got: list[list], want: list[list]) -> None:
    assert len(got) == len(want)
    if got:
        assert all(len(row) >= len(got[0]) for row in got)      # the importer's promise
    width = max((len(r) for r in got + want), default=0)
    for i, (a, b) in enumerate(zip(got, want)):
        a, b = a + [""] * (width - len(a)), b + [""] * (width - len(b))
        assert [(type(v), v) for v in a] == [(type(v), v) for v in b], f"row {i + 1}"


def _xlsx(cells: dict[tuple[int, int], object], extra_sheet: bool = True) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Big"
    for (r, c), v in cells.items():
        ws.cell(row=r, column=c, value=v)
    if extra_sheet:
        wb.create_sheet("Other")["B2"] = "not read"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


@pytest.fixture
def tiny_slices(monkeypatch):
    monkeypatch.setattr(slices, "SLICE_BYTES", 1)          # a slice ends at the first row end
    monkeypatch.setattr(slices, "SST_SLICES", 0)


_values = st.one_of(
    st.integers(-10**6, 10**6), st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(alphabet=st.sampled_from(list("aZ 0<>&\"'\t前台评分") + ["\u3000", "\U0001F600"]),
            max_size=6),
    st.booleans(), st.dates(dt.date(1900, 3, 1), dt.date(2100, 1, 1)),
    st.datetimes(dt.datetime(1900, 3, 1), dt.datetime(2100, 1, 1)).map(
        lambda d: d.replace(microsecond=0)))
_cells = st.dictionaries(st.tuples(st.integers(1, 40), st.integers(1, 9)), _values, max_size=80)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(_cells)
def test_a_sheet_read_in_slices_is_the_sheet_read_whole(tiny_slices, cells):
    """Cells anywhere in the first 40 rows and 9 columns, of every type openpyxl writes (numbers,
    shared strings, booleans, dates and datetimes by their number formats): rows may start late,
    skip rows, and use different columns from one slice to the next."""
    data = _xlsx(cells)
    _same_but_trailing_blanks(_through_the_importer(data, "Big"), _whole(data, "Big"))


def test_slices_are_cut_where_rows_end_and_framed_as_the_sheet(tiny_slices):
    data = _xlsx({(2, 2): 1, (3, 5): "x", (7, 1): True, (8, 3): 2.5}, extra_sheet=False)
    z = zipfile.ZipFile(io.BytesIO(data))
    member = guard.xlsx_sheet_parts(z)["Big"]
    package = slices.Package(z, {member})
    got = list(slices.sheet_slices(package, member))
    assert len(got) == 4                                     # one row per slice
    for xml in got:
        assert xml.startswith(b"<worksheet") and xml.endswith(b"</sheetData></worksheet>")
        assert xml.count(b"<row ") == 1 and b"<dimension" not in xml


def test_rows_out_of_order_across_a_cut_make_the_sheet_unreadable(tiny_slices):
    """No spreadsheet program writes row 5 before row 3; calamine, given the whole sheet, would
    sort them. Sliced, the second slice would have to go back: the sheet is reported
    unreadable, never read in the wrong order."""
    data = _xlsx({(3, 1): "three", (5, 1): "five"}, extra_sheet=False)
    z = zipfile.ZipFile(io.BytesIO(data))
    member = guard.xlsx_sheet_parts(z)["Big"]
    xml = z.read(member)
    row3 = xml[xml.index(b'<row r="3"'):xml.index(b"</row>") + 6]
    swapped = xml.replace(row3, b"").replace(b"</sheetData>", row3 + b"</sheetData>")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zo:
        for info in z.infolist():
            zo.writestr(info, swapped if info.filename == member else z.read(info))
    data = out.getvalue()
    assert _whole(data, "Big")[2:5] == [["three"], [""], ["five"]]   # calamine sorts them
    book = open_book(data, lambda names: ["Big"])
    sheet = book.sheet("Big")
    with pytest.raises(Exception) as failed:
        list(sheet.body)
    assert "rows out of order: row 3 comes after row 5" in str(failed.value)


def test_only_big_sheets_are_sliced(monkeypatch):
    """A sheet of at most SLICE_BYTES goes to calamine whole, as it is in the file."""
    calls = []
    real = slices.sliced_rows
    monkeypatch.setattr("importers.workbook.sliced_rows",
                        lambda *a: calls.append(a[1]) or real(*a))
    data = _xlsx({(r, 1): r for r in range(1, 50)})
    size = zipfile.ZipFile(io.BytesIO(data)).getinfo("xl/worksheets/sheet1.xml").file_size
    monkeypatch.setattr(slices, "SLICE_BYTES", size)
    _through_the_importer(data, "Big")
    assert calls == []
    monkeypatch.setattr(slices, "SLICE_BYTES", size - 1)
    _same_but_trailing_blanks(_through_the_importer(data, "Big"), _whole(data, "Big"))
    assert calls == ["Big"]


def test_the_sheet_list_is_read_without_any_sheet():
    """calamine's first workbook has every worksheet empty: the names and visibility it gives
    are the file's."""
    wb = openpyxl.Workbook()
    wb.active.title = "一"
    wb.create_sheet("Hidden").sheet_state = "hidden"
    wb.create_sheet("Very").sheet_state = "veryHidden"
    out = io.BytesIO()
    wb.save(out)
    book = open_book(out.getvalue(), lambda names: [])
    assert book.sheets == [("一", "visible"), ("Hidden", "hidden"), ("Very", "veryhidden")]


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"the workbook corpus is not at {CORPUS}")
def test_every_corpus_sheet_read_in_slices_is_the_sheet_read_whole(tiny_slices):
    """Each sheet of every real .xlsx/.xlsm of the corpus that the importer reads in-process:
    in slices of a row, it gives what calamine gives for the whole sheet — or both fail."""
    compared = 0
    for path in sorted(CORPUS.rglob("*")):
        if path.suffix.lower() not in (".xlsx", ".xlsm") or not path.is_file():
            continue
        data = path.read_bytes()
        try:
            names = [m.name for m in CalamineWorkbook.from_filelike(io.BytesIO(data)).sheets_metadata]
            book = open_book(data, lambda n: n)
        except Exception:                     # noqa: BLE001 - the corpus test judges these
            continue
        if book.isolated:
            continue
        for name in names:
            sheet = book.sheet(name)
            try:
                want = _whole(data, name)
            except Exception:                 # noqa: BLE001
                assert sheet is None or _fails(sheet), (path.name, name)
                continue
            assert sheet is not None, (path.name, name, book.unreadable.get(name))
            _same_but_trailing_blanks(_rows(sheet), want)
            compared += 1
    assert compared > 50


def _fails(sheet) -> bool:
    try:
        list(sheet.body)
    except Exception:                         # noqa: BLE001
        return True
    return False

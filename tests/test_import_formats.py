"""The importer on every format and on files that are not ledgers at all (SPEC §3, §3.1)."""
from __future__ import annotations

import datetime as dt
import io
import zipfile
from decimal import Decimal

import pytest

from importers import LedgerRefused
from importers import read_ledger as read_from_files
from tests.ledgers import held
from importers.guard import MAX_CELLS
from test_import_support import (OdsError, XlsError, minimal_ledger, write_ods, write_xls,
                                 write_xlsx)


def read_ledger(path, **kw):
    """importers.read_ledger, its transaction sheets then read back from their files into
    lists (tests.ledgers.held): these tests look rows up by position."""
    return held(read_from_files(path, **kw))


def refused(path, **kw) -> list[str]:
    with pytest.raises(LedgerRefused) as e:
        read_ledger(path, **kw)
    assert e.value.problems
    return [str(p) for p in e.value.problems]


def test_ods_reads_like_xlsx(tmp_path):
    xlsx = read_ledger(write_xlsx(tmp_path / "l.xlsx", minimal_ledger()))
    ods = read_ledger(write_ods(tmp_path / "l.ods", minimal_ledger()))
    assert ods.format == "ods" and ods.rows == xlsx.rows


def test_ods_error_cell_is_caught(tmp_path):
    # LibreOffice stores an error result as office:value="0": calamine would read 0.0
    book = minimal_ledger()
    book["Behaviours"][1][4] = OdsError("#DIV/0!")
    assert refused(write_ods(tmp_path / "l.ods", book)) == [
        "Behaviours!E2 (points): expected a value, got the error value #DIV/0!"]


def test_xls_reads_like_xlsx(tmp_path):
    xlsx = read_ledger(write_xlsx(tmp_path / "l.xlsx", minimal_ledger()))
    xls = read_ledger(write_xls(tmp_path / "l.xls", minimal_ledger()))
    assert xls.format == "xls" and xls.rows == xlsx.rows
    assert xls.warnings == ["error values (#N/A, …) cannot be told from blank cells in .xls "
                            "files; they were treated as blank"]


def test_xls_error_in_required_cell_still_refused_as_blank(tmp_path):
    book = minimal_ledger()
    book["Behaviours"][1][4] = XlsError(0x07)
    assert refused(write_xls(tmp_path / "l.xls", book)) == [
        "Behaviours!E2 (points): expected a value, got a blank cell"]


def test_format_is_sniffed_not_taken_from_the_name(tmp_path):
    xlsx = write_xlsx(tmp_path / "l.xlsx", minimal_ledger())
    renamed = tmp_path / "ledger.xls"
    renamed.write_bytes(xlsx.read_bytes())
    assert read_ledger(renamed).format == "xlsx"
    xls = write_xls(tmp_path / "real.xls", minimal_ledger())
    as_xlsx = tmp_path / "real.xlsx"
    as_xlsx.write_bytes(xls.read_bytes())
    assert read_ledger(as_xlsx).format == "xls"


def _docx(path):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
    return path


EXPECTED = "expected a readable workbook (.xlsx, .xlsm, .xls, .xlsb or .ods), got "


@pytest.mark.parametrize("make, found", [
    (lambda p: p.write_bytes(b""), "an empty file"),
    (lambda p: p.write_bytes(bytes(range(256)) * 8), "data that is not a spreadsheet"),
    (lambda p: p.write_text("dept_id,name\nD1,Sales\n"), "a text file (CSV?): save it as .xlsx"),
    (lambda p: p.write_text("<html><table><tr><td>1</td></tr></table></html>"),
     "an HTML page saved with an Excel name: save it as .xlsx"),
    (_docx, "a Word document"),
    (lambda p: zipfile.ZipFile(p, "w").writestr("a.txt", "x"), "a zip archive that is not a workbook"),
    (lambda p: p.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100)
                             + "EncryptedPackage".encode("utf-16-le")),
     "an encrypted (password-protected) workbook: remove the password and save it again"),
])
def test_not_a_workbook(tmp_path, make, found):
    path = tmp_path / "x.xlsx"
    make(path)
    assert refused(path) == [EXPECTED + found]


def test_truncated_xlsx(tmp_path):
    data = write_xlsx(tmp_path / "l.xlsx", minimal_ledger()).read_bytes()
    (tmp_path / "t.xlsx").write_bytes(data[: len(data) // 2])
    [msg] = refused(tmp_path / "t.xlsx")
    assert msg.startswith(EXPECTED + "a damaged workbook (")


def test_missing_file_and_directory(tmp_path):
    assert refused(tmp_path / "nope.xlsx") == [EXPECTED + f"no file at '{tmp_path / 'nope.xlsx'}'"]
    assert refused(tmp_path) == [EXPECTED + f"'{tmp_path}', which is a directory"]
    assert refused(tmp_path / "nope.xlsx", lang="zh") == [
        f"应为可读取的工作簿（.xlsx、.xlsm、.xls、.xlsb 或 .ods），实际为 文件 '{tmp_path / 'nope.xlsx'}' 不存在"]


def _patch_sheet(src, dst, fn):
    """Copy an .xlsx, rewriting the first worksheet's XML with fn."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = fn(data)
            zout.writestr(info.filename, data)
    return dst


def test_far_cell_is_refused_before_calamine_allocates(tmp_path):
    # docs/workbooks.md §4a: cells A1 and XFD1048576 make calamine abort the process
    src = write_xlsx(tmp_path / "l.xlsx", minimal_ledger())
    far = _patch_sheet(src, tmp_path / "far.xlsx", lambda x: x.replace(
        b"</sheetData>", b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData>'))
    assert refused(far) == [EXPECTED.replace("a readable workbook (.xlsx, .xlsm, .xls, .xlsb or .ods)",
                                             f"at most {MAX_CELLS:,} cells per sheet")
                            + "'Departments' spanning 1,048,576 rows × 16,384 columns"]


def test_far_cell_without_leading_reference_is_contained(tmp_path):
    # r="" not first: the pre-check is unsure, so calamine runs in the memory-capped child
    src = write_xlsx(tmp_path / "l.xlsx", minimal_ledger())
    far = _patch_sheet(src, tmp_path / "far.xlsx", lambda x: x.replace(
        b"</sheetData>", b'<row r="1048576"><c t="n" r="XFD1048576"><v>1</v></c></row></sheetData>'))
    [msg] = refused(far)
    assert msg.startswith(EXPECTED + "a file that crashed the reader") or "cells per sheet" in msg


def test_styled_empty_far_cells_are_not_counted(tmp_path):
    src = write_xlsx(tmp_path / "l.xlsx", minimal_ledger())
    styled = _patch_sheet(src, tmp_path / "s.xlsx", lambda x: x.replace(
        b"</sheetData>", b'<row r="1048576"><c r="XFD1048576" s="0"/></row></sheetData>'))
    assert len(read_ledger(styled).rows["Departments"]) == 2


def test_zip_bomb_is_refused_from_the_directory(tmp_path):
    src = write_xlsx(tmp_path / "l.xlsx", minimal_ledger())
    bomb = _patch_sheet(src, tmp_path / "b.xlsx", lambda x: x.replace(
        b"</sheetData>", b"</sheetData>" + b" " * (200 * 2**20)))
    [msg] = refused(bomb)
    assert msg.startswith("expected a workbook within the safety limits (ratio 100x), got "
                          "xl/worksheets/sheet1.xml: compressed ")

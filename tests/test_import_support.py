"""Workbook builders for the importer tests (no tests here; imported by tests/test_import_*.py).

Everything is generated in code under tmp_path, in every format the importer reads:
* .xlsx through openpyxl (an error cell is a value like "#N/A": openpyxl stores it as t="e");
* .ods by hand: a zip with `mimetype` first and stored, and a content.xml;
* .xls by hand: a BIFF8 Workbook stream (BOF, XF, BoundSheet8, LABEL/NUMBER/BOOLERR cells)
  inside a minimal OLE compound file. No xlwt needed; calamine reads it like an Excel file.
"""
from __future__ import annotations

import datetime as dt
import struct
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import openpyxl

DEPARTMENTS = ["dept_id", "name", "tier", "manager_id", "base_score"]
EMPLOYEES = ["employee_id", "name", "dept_id", "manager_id", "base_score"]
BEHAVIOURS = ["event_id", "date", "employee_id", "behaviour_code", "points", "proposer_id",
              "project_id", "evidence", "note"]


def minimal_ledger() -> dict[str, list[list]]:
    """A small valid ledger: two departments, three employees, two behaviours."""
    return {
        "Departments": [list(DEPARTMENTS),
                        ["D1", "Sales", "front", "E1", 80],
                        ["D2", "IT", "back", "E2", 70]],
        "Employees": [list(EMPLOYEES),
                      ["E1", "Alice", "D1", None, 90],
                      ["E2", "Bob", "D2", "E1", 85.5],
                      ["E3", "Carol", "D2", "E2", None]],
        "Behaviours": [list(BEHAVIOURS),
                       ["B1", dt.date(2026, 11, 3), "E3", "LEAD", 2, "E2", None, "minutes 12", None],
                       ["B2", dt.date(2026, 11, 5), "E2", "SHARE", 1, "E1", None, None, "note"]],
    }


def write_xlsx(path: Path, sheets: dict[str, list[list]], *, text_cells=(),
               hidden=()) -> Path:
    """sheets: name -> rows (row 1 = header). text_cells: (sheet, "E7") forced to text type."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for r, row in enumerate(rows, start=1):
            for c, v in enumerate(row, start=1):
                if v is not None:
                    ws.cell(row=r, column=c, value=v)
        if name in hidden:
            ws.sheet_state = "hidden"
    for sheet, ref in text_cells:
        cell = wb[sheet][ref]
        cell.data_type = "s"
    wb.save(path)
    return path


# --- .ods -------------------------------------------------------------------------------

_ODS_NS = ('xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
           'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
           'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
           'xmlns:calcext="urn:org:documentfoundation:names:experimental:calc:xmlns:calcext:1.0" '
           'xmlns:of="urn:oasis:names:tc:opendocument:xmlns:of:1.2" office:version="1.2"')


class OdsError:
    """An error cell as LibreOffice writes it (a formula whose result is an error)."""

    def __init__(self, code: str = "#DIV/0!"):
        self.code = code


def _ods_cell(v) -> str:
    if v is None or v == "":
        return "<table:table-cell/>"
    if isinstance(v, OdsError):
        return ('<table:table-cell table:formula="of:=1/0" office:value-type="float" '
                f'office:value="0" calcext:value-type="error"><text:p>{escape(v.code)}</text:p>'
                '</table:table-cell>')
    if isinstance(v, bool):
        return (f'<table:table-cell office:value-type="boolean" office:boolean-value='
                f'"{str(v).lower()}"><text:p>{str(v).upper()}</text:p></table:table-cell>')
    if isinstance(v, (int, float)):
        return (f'<table:table-cell office:value-type="float" office:value="{v}">'
                f'<text:p>{v}</text:p></table:table-cell>')
    if isinstance(v, dt.date):
        return (f'<table:table-cell office:value-type="date" office:date-value="{v.isoformat()}">'
                f'<text:p>{v.isoformat()}</text:p></table:table-cell>')
    return (f'<table:table-cell office:value-type="string"><text:p>{escape(str(v))}</text:p>'
            '</table:table-cell>')


def write_ods(path: Path, sheets: dict[str, list[list]]) -> Path:
    tables = []
    for name, rows in sheets.items():
        body = "".join("<table:table-row>" + "".join(_ods_cell(v) for v in row) +
                       "</table:table-row>" for row in rows)
        tables.append(f'<table:table table:name="{escape(name)}">{body}</table:table>')
    content = (f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {_ODS_NS}>'
               f'<office:body><office:spreadsheet>{"".join(tables)}</office:spreadsheet>'
               '</office:body></office:document-content>')
    manifest = ('<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
                'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" '
                'manifest:version="1.2"><manifest:file-entry manifest:full-path="/" '
                'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
                '<manifest:file-entry manifest:full-path="content.xml" '
                'manifest:media-type="text/xml"/></manifest:manifest>')
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet",
                   compress_type=zipfile.ZIP_STORED)
        z.writestr("content.xml", content, compress_type=zipfile.ZIP_DEFLATED)
        z.writestr("META-INF/manifest.xml", manifest, compress_type=zipfile.ZIP_DEFLATED)
    return path


# --- .xls (BIFF8 in an OLE compound file) -------------------------------------------------

class XlsError:
    """An error cell (BOOLERR record); code as in [MS-XLS] BErr: 0x07 = #DIV/0!, 0x2A = #N/A."""

    def __init__(self, code: int = 0x2A):
        self.code = code


def _rec(typ: int, data: bytes = b"") -> bytes:
    return struct.pack("<HH", typ, len(data)) + data


def _xl_string(s: str, short: bool) -> bytes:
    """XLUnicodeString (u16 length) or ShortXLUnicodeString (u8 length), stored as UTF-16."""
    raw = s.encode("utf-16-le")
    head = struct.pack("<B" if short else "<H", len(s))
    return head + b"\x01" + raw


def _xls_cells(rows: list[list]) -> bytes:
    out = b""
    for r, row in enumerate(rows):
        for c, v in enumerate(row):
            if v is None or v == "":
                continue
            if isinstance(v, XlsError):
                out += _rec(0x0205, struct.pack("<HHHBB", r, c, 0, v.code, 1))
            elif isinstance(v, bool):
                out += _rec(0x0205, struct.pack("<HHHBB", r, c, 0, int(v), 0))
            elif isinstance(v, dt.date):
                serial = (v - dt.date(1899, 12, 30)).days
                out += _rec(0x0203, struct.pack("<HHHd", r, c, 1, float(serial)))  # XF 1: date
            elif isinstance(v, (int, float)):
                out += _rec(0x0203, struct.pack("<HHHd", r, c, 0, float(v)))
            else:
                out += _rec(0x0204, struct.pack("<HHH", r, c, 0) + _xl_string(str(v), False))
    return out


def _biff_workbook(sheets: dict[str, list[list]]) -> bytes:
    bof_globals = _rec(0x0809, struct.pack("<HHHHII", 0x0600, 0x0005, 0x0DBB, 0x07CC, 0, 0x06))
    xf = struct.pack("<HH", 0, 0) + bytes(16)                   # XF 0: General
    xf_date = struct.pack("<HH", 0, 14) + bytes(16)             # XF 1: built-in format 14 (date)
    head = bof_globals + _rec(0x0042, struct.pack("<H", 1200)) + _rec(0x00E0, xf) + _rec(0x00E0, xf_date)
    bounds_len = sum(len(_rec(0x0085, b"\0" * 6 + _xl_string(n, True))) for n in sheets)
    offset = len(head) + bounds_len + len(_rec(0x000A))
    bounds, bodies = b"", b""
    for name, rows in sheets.items():
        body = (_rec(0x0809, struct.pack("<HHHHII", 0x0600, 0x0010, 0x0DBB, 0x07CC, 0, 0x06))
                + _xls_cells(rows) + _rec(0x000A))
        bounds += _rec(0x0085, struct.pack("<IBB", offset + len(bodies), 0, 0) + _xl_string(name, True))
        bodies += body
    return head + bounds + _rec(0x000A) + bodies


def _cfb(stream: bytes, name: str = "Workbook") -> bytes:
    """A version-3 compound file holding one stream (>= 4096 bytes, so no mini stream)."""
    sec = 512
    stream = stream + b"\0" * (max(4096, -(-len(stream) // sec) * sec) - len(stream))
    n_stream = len(stream) // sec
    fat_sector, dir_sector = 0, 1 + n_stream
    end, free, fatsect = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD
    fat = [fatsect] + [i + 2 for i in range(n_stream - 1)] + [end] + [end]
    fat += [free] * (sec // 4 - len(fat))
    assert len(fat) == sec // 4, "one FAT sector is enough for the test workbooks"
    header = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(16)
              + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6) + bytes(6)
              + struct.pack("<IIIIIIIII", 0, 1, dir_sector, 0, 4096, end, 0, end, 0)
              + struct.pack("<I", fat_sector) + struct.pack("<I", free) * 108)
    assert len(header) == sec

    def entry(n: str, typ: int, child: int, start: int, size: int) -> bytes:
        raw = (n.encode("utf-16-le") + b"\0\0") if n else b""
        return (raw.ljust(64, b"\0") + struct.pack("<HBB", len(raw), typ, 1)
                + struct.pack("<III", free, free, child) + bytes(16) + bytes(4) + bytes(16)
                + struct.pack("<IQ", start, size))

    directory = (entry("Root Entry", 5, 1, end, 0) + entry(name, 2, free, 1, len(stream))
                 + entry("", 0, free, 0, 0) * 2)
    return header + struct.pack(f"<{sec // 4}I", *fat) + stream + directory


def write_xls(path: Path, sheets: dict[str, list[list]]) -> Path:
    path.write_bytes(_cfb(_biff_workbook(sheets)))
    return path

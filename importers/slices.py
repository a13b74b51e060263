"""calamine reads one sheet of an .xlsx at a time, and a big sheet a slice of its rows at a time.

calamine builds a sheet's every cell (its range) before it gives the first row, and holds the
whole file besides: at 100,000 employees the ratings sheet's range is 213 MB, about 350 MB
while it is built, and that was the import's peak. So calamine is never given the file itself:

* `Package` keeps the file's parts; `Package.book(...)` packs a small workbook of its own for
  calamine: every part as it is (the workbook's sheet list, styles, shared strings, …) except
  the worksheets, each replaced by an empty one — but the one sheet to be read.
* A sheet whose XML is at most `SLICE_BYTES` goes in whole, unchanged: calamine reads it as it
  would read it in the file.
* A bigger sheet is cut where rows end (`guard.member_windows`) into slices of about
  `SLICE_BYTES`; each slice goes in as the sheet's XML up to its rows (without `<dimension>`,
  calamine's hint of the whole sheet's size), the slice's rows, and the closing tags.

Every cell is still read by calamine, from the same XML, styles and shared strings: its type and
value are what reading the whole sheet gives. Where each row and column sits is put back here
from each slice's range (`sliced_rows`): the rows run from row 1 as before, and every row is at
least as wide as the first (calamine's range of the whole sheet pads every row to its widest;
a row here may stop at the last column its own slice uses, which the importer never reads past:
it reads the first row's columns). A slice whose rows come before rows already given — rows out
of order across a cut, which no spreadsheet program writes — makes the sheet unreadable, rather
than read wrong.
"""
from __future__ import annotations

import io
import re
import zipfile
from typing import Iterator

from . import guard

SLICE_BYTES = 2 * 2**20          # of sheet XML per slice (~7,500 ratings rows; 8 MB: 30 MB more)
SST_SLICES = 4                   # a slice is at least this many times the shared strings' XML:
                                 # each slice's workbook makes calamine read them again

_EMPTY_SHEET = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                b"<sheetData/></worksheet>")
_SHEET_DATA = re.compile(rb"<sheetData(?:\s[^>]*)?>")
_DIMENSION = re.compile(rb"<dimension\b[^>]*/>|<dimension\b[^>]*>[^<]*</dimension>")
_ROOT = re.compile(rb"<([A-Za-z_][\w.:-]*)")           # the first element: not <?xml nor <!--
_DATA_END = b"</sheetData>"


class Package:
    """The parts of one .xlsx (`z`), and workbooks packed from them for calamine."""

    def __init__(self, z: zipfile.ZipFile, sheet_members: set[str]):
        self.z = z
        self.sheet_members = sheet_members
        # every part but the worksheets, inflated once (guarded as every part is)
        self.parts = {i.filename: bytes(guard.read_member(z, i.filename))
                      for i in z.infolist() if i.filename not in sheet_members and not i.is_dir()}
        sst = max((len(v) for k, v in self.parts.items()
                   if k.lower().endswith("sharedstrings.xml")), default=0)
        self.slice_bytes = max(SLICE_BYTES, SST_SLICES * sst)

    def book(self, member: str | None = None, xml: bytes | None = None) -> bytes:
        """A workbook of every part, its worksheets empty but `member` (whose XML is `xml`)."""
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zo:
            for info in self.z.infolist():
                name = info.filename
                if name in self.parts:
                    zo.writestr(name, self.parts[name])
                elif name in self.sheet_members:
                    zo.writestr(name, xml if name == member else _EMPTY_SHEET)
        return out.getvalue()

    def open(self, member: str, xml: bytes):
        """calamine's workbook of `book(member, xml)`."""
        from python_calamine import CalamineWorkbook
        return CalamineWorkbook.from_filelike(io.BytesIO(self.book(member, xml)))

    def size(self, member: str) -> int:
        return self.z.getinfo(member).file_size


def sheet_slices(package: Package, member: str) -> Iterator[bytes] | None:
    """The sheet's XML as slices, each a whole worksheet of some of its rows; None when the
    sheet's frame is not the plain one (then it is read whole)."""
    windows = guard.member_windows(package.z, member, package.slice_bytes)
    first = next(windows, None)
    if first is None:
        return None
    m = _SHEET_DATA.search(first)
    root = _ROOT.search(first, 0, m.start()) if m else None
    if m is None or root is None or m.group(0).endswith(b"/>"):
        return None
    head = _DIMENSION.sub(b"", bytes(first[:m.end()]))
    tail = _DATA_END + b"</" + root.group(1) + b">"
    return _framed(head, tail, first[m.end():], windows)


def _framed(head: bytes, tail: bytes, body: bytearray, windows) -> Iterator[bytes]:
    """Each window's rows between the sheet's head and tail (up to `</sheetData>`: what comes
    after it is not cells); a window with no rows left (the part's end) makes no slice."""
    piece = body
    while piece is not None:
        end = piece.find(_DATA_END)
        rows = bytes(piece[:end] if end >= 0 else piece)
        if rows.strip():
            yield head + rows + tail
        if end >= 0:
            return
        piece = next(windows, None)


def sliced_rows(package: Package, name: str, member: str) -> Iterator[list] | None:
    """The sheet's rows from row 1, A1-anchored, read slice by slice (the module says how);
    None when its frame is not the plain one (read it whole then). The iteration raises Refusal
    for the whole file (the sheet is too large), OutOfOrder, and whatever calamine raises on a
    slice: importers.workbook words those as the sheet's problem."""
    slices = sheet_slices(package, member)
    return None if slices is None else _rows(package, name, member, slices)


def _rows(package: Package, name: str, member: str, slices: Iterator[bytes]) -> Iterator[list]:
    width = None                     # the first row's
    given = 0                        # rows given so far: the next row's index
    end_row = end_col = -1
    for xml in slices:
        sheet = package.open(member, xml).get_sheet_by_name(name)
        del xml
        start, end = sheet.start, sheet.end
        if start is None or end is None:
            continue                 # no cell with a value in this slice
        end_row, end_col = max(end_row, end[0]), max(end_col, end[1])
        guard.refuse_if_too_large(name, end_row + 1, end_col + 1)
        if start[0] < given:
            raise OutOfOrder(f"rows out of order: row {start[0] + 1} comes after row {given}")
        rows = sheet.to_python(skip_empty_area=True)
        del sheet
        if width is None:
            width = end[1] + 1
        pad = [""] * start[1]
        short = width - (end[1] + 1)
        after = [""] * short if short > 0 else []
        for _ in range(given, start[0]):
            yield [""] * width
        for row in rows:
            yield pad + row + after if (pad or after) else row
        given = end[0] + 1
        del rows


class OutOfOrder(Exception):
    """A slice's rows come before rows already given."""

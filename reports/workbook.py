"""How xietong writes xlsx files: the helpers under every workbook it writes — statement.xlsx,
trace.xlsx, the review workbooks, the ledger template and the sample ledgers.

Every such workbook keeps three promises:

1. **Text is text** (SPEC §8, docs/workbooks.md §4c). A ledger comment such as `=HYPERLINK(...)`
   must never become a live formula. openpyxl turns any str starting with `=` into a formula, so
   every string it holds goes through `put_text` (or `text_cell`, for write-only sheets), which
   stores it as a string cell and adds Excel's quote prefix when it starts with `= + - @ \\t \\r`
   (the cell then stays text when a reviewer edits it). Cells written as XML here go through
   one escaper (`_text_tail`) that does the same, and also escapes `_xHHHH_`, which Excel and
   calamine would read as an escaped character, and `\\r`, which an XML parser would turn into
   `\\n` (in the cells openpyxl writes itself — headers and small sheets — both stay as openpyxl
   writes them). Characters XML cannot hold are removed first on both paths: openpyxl would
   raise on them at `append()` or, worse, at `save()`.
2. **Big sheets are fast.** openpyxl's write-only mode serialises every cell through ElementTree:
   measured here (no lxml) 4,700 rows/s for a 9-column ledger sheet, i.e. 3.5 minutes for a
   1M-row ledger. `BulkWriter` keeps openpyxl for everything that makes a workbook look right
   (headers, styles, frozen panes, widths, dropdowns, other sheets) and streams the data rows
   of chosen sheets itself as plain XML strings, into the part openpyxl wrote. The result is
   the same kind of file (inline strings, as openpyxl write-only writes them) with a
   `<dimension>` tag covering every row (openpyxl write-only leaves it out, and without it
   openpyxl's read-only reader parses a sheet twice; normal mode counts only its own cells).
   Rows may come from a generator and a sheet may have a renderer of its own (`CellXml`):
   trace.xlsx streams millions of firings without holding them as rows. Measured on the same
   100k 9-column Behaviours rows: 36,000 rows/s against 4,700 (on a loaded 2-vCPU machine); a
   whole 100,000-employee sample ledger (≈1M rows, 29 MB) in 17–19 s. The XML is ≈290 bytes
   per 6-column row: the reader's guard (importers/guard.py, 256 MB per sheet part) thus admits
   ≈880k rows in one sheet.
3. **Many small workbooks are fast.** A company has hundreds of reviewers with a few items each:
   what costs there is openpyxl's work per workbook (≈30 ms) and zipfile's per member. So a
   `Skeleton` — the parts of a workbook openpyxl laid out and saved — is made once for many
   files, its fixed parts deflated once, and each file is the skeleton with its own sheets.

How a file is made, whatever its size: openpyxl lays out the workbook; `Skeleton` holds the
parts it saved; `SheetPart` cuts a worksheet part where a file's own XML goes (dimension,
column widths, rows, auto-filter and dropdowns); `SheetFill` is what one file puts there; and
`Skeleton.write` lays the parts out in one zip container (`ZipWriter`), deflating big sheets
as their rows stream in. `BulkWriter` is that path for one workbook with big sheets.

`display_width` / `fit_width` / `column_widths` size columns for CJK text (a Chinese character is
two columns wide).
"""
from __future__ import annotations

import datetime as _dt
import functools
import io
import os
import re
import struct
import tempfile
import time
import unicodedata
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple
from xml.etree import ElementTree

from openpyxl.cell import WriteOnlyCell
from openpyxl.compat import safe_string
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import (absolute_coordinate, column_index_from_string, get_column_letter,
                            quote_sheetname)
from openpyxl.utils.datetime import to_excel
from openpyxl.workbook.defined_name import DefinedName, DefinedNameList
from openpyxl.worksheet.datavalidation import DataValidationList
from openpyxl.worksheet.filters import AutoFilter
from openpyxl.xml.functions import tostring

# ----------------------------------------------------------------------------- text is text

# A cell whose text starts with one of these is a formula (or becomes one when edited) in Excel,
# LibreOffice or a CSV consumer: store it as text with the quote prefix.
FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")

# Characters XML 1.0 cannot carry (openpyxl's ILLEGAL_CHARACTERS_RE) plus the non-characters and
# lone surrogates that pass append() and then fail in save() (docs/workbooks.md §4c).
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")

# Excel holds 32,767 characters in a cell; longer report texts are cut a little below that.
CELL_LIMIT = 32_000


def clean_text(value: str) -> str:
    """`value` without the characters an xlsx file cannot store."""
    return _ILLEGAL.sub("", value)


def clip(text: str, limit: int = CELL_LIMIT) -> str:
    """`text`, cut to fit in a cell (ending in `…` when cut)."""
    return text if len(text) <= limit else text[:limit - 1] + "…"


def put_text(cell, value) -> None:
    """Set `cell.value`; a str is always stored as text, never as a formula.

    Works for normal cells and for `WriteOnlyCell`. Non-str values are set unchanged.
    """
    if isinstance(value, str):
        value = clean_text(value)
        cell.value = value
        cell.data_type = "s"                  # openpyxl would make "=..." a formula
        if value.startswith(FORMULA_LEADS):
            cell.quotePrefix = True           # stays text if a reviewer edits the cell
    else:
        cell.value = value


def text_cell(ws, value, **style) -> WriteOnlyCell:
    """A `WriteOnlyCell` for a write-only sheet's `append()`, text kept as text.

    `style` sets cell attributes (font=, fill=, alignment=, border=, number_format=).
    """
    cell = WriteOnlyCell(ws)
    put_text(cell, value)
    for name, v in style.items():
        setattr(cell, name, v)
    return cell


# ----------------------------------------------------------------------------- widths

class _Doubled(dict):
    """A str.translate table: a wide or full-width character → itself twice, any other →
    itself; filled in as characters are met (each is looked up in unicodedata once)."""

    def __missing__(self, code: int) -> str:
        ch = chr(code)
        self[code] = out = ch * 2 if unicodedata.east_asian_width(ch) in "WF" else ch
        return out


_DOUBLED = _Doubled()

# Widths are fitted to the header and the first rows of a sheet: fitting a million rows would
# cost more than writing them, and the first rows are representative.
WIDTH_SAMPLE_ROWS = 500


def display_width(text: str) -> int:
    """Columns `text` occupies on screen: wide (CJK) and full-width characters count 2. No
    Python step per character: review workbooks size columns of long cited values."""
    return len(text) if text.isascii() else len(text.translate(_DOUBLED))


def fit_width(texts: Iterable, minimum: float = 8, maximum: float = 60) -> float:
    """A column width that shows the widest of `texts` (a width of 10 holds ~5 CJK characters)."""
    widest = 0
    for t in texts:
        if t is None:
            continue
        for line in str(t).splitlines() or [""]:
            w = display_width(line)
            if w > widest:
                widest = w
                if widest + 2 >= maximum:          # cannot get wider than the maximum
                    return float(maximum)
    return float(min(maximum, max(minimum, widest + 2)))


def column_widths(titles: Sequence[str], rows: Sequence[Sequence],
                  maximum: dict[int, float] | None = None, number_cols: Iterable[int] = (),
                  at_least: dict[int, float] | None = None) -> list[float]:
    """The width of each column, from its title and the first rows (decimals as shown, to the
    cent); number columns are at least 10 wide. `maximum` / `at_least`: 0-based column → width."""
    numbers = set(number_cols)
    sample = rows[:WIDTH_SAMPLE_ROWS]
    widths = []
    for j, title in enumerate(titles):
        values = [title] + [f"{r[j]:.2f}" if isinstance(r[j], Decimal) else r[j] for r in sample]
        w = fit_width(values, minimum=10 if j in numbers else 8,
                      maximum=(maximum or {}).get(j, 60))
        widths.append(max(w, (at_least or {}).get(j, w)))
    return widths


def fit_columns(ws, titles: Sequence[str], rows: Sequence[Sequence],
                maximum: dict[int, float] | None = None, number_cols: Iterable[int] = ()) -> None:
    """Set the widths of an openpyxl sheet's columns (`column_widths`)."""
    for j, width in enumerate(column_widths(titles, rows, maximum, number_cols)):
        ws.column_dimensions[get_column_letter(j + 1)].width = width


def wrapped_lines(text, width: float) -> int:
    """The lines `text` takes wrapped in a column `width` wide (0 for no text)."""
    if not isinstance(text, str) or not text:
        return 0
    per_line = max(width - 1, 1)
    return sum(max(1, -(-display_width(part) // per_line)) for part in text.split("\n"))


def fit_heights(ws, values: Sequence[Sequence], col: int, line_height: float = 15.0) -> None:
    """Row heights for the wrapped text of column `col` (1-based): neither Excel nor LibreOffice
    grows a row for wrapped text written by a program until someone edits it."""
    width = ws.column_dimensions[get_column_letter(col)].width or 10
    for i, v in enumerate(values, 2):
        lines = wrapped_lines(v[col - 1], width)
        if lines > 1:
            ws.row_dimensions[i].height = lines * line_height


# ----------------------------------------------------------------------------- layout

NUMBER_FORMAT = "0.00"                       # points and scores, as the reports show them
HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", start_color="305496", end_color="305496")
HEADER_ALIGN = Alignment(horizontal="center", vertical="center", wrap_text=True)
HEADER_BORDER = Border(bottom=Side(style="thin", color="1F3864"))


def header(ws, titles: Sequence[str]) -> None:
    """Row 1 of a report sheet: the column titles, white on blue, as text."""
    for j, title in enumerate(titles, 1):
        c = ws.cell(row=1, column=j)
        put_text(c, title)
        c.font, c.fill, c.alignment = HEADER_FONT, HEADER_FILL, HEADER_ALIGN
        c.border = HEADER_BORDER
    ws.row_dimensions[1].height = 30


def item_sheet(ws, titles: Sequence[str], rows: Sequence[tuple[str, str]]) -> None:
    """A sheet of two text columns, item and value (a report's Run sheet)."""
    header(ws, titles)
    for i, (k, v) in enumerate(rows, 2):
        put_text(ws.cell(row=i, column=1), k)
        put_text(ws.cell(row=i, column=2), v)
        ws.cell(row=i, column=2).alignment = Alignment(horizontal="left")
    ws.column_dimensions["A"].width = fit_width([titles[0]] + [k for k, _ in rows])
    ws.column_dimensions["B"].width = fit_width([titles[1]] + [v for _, v in rows], maximum=80)
    ws.freeze_panes = "A2"


def landscape(ws) -> None:
    """Print a wide sheet across one page width (HR prints statements)."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.print_title_rows = "1:1"


def style_id(ws, **attrs) -> int:
    """The id of a cell format (font=, fill=, number_format=, quotePrefix=, ...) in the style
    table of `ws`'s workbook, registered there so that the saved styles.xml has it."""
    cell = WriteOnlyCell(ws)
    for name, value in attrs.items():
        setattr(cell, name, value)
    return cell.style_id


def cell_look(ws, **attrs) -> tuple[str, str]:
    """A look for the cells of a column written as XML (`styled_rows`): the style ids of
    `attrs`, plain and with the quote prefix that text starting like a formula gets."""
    return str(style_id(ws, **attrs)), str(style_id(ws, quotePrefix=True, **attrs))


# ----------------------------------------------------------------------------- cell XML

_EXCEL_EPOCH_ORDINAL = _dt.date(1899, 12, 30).toordinal()
_LEAP_BUG_END = _dt.date(1900, 3, 1)           # before this Excel's serials are off by one
# Text that needs the careful path: XML specials, control characters (\r must survive XML
# parsing), and `_xHHHH_`, which Excel and calamine read as an escaped character.
_SLOW_TEXT = re.compile(r"[&<>\x00-\x1f\ufffe\uffff\ud800-\udfff]|_x[0-9A-Fa-f]{4}_")
_ESCAPED_X = re.compile(r"_(x[0-9A-Fa-f]{4}_)")
_EDGE_SPACE = (" ", "\t", "\n", "\r", "\u3000")
_PLAIN_LEAD_SET = frozenset(FORMULA_LEADS + _EDGE_SPACE)     # single characters all
_EDGE_SET = frozenset(_EDGE_SPACE)

# A plain text cell: `<c r="A1` + PLAIN_OPEN + text + PLAIN_CLOSE.
PLAIN_OPEN = '" t="inlineStr"><is><t>'
PLAIN_CLOSE = "</t></is></c>"


def is_plain_text(v: str) -> bool:
    """True when the non-empty text `v` goes into its cell as it is: nothing to escape or
    remove, no quote prefix, no xml:space (its tail is then PLAIN_OPEN + v + PLAIN_CLOSE)."""
    # isalnum() proves it for most ids and names; for longer text, printable (no control,
    # surrogate or non-character) and none of & < > _x proves what the _SLOW_TEXT scan would,
    # in a few C passes over the string instead of a regex.
    return v.isalnum() or (v[0] not in _PLAIN_LEAD_SET and v[-1] not in _EDGE_SET and (
        (v.isprintable() and "&" not in v and "<" not in v and ">" not in v and "_x" not in v)
        or _SLOW_TEXT.search(v) is None))


def _text_tail(v: str, quote_s, plain_s=None) -> str:
    """What follows `<c r="A1` for a text cell holding `v`: the rest of the element, or "" when
    nothing is left to write (empty, or only characters XML cannot hold). The one escaper of
    cell text written as XML. The cell gets style `quote_s` (the quote prefix) when the text
    starts like a formula, else `plain_s` (None: no style)."""
    if not v:
        return ""
    if is_plain_text(v):
        if plain_s is None:
            return PLAIN_OPEN + v + PLAIN_CLOSE
        return f'" s="{plain_s}{PLAIN_OPEN}{v}{PLAIN_CLOSE}'
    v = _ILLEGAL.sub("", v)
    if not v:
        return ""
    s = quote_s if v.startswith(FORMULA_LEADS) else plain_s
    style = "" if s is None else f' s="{s}"'
    space = ' xml:space="preserve"' if v[0] in _EDGE_SET or v[-1] in _EDGE_SET else ""
    v = _ESCAPED_X.sub(r"_x005F_\1", v)
    v = v.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")
    return f'"{style} t="inlineStr"><is><t{space}>{v}</t></is></c>'


def _number_text(v) -> str:
    if isinstance(v, Decimal):
        if not v.is_finite():
            raise ValueError(f"cannot write {v!r} to a workbook")
        s = str(v)
        return format(v, "f") if "E" in s else s
    if isinstance(v, float):
        if v != v or v in (float("inf"), float("-inf")):
            raise ValueError(f"cannot write {v!r} to a workbook")
        return repr(v)
    return str(int(v))


class CellXml:
    """The pieces a custom row renderer (`BulkWriter.add_rows(render=...)`) builds cells from.

    A cell is `<c r="` + column letter + row number + a tail from here; an empty tail means the
    cell is left out (blank). Text goes through the same escaping and quote prefix as every
    other cell (`text`, memoised for short repeated text such as ids and labels;
    `unique_text` for text that rarely repeats), so a custom renderer cannot make a formula.
    `row(values, r)` is the generic rendering, for a row the renderer does not expect."""

    def __init__(self, ncols: int, date_s: int, stamp_s: int, quote_s: int,
                 number_styles: dict[int, int] | None = None, memo_size: int | None = None):
        self.ncols, self.date_s, self.stamp_s, self.quote_s = ncols, date_s, stamp_s, quote_s
        self.number_styles = number_styles or {}
        self.memo: dict[str, str] = {}         # text -> tail, of what `text` has seen
        self.memo_size = _TAIL_MEMO_SIZE if memo_size is None else memo_size

    def text(self, v: str) -> str:
        tail = self.memo.get(v)
        if tail is None:
            tail = _text_tail(v, self.quote_s)
            if len(v) <= _TAIL_MEMO_LEN and len(self.memo) < self.memo_size:
                self.memo[v] = tail
        return tail

    def unique_text(self, v: str) -> str:
        return _text_tail(v, self.quote_s)

    def row(self, values, r: int) -> str:
        return next(_row_xml((values,), r, self.ncols, self.date_s, self.stamp_s, self.quote_s,
                             self.number_styles, self.memo, self.memo_size))

    def rows(self, rows, first_row: int):
        """The generic rendering of every row."""
        return _row_xml(rows, first_row, self.ncols, self.date_s, self.stamp_s, self.quote_s,
                        self.number_styles, self.memo, self.memo_size)


# Text tails are memoised per save for short strings: ids, names, labels, statuses repeat on
# thousands of rows (a trace's rule and mechanism on every one). Long texts are mostly unique.
# A sheet keeps at most _TAIL_MEMO_SIZE of them (its own: BulkWriter.add_rows(memo_size=)): the
# rules, labels, sheets, statuses and departments that repeat are a few hundred; what filled a
# larger memo was the texts that do not repeat — subjects, review ids, employees' ids and
# names — their tails made again in a fraction of a microsecond. At 50,000 they held 15 MB
# of the trace and 7.5 MB of the statement at 100,000 employees.
_TAIL_MEMO_LEN = 80
_TAIL_MEMO_SIZE = 4096


@functools.lru_cache(maxsize=64)
def _columns(ncols: int, styled: tuple[tuple[int, int], ...]) -> tuple[tuple[str, str], ...]:
    """(`<c r="A`, what follows a number cell's reference up to `<v>`) for each column."""
    styles = dict(styled)
    return tuple((f'<c r="{get_column_letter(i + 1)}',
                  f'" s="{styles[i]}"><v>' if i in styles else '"><v>') for i in range(ncols))


def _row_xml(rows, first_row: int, ncols: int, date_s: int, stamp_s: int, quote_s: int,
             number_styles: dict[int, int] | None = None, tails: dict[str, str] | None = None,
             memo_size: int = _TAIL_MEMO_SIZE):
    """Yield one `<row>` string per row, blank cells left out. The hot loop: keep it flat and
    local (measured 2x faster than the straightforward version; see the module docstring).

    `number_styles`: 0-based column -> style id of the number cells in that column; `tails`:
    the memo of text tails to use (CellXml's), holding at most `memo_size`."""
    cols = _columns(ncols, tuple(sorted((number_styles or {}).items())))
    if tails is None:
        tails = {}
    tail_of = _text_tail
    memo_len = _TAIL_MEMO_LEN
    epoch = _EXCEL_EPOCH_ORDINAL
    str_, int_, dec_, date_, stamp_ = str, int, Decimal, _dt.date, _dt.datetime
    for r, values in enumerate(rows, first_row):
        rs = str(r)
        out = ['<row r="', rs, '">']
        for (o, num), v in zip(cols, values):
            t = type(v)
            if t is str_:
                tail = tails.get(v)
                if tail is None:
                    tail = tail_of(v, quote_s)
                    if len(v) <= memo_len and len(tails) < memo_size:
                        tails[v] = tail
                if tail:
                    out.append(o + rs + tail)
            elif v is None:
                continue
            elif t is dec_:
                text = str(v)
                if "E" in text or not v.is_finite():
                    text = _number_text(v)
                out.append(f'{o}{rs}{num}{text}</v></c>')
            elif t is int_ or t is float:
                out.append(f'{o}{rs}{num}{_number_text(v)}</v></c>')
            elif t is date_:
                serial = v.toordinal() - epoch if v >= _LEAP_BUG_END else int(to_excel(v))
                out.append(f'{o}{rs}" s="{date_s}"><v>{serial}</v></c>')
            elif t is stamp_:
                out.append(f'{o}{rs}" s="{stamp_s}"><v>{to_excel(v)!r}</v></c>')
            elif t is bool:
                out.append(f'{o}{rs}" t="b"><v>{int(v)}</v></c>')
            elif isinstance(v, str_):          # str subclasses (e.g. enum members)
                tail = tail_of(str_(v), quote_s)
                if tail:
                    out.append(o + rs + tail)
            elif isinstance(v, (int_, float, dec_)):
                out.append(f'{o}{rs}{num}{_number_text(v)}</v></c>')
            else:
                raise TypeError(f"cannot write a {t.__name__} to a workbook cell: {v!r}")
        out.append("</row>")
        yield "".join(out)


def styled_rows(rows: Iterable[Sequence], looks: Sequence[tuple[str, str]],
                first_row: int = 2, heights: Sequence[float | None] | None = None) -> str:
    """The `<row>` elements of a few rows whose every cell carries its column's look
    (`cell_look`), blank cells included, as openpyxl writes cells it holds with a style: None
    is an empty number cell, "" an empty text cell. Values: str, None, int, float, Decimal.
    `heights`: each row's height (None: the default), as openpyxl writes a row dimension."""
    letters = [get_column_letter(j) for j in range(1, len(looks) + 1)]
    out = []
    shown: dict[float, str] = {}
    for i, (r, values) in enumerate(enumerate(rows, first_row)):
        rs = str(r)
        height = heights[i] if heights is not None else None
        if height is None:
            out.append(f'<row r="{rs}">')
        else:
            ht = shown.get(height)
            if ht is None:
                ht = shown[height] = safe_string(height)
            out.append(f'<row r="{rs}" ht="{ht}" customHeight="1">')
        for letter, (plain_s, quote_s), v in zip(letters, looks, values):
            if v is None:
                out.append(f'<c r="{letter}{rs}" s="{plain_s}" t="n" />')
            elif isinstance(v, str):
                tail = _text_tail(v, quote_s, plain_s)
                out.append(f'<c r="{letter}{rs}{tail}' if tail else
                           f'<c r="{letter}{rs}" s="{plain_s}" t="inlineStr" />')
            elif isinstance(v, (int, float, Decimal)) and not isinstance(v, bool):
                out.append(f'<c r="{letter}{rs}" s="{plain_s}" t="n"><v>{_number_text(v)}</v></c>')
            else:
                raise TypeError(f"cannot write a {type(v).__name__} to a styled cell: {v!r}")
        out.append("</row>")
    return "".join(out)


# ----------------------------------------------------------------------------- sheet parts

_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_DIMENSION = re.compile(r'<dimension ref="([A-Z]+)([0-9]+)(?::([A-Z]+)([0-9]+))?"\s*/>')
_COLS = re.compile(r"<cols>.*?</cols>", re.S)
_SHEET_DATA = re.compile(r"<sheetData\s*/>|<sheetData>(.*?)</sheetData>", re.S)
# What openpyxl may write between </sheetData> and <pageMargins> in front of an auto-filter:
# a sheet part with only these there takes a file's own filter and dropdowns before the margins
# (the order of a worksheet's elements is fixed by the schema).
_BEFORE_FILTER = re.compile(r"(?:<sheetCalcPr\b[^>]*/>)?(?:<sheetProtection\b[^>]*/>)?")
_NO_NAMES = re.compile(r"<definedNames\s*/>")
_NAMES = re.compile(r"<definedNames>(.*?)</definedNames>", re.S)
_NAME = re.compile(r"<definedName\b([^>]*)>.*?</definedName>", re.S)
_LOCAL_ID = re.compile(r'\blocalSheetId="(\d+)"')
_NAME_ATTR = re.compile(r'\bname="([^"]*)"')
_HEADER_FOOTER = re.compile(r"<headerFooter\b.*?</headerFooter>|<headerFooter\b[^>]*/>", re.S)
# The order openpyxl writes a sheet's own names in (workbook/_writer.py write_names): its other
# local names, the auto-filter's, the print titles, the print area.
_NAME_RANK = {"_xlnm._FilterDatabase": 1, "_xlnm.Print_Titles": 2, "_xlnm.Print_Area": 3}


class SheetPart:
    """A worksheet part openpyxl wrote, cut where a file's own XML goes: the dimension, the
    column widths, the rows after the ones openpyxl wrote (the header), an auto-filter and
    dropdowns in front of the page margins, and the printed page's header and footer (when the
    skeleton's sheet has one to replace)."""

    def __init__(self, xml: str):
        data = _SHEET_DATA.search(xml)
        if data is None:
            raise ValueError("worksheet part without sheetData")
        dim = _DIMENSION.search(xml, 0, data.start())
        if dim is not None:
            self.head, rest = xml[:dim.start()], xml[dim.end():data.start()]
            self.dimension = dim.groups()
        else:
            at = next((i for i in (xml.find(a) for a in ("<sheetViews", "<sheetFormatPr",
                                                         "<cols", "<sheetData")) if i >= 0))
            self.head, rest = xml[:at], xml[at:data.start()]
            self.dimension = None
        cols = _COLS.search(rest)
        self.before_cols = rest[:cols.start()] if cols else rest
        self.cols = cols.group(0) if cols else ""
        self.after_cols = rest[cols.end():] if cols else ""
        self.rows = data.group(1) or ""
        tail = xml[data.end():]
        margins = tail.find("<pageMargins")
        self.open_for_filter = margins >= 0 and _BEFORE_FILTER.fullmatch(tail[:margins]) is not None
        self.tail, self.margins = (tail[:margins], tail[margins:]) if margins >= 0 else (tail, "")
        hf = _HEADER_FOOTER.search(self.margins)
        self.header_footer = None if hf is None else (self.margins[:hf.start()],
                                                      self.margins[hf.end():])

    def dimension_tag(self, ncols: int, last_row: int | None) -> str:
        """The `<dimension>` covering openpyxl's cells and `ncols` columns down to `last_row`
        (None: unknown, the tag openpyxl wrote stays). A sheet openpyxl wrote in normal mode
        has one for the cells openpyxl holds (the header): A1:N1 on a sheet of a million rows
        would tell a reader (openpyxl read-only: max_row) that the sheet ends there."""
        d = self.dimension
        if last_row is None or not ncols:
            return "" if d is None else _dimension_text(d)
        if d is None:
            return f'<dimension ref="A1:{get_column_letter(ncols)}{last_row}"/>'
        if d[0] != "A" or d[1] != "1":
            return _dimension_text(d)               # not a sheet this module lays out: leave it
        col = max(ncols, column_index_from_string(d[2] or d[0]))
        row = max(last_row, int(d[3] or d[1]))
        return f'<dimension ref="A1:{get_column_letter(col)}{row}" />'

    def head_xml(self, ncols: int, last_row: int | None,
                 widths: Sequence[float] | None = None) -> str:
        """The part up to the end of the rows openpyxl wrote; `widths`: the file's own."""
        cols = self.cols if widths is None else cols_xml(widths)
        return "".join((self.head, self.dimension_tag(ncols, last_row), self.before_cols, cols,
                        self.after_cols, "<sheetData>", self.rows))

    def tail_xml(self, auto_filter: str | None = None, dropdowns: str = "",
                 header_footer: str | None = None) -> str:
        """The part after the rows; `auto_filter` (a range) and `dropdowns` (a dataValidations
        element): the file's own, which the skeleton's sheet must not have; `header_footer`
        (a headerFooter element): the file's own, in place of the skeleton's."""
        margins = self.margins
        if header_footer is not None:
            if self.header_footer is None:
                raise ValueError("a sheet part without a header or footer takes no other")
            before, after = self.header_footer
            margins = before + header_footer + after
        if auto_filter is None and not dropdowns:
            return "</sheetData>" + self.tail + margins
        if not self.open_for_filter:
            raise ValueError("a sheet part with elements after its protection takes no filter")
        own = (auto_filter_xml(auto_filter) if auto_filter else "") + dropdowns
        return "</sheetData>" + self.tail + own + margins


def _dimension_text(d: tuple) -> str:
    ref = f"{d[0]}{d[1]}" + (f":{d[2]}{d[3]}" if d[2] else "")
    return f'<dimension ref="{ref}" />'


def cols_xml(widths: Sequence[float]) -> str:
    """`<cols>` of custom widths, as openpyxl writes them."""
    return "".join(["<cols>"] + [f'<col width="{safe_string(w)}" customWidth="1" min="{j}" '
                                 f'max="{j}" />' for j, w in enumerate(widths, 1)] + ["</cols>"])


@functools.lru_cache(maxsize=1024)
def auto_filter_xml(ref: str) -> str:
    """A sheet's `<autoFilter>` over `ref`, as openpyxl writes it."""
    return tostring(AutoFilter(ref=ref).to_tree()).decode("utf-8")


def dropdowns_xml(validations: list) -> str:
    """A sheet's `<dataValidations>` of openpyxl DataValidation objects, as openpyxl writes it."""
    return tostring(DataValidationList(dataValidation=validations).to_tree()).decode("utf-8")


@functools.lru_cache(maxsize=1024)
def _filter_names_xml(filters: tuple[tuple[int, str, str], ...]) -> str:
    names = [DefinedName(name="_xlnm._FilterDatabase", localSheetId=index, hidden=True,
                         attr_text=f"{quote_sheetname(title)}!{absolute_coordinate(ref)}")
             for index, title, ref in filters]
    return tostring(DefinedNameList(definedName=names).to_tree()).decode("utf-8")


@functools.lru_cache(maxsize=1024)
def _merged_names_xml(own: str, filters: tuple[tuple[int, str, str], ...]) -> str:
    """A `<definedNames>` of the skeleton's names (`own`: their elements, e.g. print titles)
    and a file's auto-filters, in the order openpyxl writes them: names of the whole workbook
    first, then sheet by sheet its filter, print titles and print area."""
    def key(element: str) -> tuple[int, int]:
        head = element[:element.find(">")]
        local = _LOCAL_ID.search(head)
        if local is None:
            return (-1, 0)
        name = _NAME_ATTR.search(head)
        return (int(local.group(1)), _NAME_RANK.get(name.group(1) if name else "", 0))

    filtered = _NAMES.match(_filter_names_xml(filters))
    elements = [m.group(0) for m in _NAME.finditer(own)]
    elements += [m.group(0) for m in _NAME.finditer(filtered.group(1))] if filtered else []
    return "<definedNames>" + "".join(sorted(elements, key=key)) + "</definedNames>"


@dataclass
class SheetFill:
    """What one file puts into a sheet of its skeleton, below the rows openpyxl wrote.

    `rows`: the `<row>` elements, as one str, or as an iterable of `<row>` elements deflated
    as they come (a big sheet is never held whole; `count`, if given, is how many it yields:
    another number is an error). `ncols` and `last_row` (the last row they reach) make the
    sheet's dimension (None: unknown, the dimension openpyxl wrote stays). `widths`: the file's
    own column widths; `auto_filter`: the file's own filter range (workbook.xml gets its
    defined name); `dropdowns`: the file's own dataValidations element (`dropdowns_xml`);
    `header_footer`: the file's own printed header and footer (`header_footer_xml`), in place
    of the skeleton sheet's. `late`: the sheet is laid out after every other part of the file
    (its rows wait for something the others need not: trace.xlsx's Run sheet, the chain's
    status); a package's readers find its parts by name, in any order."""
    rows: str | Iterable[str]
    ncols: int
    last_row: int | None
    widths: Sequence[float] | None = None
    auto_filter: str | None = None
    dropdowns: str = ""
    count: int | None = None
    header_footer: str | None = None
    late: bool = False


def header_footer_xml(hf) -> str:
    """A sheet's `<headerFooter>` element of an openpyxl HeaderFooter, as openpyxl writes it."""
    return tostring(hf.to_tree()).decode("utf-8")


# ----------------------------------------------------------------------------- the package

class Skeleton:
    """The parts of a workbook openpyxl laid out and saved: what every file made from it
    shares. Each file is these parts with its own sheets (`write`); the fixed parts are
    deflated once, however many files are made."""

    def __init__(self, wb):
        raw = io.BytesIO()
        wb.save(raw)
        with zipfile.ZipFile(raw) as z:
            self.parts = [(info.filename, z.read(info.filename)) for info in z.infolist()]
            self.part_of = {title: part for part, title in _sheet_parts(z).items()}
        self._bytes = dict(self.parts)
        self.titles = list(self.part_of)            # in workbook order: sheet indexes
        self.stamp = _dos_stamp(time.localtime())
        self._packed: dict[str, Member] = {}
        self._sheets: dict[str, SheetPart] = {}     # by part name
        self._workbook: tuple[str, str] | None = None

    def _sheet_of_part(self, name: str) -> SheetPart:
        part = self._sheets.get(name)
        if part is None:
            part = self._sheets[name] = SheetPart(self._bytes[name].decode("utf-8"))
        return part

    def _workbook_xml(self, filters: tuple[tuple[int, str, str], ...]) -> str:
        """workbook.xml with the defined names of a file's own auto-filters: (sheet index,
        title, range) in sheet order, beside the skeleton's own names (print titles)."""
        if self._workbook is None:
            # the names go after the sheets, where openpyxl writes them (or an empty element)
            xml = self._bytes["xl/workbook.xml"].decode("utf-8")
            at = xml.find("</sheets>")
            if at < 0:
                raise ValueError("workbook.xml without sheets")
            at += len("</sheets>")
            names = _NAMES.match(xml, at) or _NO_NAMES.match(xml, at)
            if names is None and "<definedNames" in xml:
                raise ValueError("workbook.xml with its names out of place")
            own = (names.group(1) or "") if names is not None and names.re is _NAMES else ""
            if own and any(_NAME_ATTR.search(m.group(1)).group(1) == "_xlnm._FilterDatabase"
                           for m in _NAME.finditer(own)):
                raise ValueError("a skeleton with a filter of its own takes no filter names")
            self._workbook = (xml[:at], xml[names.end() if names else at:], own)
        before, after, own = self._workbook
        if not own:
            return before + _filter_names_xml(filters) + after
        return before + _merged_names_xml(own, filters) + after

    def part_text(self, name: str) -> str:
        """The text of the skeleton's part `name` (e.g. docProps/custom.xml), as openpyxl saved
        it: for a file's own version of it (`write`'s `parts`)."""
        return self._bytes[name].decode("utf-8")

    def write(self, path, fills: dict[str, SheetFill], level: int | None = None,
              parts: dict[str, str] | None = None) -> Path:
        """Write the file: the skeleton with `fills` (sheet title -> SheetFill) in its sheets;
        `level`: zlib level of the file's own parts (None: zlib's default); `parts`: the
        file's own text of some of the skeleton's other parts (part name -> text; e.g. its
        document properties).

        A file with streamed rows is written beside `path` and renamed, so a failure while its
        rows stream never leaves half a workbook (the file then gets the mode any other new
        file gets). Any other file is made in memory and written in one go: creating and
        renaming a file costs more than making a review workbook."""
        own: dict[str, SheetFill | str] = {}       # part -> SheetFill, or workbook.xml's text
        filters = []
        for i, title in enumerate(self.titles):
            fill = fills.get(title)
            if fill is not None:
                own[self.part_of[title]] = fill
                if fill.auto_filter:
                    filters.append((i, title, fill.auto_filter))
        if len(own) != len(fills):
            raise KeyError(f"no such sheet: {sorted(set(fills) - set(self.titles))}")
        for name, text in (parts or {}).items():
            if name not in self._bytes or name in own or name == "xl/workbook.xml":
                raise KeyError(f"not a fixed part of the skeleton: {name}")
            own[name] = text
        if filters:
            own["xl/workbook.xml"] = self._workbook_xml(tuple(filters))
        if not isinstance(path, Path):
            path = Path(path)
        if all(isinstance(f.rows, str) for f in fills.values()):
            out = io.BytesIO()
            self._lay_out(out, own, level)
            path.write_bytes(out.getbuffer())
            return path
        fd, tmp = tempfile.mkstemp(suffix=".xlsx.part", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                self._lay_out(out, own, level)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        os.chmod(path, 0o666 & ~_umask())
        return path

    def _lay_out(self, out, own: dict[str, SheetFill | str], level: int | None) -> None:
        z = ZipWriter(out, self.stamp)
        packed = self._packed
        late = []
        for name, data in self.parts:
            mine = own.get(name)
            if mine is None:
                member = packed.get(name)
                if member is None:
                    member = packed[name] = pack(name, data, self.stamp)
                z.add(member)
            elif isinstance(mine, str):
                z.add(pack(name, mine.encode("utf-8"), self.stamp, level))
            elif mine.late:
                late.append(name)
            else:
                self._write_sheet(z, name, self._sheet_of_part(name), mine, level)
        for name in late:
            self._write_sheet(z, name, self._sheet_of_part(name), own[name], level)
        z.close()

    def _write_sheet(self, z: ZipWriter, name: str, part: SheetPart, fill: SheetFill,
                     level: int | None) -> None:
        head = part.head_xml(fill.ncols, fill.last_row, fill.widths)
        tail = part.tail_xml(fill.auto_filter, fill.dropdowns, fill.header_footer)
        if isinstance(fill.rows, str):
            z.add(pack(name, "".join((head, fill.rows, tail)).encode("utf-8"), self.stamp,
                       level))
        else:
            z.stream(name, _chunks(head, fill.rows, tail, fill.count), level)


# A streamed sheet's rows are joined, encoded and deflated this many at a time, or fewer when
# they reach CHUNK_CHARS characters: the trace's department blends are rows of 32,000-character
# cells, 168 of them within 260 rows at 100,000 employees (a 2,000-row chunk of 11 million
# characters, then its bytes). The deflated bytes are the same however the part is cut.
CHUNK_ROWS = 2000
CHUNK_CHARS = 1 << 20


def _chunks(head: str, rows: Iterable[str], tail: str, count: int | None):
    """The bytes of a streamed sheet part, a few thousand rows at a time."""
    yield head.encode("utf-8")
    chunk: list[str] = []
    written = size = 0
    for row in rows:
        chunk.append(row)
        size += len(row)
        if len(chunk) >= CHUNK_ROWS or size >= CHUNK_CHARS:
            yield "".join(chunk).encode("utf-8")
            written += len(chunk)
            chunk.clear()
            size = 0
    written += len(chunk)
    if count is not None and written != count:
        raise ValueError(f"sheet rows: {written} written, {count} announced")
    chunk.append(tail)
    yield "".join(chunk).encode("utf-8")


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _sheet_parts(z: zipfile.ZipFile) -> dict[str, str]:
    """Zip member name -> sheet title, from xl/workbook.xml and its relationships."""
    book = ElementTree.fromstring(z.read("xl/workbook.xml"))
    rels = ElementTree.fromstring(z.read("xl/_rels/workbook.xml.rels"))
    targets = {}
    for rel in rels.iter(f"{{{_PKG_REL_NS}}}Relationship"):
        target = rel.get("Target", "")
        target = target.lstrip("/") if target.startswith("/") else "xl/" + target
        targets[rel.get("Id")] = target
    parts = {}
    for sheet in book.iter(f"{{{_MAIN_NS}}}sheet"):
        part = targets.get(sheet.get(f"{{{_REL_NS}}}id"))
        if part:
            parts[part] = sheet.get("name")
    return parts


# ----------------------------------------------------------------------------- the zip container
#
# zipfile spends a compressor, headers and seeks per member: for a review workbook of a few KB
# that is several times the work of laying it out. So the container is written here, front to
# back (APPNOTE.TXT §4.3, as zipfile lays it out): members deflated beforehand (`pack`: a
# skeleton's fixed parts, deflated once for many files) and members deflated as their bytes
# stream in (`stream`: a sheet of a million rows), whose local header is completed afterwards.
# A streamed member may pass 4 GB: like zipfile's force_zip64, its local header carries ZIP64
# sizes; the central directory and its end take ZIP64 records where a size or offset needs
# them. Member names are ASCII (openpyxl's part names).

_LOCAL = struct.Struct("<4s5H3L2H")
_CENTRAL = struct.Struct("<4s6H3L5H2L")
_END = struct.Struct("<4s4H2LH")
_END64 = struct.Struct("<4sQ2H2L4Q")
_LOCATOR64 = struct.Struct("<4sLQL")
_EXTRA64 = struct.Struct("<HH2Q")
_DEFLATE, _VERSION, _VERSION64 = 8, 20, 45
_UNIX = 3 << 8                                                 # made on Unix, as zipfile says
_FILE_MODE = 0o600 << 16                                       # what zipfile.writestr records
# Sizes and offsets past this take ZIP64 records (zipfile's threshold; a test lowers it).
ZIP64_LIMIT = (1 << 31) - 1
_PACKED_LIMIT = (1 << 31) - 1                  # a member deflated in memory stays below it


def _dos_stamp(t: time.struct_time) -> tuple[int, int]:
    return (t.tm_hour << 11) | (t.tm_min << 5) | (t.tm_sec // 2), \
        ((t.tm_year - 1980) << 9) | (t.tm_mon << 5) | t.tm_mday


class Member(NamedTuple):
    """A zip member deflated beforehand (`pack`): its local record — header, name, deflated
    data — ready to be written as it is, and what the central directory says of it."""
    name: bytes
    crc: int
    size: int
    csize: int
    record: bytes


# A part this small is deflated with a window that covers it whole and little memory: nearly
# always the same bytes out (a few bytes more otherwise), and 5-10 times faster to set up than
# zlib's default 32 KB window and 256 KB of state (measured: 7-13 µs against 50-80 µs for a
# review workbook's 1 KB parts; each file has several).
_SMALL_PART = 4096


def pack(name: str, data: bytes, stamp: tuple[int, int], level: int | None = None) -> Member:
    """`data` deflated (`level` None: zlib's default) as member `name`, stamped `stamp`."""
    level = zlib.Z_DEFAULT_COMPRESSION if level is None else level
    if len(data) <= _SMALL_PART:
        deflate = zlib.compressobj(level, zlib.DEFLATED, -12, 4)
        packed = deflate.compress(data) + deflate.flush()
    else:
        packed = zlib.compress(data, level, -15)
    if len(data) > _PACKED_LIMIT or len(packed) > _PACKED_LIMIT:
        raise ValueError(f"{name}: too large to deflate in memory")
    key, crc = name.encode("ascii"), zlib.crc32(data)
    header = _LOCAL.pack(b"PK\x03\x04", _VERSION, 0, _DEFLATE, *stamp, crc, len(packed),
                         len(data), len(key), 0)
    return Member(key, crc, len(data), len(packed), b"".join((header, key, packed)))


class ZipWriter:
    """One zip container written front to back into `out` (a seekable binary file); every
    member is deflated and stamped with `stamp` (DOS time, date)."""

    def __init__(self, out, stamp: tuple[int, int]):
        self.out, self.stamp = out, stamp
        self.offset = out.tell()
        self.central: list[tuple] = []            # (name, crc, csize, size, offset, streamed)

    def add(self, member: Member) -> None:
        name, crc, size, csize, record = member
        self.out.write(record)
        self.central.append((name, crc, csize, size, self.offset, False))
        self.offset += len(record)

    def stream(self, name: str, chunks: Iterable[bytes], level: int | None = None) -> None:
        """A member deflated as `chunks` come; its local header is completed afterwards."""
        key = name.encode("ascii")
        t, d = self.stamp
        start = self.offset
        header_size = _LOCAL.size + len(key) + _EXTRA64.size

        def local(crc: int, csize: int, size: int) -> bytes:
            return (_LOCAL.pack(b"PK\x03\x04", _VERSION64, 0, _DEFLATE, t, d, crc, 0xFFFF_FFFF,
                                0xFFFF_FFFF, len(key), _EXTRA64.size)
                    + key + _EXTRA64.pack(1, 16, size, csize))

        self.out.write(local(0, 0, 0))
        deflate = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION if level is None else level,
                                   zlib.DEFLATED, -15)
        crc = size = csize = 0
        write = self.out.write
        for data in chunks:
            crc = zlib.crc32(data, crc)
            size += len(data)
            packed = deflate.compress(data)
            csize += len(packed)
            write(packed)
        packed = deflate.flush()
        csize += len(packed)
        write(packed)
        self.out.seek(start)
        self.out.write(local(crc, csize, size))
        self.out.seek(0, os.SEEK_END)
        self.central.append((key, crc, csize, size, start, True))
        self.offset = start + header_size + csize

    def close(self) -> None:
        """Write the central directory and its end."""
        t, d = self.stamp
        directory = []
        for name, crc, csize, size, offset, streamed in self.central:
            if size > ZIP64_LIMIT or csize > ZIP64_LIMIT or offset > ZIP64_LIMIT:
                directory.append(self._entry64(name, crc, csize, size, offset))
                continue
            version = _VERSION64 if streamed else _VERSION
            directory.append(_CENTRAL.pack(b"PK\x01\x02", _UNIX | version, version, 0, _DEFLATE,
                                           t, d, crc, csize, size, len(name), 0, 0, 0, 0,
                                           _FILE_MODE, offset) + name)
        data = b"".join(directory)
        start, n, length = self.offset, len(self.central), len(data)
        if n > 0xFFFF or length > ZIP64_LIMIT or start > ZIP64_LIMIT:
            data += _END64.pack(b"PK\x06\x06", _END64.size - 12, _VERSION64, _VERSION64,
                                0, 0, n, n, length, start)
            data += _LOCATOR64.pack(b"PK\x06\x07", 0, start + length, 1)
        data += _END.pack(b"PK\x05\x06", 0, 0, min(n, 0xFFFF), min(n, 0xFFFF),
                          min(length, 0xFFFF_FFFF), min(start, 0xFFFF_FFFF), 0)
        self.out.write(data)

    def _entry64(self, name: bytes, crc: int, csize: int, size: int, offset: int) -> bytes:
        """A central directory entry whose sizes or offset past ZIP64_LIMIT go in a ZIP64
        extra field (in this order: size, deflated size, offset)."""
        extra = [v for v in (size, csize, offset) if v > ZIP64_LIMIT]
        field = struct.pack(f"<HH{len(extra)}Q", 1, 8 * len(extra), *extra)
        t, d = self.stamp

        def cut(v: int) -> int:
            return 0xFFFF_FFFF if v > ZIP64_LIMIT else v

        return _CENTRAL.pack(b"PK\x01\x02", _UNIX | _VERSION64, _VERSION64, 0, _DEFLATE, t, d,
                             crc, cut(csize), cut(size), len(name), len(field), 0, 0, 0,
                             _FILE_MODE, cut(offset)) + name + field


# ----------------------------------------------------------------------------- big sheets

# zlib level of the streamed sheets of the reports written on every run (statement.xlsx, the
# feedback workbooks; trace.xlsx has its own, reports/trace.py). Measured at 100,000 employees:
# the 84 feedback workbooks take 11.3 s at zlib's default (6) and 10.0 s at 1 for 21.9 and
# 25.5 MB; statement.xlsx 1.6 and 1.3 s for 5.8 and 6.9 MB.
RUN_REPORT_ZLIB_LEVEL = 1


class BulkWriter:
    """Stream many plain rows into sheets of an openpyxl workbook, fast.

    Usage: build the workbook with openpyxl (any mode), give each big sheet its header row,
    frozen panes, widths and validations as usual, then register its data rows here and save
    through the writer:

        bulk = BulkWriter(wb)
        bulk.add_rows(ws, rows, ncols=len(header))     # rows: a sequence of value sequences
        bulk.save(path)

    The rows are appended after the rows openpyxl wrote (`first_row` defaults to 2, below a
    header). Values: str (always text, quote prefix as in `put_text`), int, float, Decimal,
    bool, datetime.date / datetime.datetime (real Excel dates, `yyyy-mm-dd` format), None or ""
    (blank). Anything else is a bug and raises TypeError.
    """

    def __init__(self, wb, compresslevel: int | None = None):
        """`compresslevel`: zlib level for the streamed sheets (None: zlib's default, 6)."""
        self.wb = wb
        self.compresslevel = compresslevel
        self._sheets: dict[str, tuple] = {}
        self._styles: tuple[int, int, int] | None = None

    def add_rows(self, ws, rows: Iterable[Sequence], ncols: int, first_row: int = 2,
                 count: int | None = None, render=None,
                 formats: dict[str, str] | None = None, memo_size: int | None = None,
                 late: bool = False) -> None:
        """Register `rows` (each a sequence of at most `ncols` values) for sheet `ws`.

        `rows` may be a generator, consumed once at save time, so a big sheet is never held as a
        list; `count` then says how many rows it yields (the `<dimension>` tag is written before
        the rows; a generator that yields a different number is an error at save time).

        `render(rows, first_row, cells)`, if given, yields the `<row>` element of each row
        instead of the generic per-cell loop, building every cell from `cells` (a `CellXml`):
        a sheet whose columns are known can be written a row per expression (trace.xlsx's
        firings: 2.5 times as fast).

        `formats` maps a column letter to the number format of its number cells (numbers are
        otherwise General; text cells and dates are never restyled).

        `memo_size`: how many short texts' tails the sheet keeps (None: _TAIL_MEMO_SIZE).

        `late`: the sheet's rows are taken after every other sheet's (SheetFill.late)."""
        if self._styles is None:
            # the three cell formats of BulkWriter cells, in the workbook's style table
            self._styles = (style_id(ws, number_format="yyyy-mm-dd"),
                            style_id(ws, number_format="yyyy-mm-dd hh:mm:ss"),
                            style_id(ws, quotePrefix=True))
        number_styles = {column_index_from_string(col) - 1: style_id(ws, number_format=fmt)
                         for col, fmt in (formats or {}).items()}
        self._sheets[ws.title] = (rows, ncols, first_row, count, render, number_styles,
                                  memo_size, late)

    def save(self, path) -> Path:
        """Save the workbook with the registered rows to `path`, through a temporary file."""
        skeleton = Skeleton(self.wb)
        fills = {}
        for title, (rows, ncols, first_row, count, render, number_styles,
                    memo_size, late) in self._sheets.items():
            n = count
            if n is None:
                try:
                    n = len(rows)                 # a dimension tag needs the row count up front
                except TypeError:
                    n = None
            cells = CellXml(ncols, *self._styles, number_styles, memo_size)
            pieces = cells.rows(rows, first_row) if render is None else render(rows, first_row,
                                                                               cells)
            fills[title] = SheetFill(pieces, ncols,
                                     None if n is None else max(first_row - 1 + n, 1),
                                     count=count, late=late)
        return skeleton.write(path, fills, self.compresslevel)

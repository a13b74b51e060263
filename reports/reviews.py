"""reviews/<assignee>.xlsx (SPEC §8): one workbook per assignee, holding only that person's
exceptions, which goes back — filled in, unchanged otherwise — through
`xietong decisions FILE --period P`.

The sheet 复核结论 / Reviews starts with the ledger's Reviews columns (SPEC §3), so the returned
file is read by the ledger reader itself:

    review_id | decision (empty, dropdown 维持/撤销 or confirm/overturn) | reviewer_id (the
    assignee) | comment (empty) | kind, kind description, subject, status, source rows, cited
    values, message (read-only context; the reader ignores them with a warning)

The sheet is protected: only the decision and comment cells of the listed items are unlocked
(pale yellow); everything else is locked and grey. The protection has no password: it stops
slips, not a determined editor — the decisions command validates every row anyway (assignee,
known review id, no rejection).

Rejections and notices (always HR's, SPEC §5) take no decision: they are listed in HR.xlsx on a
separate sheet 驳回与提示 / Rejections with no decision column, so they cannot be imported as
decisions (that sheet's name is no ledger sheet's, and the decisions command reads only the
Reviews sheet).

File names: the assignee id when it is already a safe, portable file name; otherwise the id
made safe plus a short hash of the id, so two ids never share a file (ids are case-sensitive,
file systems often are not).

How they are written: openpyxl builds each kind of workbook once (a skeleton: headers, styles,
protection, dropdown, guide); every assignee's file is that skeleton with its own rows, widths
and ranges put in as XML, cell for cell what openpyxl would write (tests/test_reviews_fast.py
holds the former one-openpyxl-workbook-per-assignee writer and compares).
"""
from __future__ import annotations

import hashlib
import io
import re
import struct
import time
import unicodedata
import zipfile
import zlib
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.compat import safe_string
from openpyxl.styles import Alignment, Font, PatternFill, Protection
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from rules.books import describe
from importers.schema import ENUM_ZH, SHEET_BY_NAME
from reports.labels import cited_values, label, ref
from reports.statement import WIDTH_SAMPLE_ROWS, header
from reports.xlsx import FORMULA_LEADS, clean_text, fit_width
from rules.exceptions import HR, KIND_BY_NAME

EDITABLE_FILL = PatternFill("solid", start_color="FFF2CC", end_color="FFF2CC")
LOCKED_FILL = PatternFill("solid", start_color="F2F2F2", end_color="F2F2F2")
LOCKED_FONT = Font(color="595959")
WRAP = Alignment(wrap_text=True, vertical="top")
TOP = Alignment(vertical="top")
CITED_LIMIT = 32_000

_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
                     *(f"LPT{i}" for i in range(1, 10))}
_UNSAFE = re.compile(r"[^\w.\-]", re.UNICODE)


def safe_file_stem(assignee: str) -> str:
    """`HR` → `HR`; `E/1` → `E_1-3f2a9c1d`: a name every file system accepts, unique per id."""
    stem = _UNSAFE.sub("_", unicodedata.normalize("NFKC", assignee)).strip("._ ")[:80]
    plain = (stem == assignee and stem.isascii() and stem.upper() not in _WINDOWS_RESERVED)
    if plain:
        return stem
    digest = hashlib.sha256(assignee.encode("utf-8")).hexdigest()[:8]
    return f"{stem or 'id'}-{digest}"


def _stems(assignees) -> dict[str, str]:
    """assignee -> file stem; ids equal but for case get hashed names (case-blind file systems)."""
    stems = {a: safe_file_stem(a) for a in assignees}
    seen: dict[str, list[str]] = defaultdict(list)
    for a, s in stems.items():
        seen[s.casefold()].append(a)
    for group in seen.values():
        if len(group) > 1:
            for a in group:
                digest = hashlib.sha256(a.encode("utf-8")).hexdigest()[:8]
                if not stems[a].endswith(digest):
                    stems[a] = f"{stems[a]}-{digest}"
    return stems


def _kind_text(kind: str, lang: str) -> str:
    try:
        zh, en = describe(kind)
    except KeyError:
        info = KIND_BY_NAME.get(kind)
        zh, en = (info.zh, info.en) if info else ("", "")
    return zh if lang == "zh" else en


def _context(e: dict, index, lang: str, sheet_lang: str) -> list:
    refs = "; ".join(ref(sheet_lang, s, r) for s, r in e["sources"])
    cited = "\n".join(f"{ref(sheet_lang, s, r)}: {cited_values(sheet_lang, s, index.get((s, r)))}"
                      for s, r in e["sources"])
    if len(cited) > CITED_LIMIT:
        cited = cited[:CITED_LIMIT - 1] + "…"
    status = label(lang, "to_fix") if e["type"] == "rejection" else label(lang, e["status"])
    return [e["kind"], _kind_text(e["kind"], lang), e["subject_id"], status, refs, cited,
            e["message"]]


def _decision_columns(lang: str) -> list[str]:
    sheet = SHEET_BY_NAME["Reviews"]
    return [c.zh if lang == "zh" else c.name for c in sheet.columns]


def _context_titles(lang: str) -> list[str]:
    return [label(lang, k) for k in ("kind", "kind_text", "subject", "status", "sources", "cited",
                                     "message")]


def _sheet_title(lang: str) -> str:
    r = SHEET_BY_NAME["Reviews"]
    return r.zh if lang == "zh" else r.name


# ----------------------------------------------------------------------------- the workbooks
#
# A company has hundreds of assignees with a few items each, so what costs is the per-workbook
# work of openpyxl, not the rows: a Workbook() with its theme and style tables, a style object
# hashed on every cell attribute set, and a save through ElementTree (measured ≈30 ms per
# workbook, 19–31 s for 624 workbooks at 10,000 employees). So openpyxl makes each *kind* of
# workbook once — a skeleton per language, with or without HR's rejections sheet: headers,
# styles, frozen panes, protection, dropdown, guide column — and each assignee's file is that
# skeleton's parts with its own rows, widths and ranges written in as XML strings, the way
# openpyxl writes them (inline strings, every cell of a listed row present and styled).

# Last rows the skeleton carries in its ranges; each file puts its own in their place. No real
# range reaches them (a sheet holds 1,048,576 rows; the skeleton's sheets hold one).
_LAST_REVIEWS = 1_048_001        # auto-filter of the Reviews sheet (and its defined name)
_LAST_REJECTIONS = 1_048_002     # auto-filter of the Rejections sheet
_LAST_DROPDOWN = 1_048_003       # dropdown range of the decision column

_DIMENSION = re.compile(r"<dimension\b[^>]*/>")
_COLS = re.compile(r"<cols>.*?</cols>", re.S)
_SHEET_DATA = re.compile(r"<sheetData\s*/>|<sheetData>(.*?)</sheetData>", re.S)
_DROPDOWNS = re.compile(r"<dataValidations\b.*?</dataValidations>", re.S)


class _SheetPart:
    """A worksheet part openpyxl wrote for a skeleton, cut where each file's own XML goes: the
    dimension, the column widths (`own_cols`), the rows after the header; `tail` (protection,
    auto-filter, dropdowns, margins) is completed by the caller."""

    def __init__(self, xml: str, own_cols: bool):
        dim, data = _DIMENSION.search(xml), _SHEET_DATA.search(xml)
        if dim is None or data is None or dim.end() > data.start():
            raise ValueError("unexpected worksheet part from openpyxl")
        self.head = xml[:dim.start()]
        body = xml[dim.end():data.start()]
        cols = _COLS.search(body) if own_cols else None
        if own_cols and cols is None:
            raise ValueError("skeleton sheet without column widths")
        self.before_cols = body[:cols.start()] if cols else body
        self.after_cols = body[cols.end():] if cols else ""
        self.header = data.group(1) or ""
        self.tail = xml[data.end():]

    def render(self, dimension: str, cols: str, rows: str, tail: str) -> str:
        return "".join((self.head, f'<dimension ref="{dimension}" />', self.before_cols, cols,
                        self.after_cols, "<sheetData>", self.header, rows, "</sheetData>", tail))


def _expect_once(text: str, old: str, what: str) -> None:
    # The per-file ranges are put in by replacing these strings: fail loudly if an openpyxl
    # version writes them differently, rather than write files with the skeleton's ranges.
    if text.count(old) != 1:
        raise ValueError(f"skeleton: {what} not found where openpyxl writes it")


class _Skeleton:
    """One kind of review workbook (a language; with or without HR's rejections sheet), made by
    openpyxl with the same calls as a full workbook, minus the rows and the per-file ranges."""

    def __init__(self, lang: str, with_rejections: bool):
        self.lang = lang
        wb = Workbook()
        ws = wb.active
        ws.title = _sheet_title(lang)
        self.review_titles = _decision_columns(lang) + _context_titles(lang)
        last_col = get_column_letter(len(self.review_titles))
        header(ws, self.review_titles)
        ws.column_dimensions["A"].width = 8          # a <cols> element for each file's widths
        ws.freeze_panes = "B2"
        ws.auto_filter.ref = f"A1:{last_col}{_LAST_REVIEWS}"
        words = ENUM_ZH["decision"] if lang == "zh" else {"confirm": "confirm",
                                                          "overturn": "overturn"}
        items_text = ",".join((words["confirm"], words["overturn"]))
        dv = DataValidation(type="list", formula1=f'"{items_text}"', allow_blank=True,
                            showErrorMessage=True, errorTitle=label(lang, "rv_dv_title"),
                            error=label(lang, "rv_dv_error", items=items_text))
        dv.add(f"B2:B{_LAST_DROPDOWN}")
        ws.data_validations.append(dv)
        _protect(ws)
        self.rejection_titles = [label(lang, "review_id")] + _context_titles(lang)
        rj_col = get_column_letter(len(self.rejection_titles))
        if with_rejections:
            rj = wb.create_sheet(label(lang, "rv_rejections"))
            header(rj, self.rejection_titles)
            rj.column_dimensions["A"].width = 8
            rj.freeze_panes = "B2"
            rj.auto_filter.ref = f"A1:{rj_col}{_LAST_REJECTIONS}"
            _protect(rj)
        guide = wb.create_sheet(label(lang, "rv_guide"))
        guide.column_dimensions["A"].width = 100
        _protect(guide)

        # Style ids, registered in the skeleton's style table (one per look, plain and with the
        # quote prefix put_text gives text that starts like a formula).
        self.locked_top = self._style(ws, fill=LOCKED_FILL, font=LOCKED_FONT, alignment=TOP)
        self.locked_wrap = self._style(ws, fill=LOCKED_FILL, font=LOCKED_FONT, alignment=WRAP)
        self.editable = self._style(ws, protection=Protection(locked=False), fill=EDITABLE_FILL,
                                    alignment=TOP)
        self.guide_title = self._style(ws, alignment=Alignment(wrap_text=True, vertical="top"),
                                       font=Font(bold=True, size=14))
        self.guide_line = self._style(ws, alignment=Alignment(wrap_text=True, vertical="top"))

        raw = io.BytesIO()
        wb.save(raw)
        with zipfile.ZipFile(raw) as z:
            self.parts = [(info.filename, z.read(info.filename)) for info in z.infolist()]
        self.stamp = _dos_stamp(time.localtime())
        self.packed = {name: _member(name, data, self.stamp) for name, data in self.parts}
        found = dict(self.parts)
        names = ["reviews", "rejections", "guide"] if with_rejections else ["reviews", "guide"]
        self.sheet_part = {k: f"xl/worksheets/sheet{i}.xml" for i, k in enumerate(names, 1)}
        xml = {k: found[p].decode("utf-8") for k, p in self.sheet_part.items()}
        self.reviews = _SheetPart(xml["reviews"], own_cols=True)
        self.guide = _SheetPart(xml["guide"], own_cols=False)
        self.rejections = _SheetPart(xml["rejections"], own_cols=True) if with_rejections else None

        self.filter_reviews = f"A1:{last_col}{_LAST_REVIEWS}"
        self.dropdown = f'sqref="B2:B{_LAST_DROPDOWN}"'
        tail = self.reviews.tail
        _expect_once(tail, self.filter_reviews, "the Reviews auto-filter")
        _expect_once(tail, self.dropdown, "the dropdown range")
        self.tail_no_dropdown = _DROPDOWNS.sub("", tail)
        self.filter_rejections = f"A1:{rj_col}{_LAST_REJECTIONS}"
        if with_rejections:
            _expect_once(self.rejections.tail, self.filter_rejections, "the Rejections filter")
        # The auto-filters' defined names in workbook.xml: '复核结论'!$A$1:$K$2
        self.workbook = found["xl/workbook.xml"].decode("utf-8")
        self.name_reviews = f"${last_col}${_LAST_REVIEWS}<"
        self.name_rejections = f"${rj_col}${_LAST_REJECTIONS}<"
        _expect_once(self.workbook, self.name_reviews, "the Reviews filter's name")
        if with_rejections:
            _expect_once(self.workbook, self.name_rejections, "the Rejections filter's name")

    @staticmethod
    def _style(ws, **attrs) -> tuple[str, str]:
        ids = []
        for quoted in (False, True):
            cell = WriteOnlyCell(ws)
            for name, value in attrs.items():
                setattr(cell, name, value)
            if quoted:
                cell.quotePrefix = True
            ids.append(str(cell.style_id))
        return ids[0], ids[1]

    def save(self, path: Path, sheets: dict[str, str], workbook: str) -> None:
        own = {self.sheet_part[k]: v for k, v in sheets.items()}
        own["xl/workbook.xml"] = workbook
        # Each file's own parts at level 1: faster than the default on these few-KB parts,
        # ≈10 % larger.
        members = [self.packed[name] if name not in own else
                   _member(name, own[name].encode("utf-8"), self.stamp, 1)
                   for name, _ in self.parts]
        Path(path).write_bytes(_zip(members))


# ----------------------------------------------------------------------------- the zip container
#
# zipfile spends ≈5 ms per small workbook (a compressor, headers and seeks per member): more
# than everything else here. The skeleton's fixed parts (theme, styles, relationships, ...) are
# compressed once; each file compresses only its own sheets and workbook.xml and is laid out in
# one bytes object: local headers, data, central directory (APPNOTE.TXT §4.3; no ZIP64 — a
# review workbook is far below 4 GB — and ASCII member names, as openpyxl's).

_LOCAL = struct.Struct("<4s5H3L2H")
_CENTRAL = struct.Struct("<4s6H3L5H2L")
_END = struct.Struct("<4s4H2LH")
_DEFLATE, _VERSION, _MADE_BY = 8, 20, (3 << 8) | 20          # made on Unix, as zipfile says
_FILE_MODE = 0o600 << 16                                      # what zipfile.writestr records


def _dos_stamp(t: time.struct_time) -> tuple[int, int]:
    return (t.tm_hour << 11) | (t.tm_min << 5) | (t.tm_sec // 2), \
        ((t.tm_year - 1980) << 9) | (t.tm_mon << 5) | t.tm_mday


def _member(name: str, data: bytes, stamp: tuple[int, int],
            level: int = zlib.Z_DEFAULT_COMPRESSION) -> tuple:
    """(name, crc, size, deflated data, DOS time, DOS date): one zip member, ready to lay out."""
    packed = zlib.compress(data, level, -15)          # raw deflate, as a zip member holds it
    if len(data) > 0xFFFF_FFFF or len(packed) > 0xFFFF_FFFF:
        raise ValueError(f"{name}: too large for a review workbook")
    return name.encode("ascii"), zlib.crc32(data), len(data), packed, stamp[0], stamp[1]


def _zip(members: list[tuple]) -> bytes:
    out, central, offset = [], [], 0
    for name, crc, size, packed, dos_time, dos_date in members:
        out.append(_LOCAL.pack(b"PK\x03\x04", _VERSION, 0, _DEFLATE, dos_time, dos_date, crc,
                               len(packed), size, len(name), 0))
        out.append(name)
        out.append(packed)
        central.append(_CENTRAL.pack(b"PK\x01\x02", _MADE_BY, _VERSION, 0, _DEFLATE, dos_time,
                                     dos_date, crc, len(packed), size, len(name), 0, 0, 0, 0,
                                     _FILE_MODE, offset) + name)
        offset += _LOCAL.size + len(name) + len(packed)
    directory = b"".join(central)
    if offset > 0xFFFF_FFFF:
        raise ValueError("too large for a review workbook")
    out.append(directory)
    out.append(_END.pack(b"PK\x05\x06", 0, 0, len(members), len(members), len(directory),
                         offset, 0))
    return b"".join(out)


class _RowIndex:
    """(sheet, Excel row) → that ledger row, for the few rows the items cite. The rows come in
    Excel-row order (evaluator/store.load_rows), so a row is found by its position and checked;
    a sheet whose rows are not where their numbers say is indexed by a dict instead. (A dict of
    every row was 0.1 s at 10,000 employees, 1 s at 100,000, to look up a few thousand.)"""

    def __init__(self, rows: dict[str, list[dict]]):
        self.rows = rows
        self.by_number: dict[str, dict[int, dict]] = {}

    def get(self, key: tuple[str, int]) -> dict | None:
        sheet, number = key
        lst = self.rows.get(sheet)
        if not lst:
            return None
        table = self.by_number.get(sheet)
        if table is None:
            if isinstance(number, int):
                i = number - lst[0]["row"]
                if 0 <= i < len(lst) and lst[i]["row"] == number:
                    return lst[i]
            table = self.by_number[sheet] = {r["row"]: r for r in lst}
        return table.get(number)


def _cell_xml(ref: str, value, styles: tuple[str, str]) -> str:
    """A `<c>` element as openpyxl writes a cell that `put_text` filled and that has a style:
    None → an empty number cell, "" → an empty text cell, text with the quote-prefix style when
    it starts like a formula (`styles`: plain, quoted)."""
    plain, quoted = styles
    if value is None:
        return f'<c r="{ref}" s="{plain}" t="n" />'
    if isinstance(value, str):
        value = clean_text(value)
        s = quoted if value.startswith(FORMULA_LEADS) else plain
        if not value:
            return f'<c r="{ref}" s="{s}" t="inlineStr" />'
        stripped = value.strip()
        space = ' xml:space="preserve"' if stripped and stripped != value else ""
        text = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return f'<c r="{ref}" s="{s}" t="inlineStr"><is><t{space}>{text}</t></is></c>'
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return f'<c r="{ref}" s="{plain}" t="n"><v>{safe_string(value)}</v></c>'
    raise TypeError(f"cannot write a {type(value).__name__} to a review cell: {value!r}")


def _rows_xml(values: list[list], styles: list[tuple[str, str]], first_row: int = 2) -> str:
    letters = [get_column_letter(j) for j in range(1, len(styles) + 1)]
    out = []
    for r, row in enumerate(values, first_row):
        rs = str(r)
        out.append(f'<row r="{rs}">')
        for letter, style, v in zip(letters, styles, row):
            out.append(_cell_xml(letter + rs, v, style))
        out.append("</row>")
    return "".join(out)


def _cols_xml(titles: list[str], values: list[list], maximum: dict[int, float],
              at_least: dict[int, float] | None = None) -> str:
    """`<cols>` sized to the titles and rows; `maximum` / `at_least`: 0-based column → width."""
    sample = values[:WIDTH_SAMPLE_ROWS]
    out = ["<cols>"]
    for j, title in enumerate(titles):
        # as statement.fit_columns sizes them: decimals shown to the cent
        w = fit_width([title] + [f"{x:.2f}" if isinstance(x, Decimal) else x
                                 for x in (r[j] for r in sample)], maximum=maximum.get(j, 60))
        w = max(w, (at_least or {}).get(j, w))
        out.append(f'<col width="{safe_string(w)}" customWidth="1" min="{j + 1}" max="{j + 1}" />')
    out.append("</cols>")
    return "".join(out)


def _reviews_sheet(sk: _Skeleton, items: list[dict], assignee: str, index, sheet_lang) -> tuple:
    """(sheet XML, last row of the auto-filter) of the Reviews sheet."""
    lang = sk.lang
    values = [[e["review_id"], None, assignee, None] + _context(e, index, lang, sheet_lang)
              for e in items]
    n = len(values)
    ncols = len(sk.review_titles)
    # decision and comment (2, 4) are the only editable cells; long text wraps from column 9
    styles = [sk.editable if j in (2, 4) else (sk.locked_wrap if j >= 9 else sk.locked_top)
              for j in range(1, ncols + 1)]
    cols = _cols_xml(sk.review_titles, values, maximum={3: 40, 9: 60, 10: 60},
                     at_least={1: 12, 3: 30})
    last = max(n + 1, 2)
    if n:
        tail = sk.reviews.tail.replace(sk.dropdown, 'sqref="B2"' if n == 1 else
                                       f'sqref="B2:B{n + 1}"')
    else:
        tail = sk.tail_no_dropdown
    tail = tail.replace(sk.filter_reviews, f"A1:{get_column_letter(ncols)}{last}")
    xml = sk.reviews.render(f"A1:{get_column_letter(ncols)}{n + 1}", cols,
                            _rows_xml(values, styles), tail)
    return xml, last


def _rejections_sheet(sk: _Skeleton, items: list[dict], index, sheet_lang) -> tuple:
    lang = sk.lang
    values = [[e["review_id"]] + _context(e, index, lang, sheet_lang) for e in items]
    ncols = len(sk.rejection_titles)
    styles = [sk.locked_wrap if j >= 6 else sk.locked_top for j in range(1, ncols + 1)]
    cols = _cols_xml(sk.rejection_titles, values, maximum={6: 60, 7: 60})
    last = max(len(values) + 1, 2)
    tail = sk.rejections.tail.replace(sk.filter_rejections,
                                      f"A1:{get_column_letter(ncols)}{last}")
    xml = sk.rejections.render(f"A1:{get_column_letter(ncols)}{len(values) + 1}",
                               cols, _rows_xml(values, styles), tail)
    return xml, last


def _protect(ws) -> None:
    p = ws.protection
    p.sheet = True
    # False = allowed while protected: filtering, sorting and resizing help a reviewer.
    p.autoFilter = False
    p.sort = False
    p.formatColumns = False
    p.formatRows = False
    p.selectLockedCells = False
    p.selectUnlockedCells = False


def _guide_sheet(sk: _Skeleton, assignee: str, period: str, n_reviews: int,
                 n_rejections: int) -> str:
    lang = sk.lang
    lines = [label(lang, "rv_title", who=assignee, period=period),
             label(lang, "rv_counts", r=n_reviews, j=n_rejections),
             label(lang, "rv_howto", period=period),
             label(lang, "rv_meaning")]
    if n_rejections:
        lines.append(label(lang, "rv_rejections_howto"))
    rows = "".join(f'<row r="{i}">'
                   f'{_cell_xml(f"A{i}", text, sk.guide_title if i == 1 else sk.guide_line)}'
                   "</row>" for i, text in enumerate(lines, 1))
    return sk.guide.render(f"A1:A{len(lines)}", "", rows, sk.guide.tail)


def write(out_dir: Path, period: str, rows: dict, stored: dict, lang: str = "zh",
          sheet_lang: str | None = None) -> list[Path]:
    """Write one workbook per assignee into `out_dir` (the `reviews` folder); returns them."""
    sl = sheet_lang or lang
    index = _RowIndex(rows)
    reviews: dict[str, list[dict]] = defaultdict(list)
    rejections: list[dict] = []
    for e in stored["exceptions"]:
        if e["type"] == "review":
            reviews[e["assignee_id"]].append(e)
        else:
            rejections.append(e)
    assignees = set(reviews) | ({HR} if rejections else set())
    stems = _stems(assignees)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    skeletons: dict[bool, _Skeleton] = {}
    written = []
    for assignee in sorted(assignees, key=lambda a: (a != HR, a)):
        mine = reviews.get(assignee, [])
        theirs_rejections = rejections if assignee == HR else []
        kind = bool(theirs_rejections)
        sk = skeletons.get(kind)
        if sk is None:
            sk = skeletons[kind] = _Skeleton(lang, kind)
        sheets = {}
        sheets["reviews"], last = _reviews_sheet(sk, mine, assignee, index, sl)
        workbook = sk.workbook.replace(sk.name_reviews, sk.name_reviews.replace(
            str(_LAST_REVIEWS), str(last)))
        if theirs_rejections:
            sheets["rejections"], last = _rejections_sheet(sk, theirs_rejections, index, sl)
            workbook = workbook.replace(sk.name_rejections, sk.name_rejections.replace(
                str(_LAST_REJECTIONS), str(last)))
        sheets["guide"] = _guide_sheet(sk, assignee, period, len(mine), len(theirs_rejections))
        path = out_dir / f"{stems[assignee]}.xlsx"
        sk.save(path, sheets, workbook)
        written.append(path)
    return written


def counts(stored: dict) -> tuple[int, int, int]:
    """(assignee workbooks, review items, rejections) — for the command line's summary."""
    reviewers = {e["assignee_id"] for e in stored["exceptions"] if e["type"] == "review"}
    rejections = sum(1 for e in stored["exceptions"] if e["type"] != "review")
    if rejections:
        reviewers.add(HR)
    return (len(reviewers), sum(1 for e in stored["exceptions"] if e["type"] == "review"),
            rejections)


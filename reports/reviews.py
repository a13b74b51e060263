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

How they are written: a company has hundreds of assignees with a few items each, so what costs
is the per-workbook work of openpyxl, not the rows (≈30 ms a workbook: 19–31 s for 624 workbooks
at 10,000 employees). So openpyxl builds each *kind* of workbook once — a skeleton per language,
with or without HR's rejections sheet: headers, styles, frozen panes, protection, guide column
(reports/workbook.py `Skeleton`) — and every assignee's file is that skeleton with its own rows,
widths, auto-filters and dropdown, written for its own row count, cell for cell what openpyxl
would write (tests/test_reviews_fast.py holds the former one-openpyxl-workbook-per-assignee
writer and compares). Text goes through the one escaper of reports/workbook.py, so `_xHHHH_`
and carriage returns in ledger text read back as written (openpyxl's own writer left both to
the reader's mercy).
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import defaultdict
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill, Protection
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from importers.schema import ENUM_ZH, SHEET_BY_NAME
from reports import moves
from reports.labels import label
from reports.view import CitedRows
from reports.workbook import (SheetFill, Skeleton, cell_look, clip, column_widths, dropdowns_xml,
                              header, styled_rows)
from rules.books import describe
from rules.exceptions import HR, KIND_BY_NAME
from rules.sentences import message

EDITABLE_FILL = PatternFill("solid", start_color="FFF2CC", end_color="FFF2CC")
LOCKED_FILL = PatternFill("solid", start_color="F2F2F2", end_color="F2F2F2")
LOCKED_FONT = Font(color="595959")
WRAP = Alignment(wrap_text=True, vertical="top")
TOP = Alignment(vertical="top")
# zlib level of each file's own parts: faster than the default on these few-KB parts, ≈10 %
# larger.
OWN_ZLIB_LEVEL = 1

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


def _context(e: dict, cited: CitedRows, lang: str) -> list:
    """The read-only columns of an item: kind, its description, subject, status, the source
    references and the lines cited from them, the message."""
    refs, lines = cited.texts(e["sources"])
    status = label(lang, "to_fix") if e["type"] == "rejection" else label(lang, e["status"])
    if e.get("moved_note"):                     # SPEC §11.4, reports/moves.py
        status = f"{status}{'；' if lang == 'zh' else '; '}{e['moved_note']}"
    return [e["kind"], _kind_text(e["kind"], lang), e["subject_id"], status, refs, clip(lines),
            message(e, lang)]


def _decision_columns(lang: str) -> list[str]:
    sheet = SHEET_BY_NAME["Reviews"]
    return [c.zh if lang == "zh" else c.name for c in sheet.columns]


def _context_titles(lang: str) -> list[str]:
    return [label(lang, k) for k in ("kind", "kind_text", "subject", "status", "sources", "cited",
                                     "message")]


def _sheet_title(lang: str) -> str:
    r = SHEET_BY_NAME["Reviews"]
    return r.zh if lang == "zh" else r.name


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


# ----------------------------------------------------------------------------- the workbooks

class _Kind:
    """One kind of review workbook (a language; with or without HR's rejections sheet): its
    skeleton, made by openpyxl with the same calls as a full workbook minus the rows and what
    depends on them (widths, auto-filters, the dropdown's range), and the looks of its cells."""

    def __init__(self, lang: str, with_rejections: bool):
        self.lang = lang
        wb = Workbook()
        ws = wb.active
        self.reviews_title = ws.title = _sheet_title(lang)
        self.review_titles = _decision_columns(lang) + _context_titles(lang)
        header(ws, self.review_titles)
        ws.freeze_panes = "B2"
        _protect(ws)
        words = ENUM_ZH["decision"] if lang == "zh" else {"confirm": "confirm",
                                                          "overturn": "overturn"}
        self.decisions = ",".join((words["confirm"], words["overturn"]))
        self.rejection_titles = [label(lang, "review_id")] + _context_titles(lang)
        self.rejections_title = None
        if with_rejections:
            rj = wb.create_sheet(label(lang, "rv_rejections"))
            self.rejections_title = rj.title
            header(rj, self.rejection_titles)
            rj.freeze_panes = "B2"
            _protect(rj)
        guide = wb.create_sheet(label(lang, "rv_guide"))
        self.guide_title = guide.title
        guide.column_dimensions["A"].width = 100
        _protect(guide)
        # the looks of the cells: locked and grey, or the editable decision and comment
        self.locked_top = cell_look(ws, fill=LOCKED_FILL, font=LOCKED_FONT, alignment=TOP)
        self.locked_wrap = cell_look(ws, fill=LOCKED_FILL, font=LOCKED_FONT, alignment=WRAP)
        self.editable = cell_look(ws, protection=Protection(locked=False), fill=EDITABLE_FILL,
                                  alignment=TOP)
        self.guide_heading = cell_look(ws, alignment=Alignment(wrap_text=True, vertical="top"),
                                       font=Font(bold=True, size=14))
        self.guide_line = cell_look(ws, alignment=Alignment(wrap_text=True, vertical="top"))
        self.skeleton = Skeleton(wb)
        self._dropdowns: dict[int, str] = {}

    def dropdown(self, n: int) -> str:
        """The dataValidations element of the decision column's dropdown over `n` rows."""
        xml = self._dropdowns.get(n)
        if xml is None:
            dv = DataValidation(type="list", formula1=f'"{self.decisions}"', allow_blank=True,
                                showErrorMessage=True, errorTitle=label(self.lang, "rv_dv_title"),
                                error=label(self.lang, "rv_dv_error", items=self.decisions))
            dv.add(f"B2:B{n + 1}")
            xml = self._dropdowns[n] = dropdowns_xml([dv])
        return xml

    def reviews(self, items: list[dict], assignee: str, cited: CitedRows) -> SheetFill:
        values = [[e["review_id"], None, assignee, None] + _context(e, cited, self.lang)
                  for e in items]
        n, ncols = len(values), len(self.review_titles)
        # decision and comment (2, 4) are the only editable cells; long text wraps from column 9
        looks = [self.editable if j in (2, 4) else
                 (self.locked_wrap if j >= 9 else self.locked_top) for j in range(1, ncols + 1)]
        return SheetFill(styled_rows(values, looks), ncols, n + 1,
                         widths=column_widths(self.review_titles, values,
                                              maximum={3: 40, 9: 60, 10: 60},
                                              at_least={1: 12, 3: 30}),
                         auto_filter=f"A1:{get_column_letter(ncols)}{max(n + 1, 2)}",
                         dropdowns=self.dropdown(n) if n else "")

    def rejections(self, items: list[dict], cited: CitedRows) -> SheetFill:
        values = [[e["review_id"]] + _context(e, cited, self.lang) for e in items]
        ncols = len(self.rejection_titles)
        looks = [self.locked_wrap if j >= 6 else self.locked_top for j in range(1, ncols + 1)]
        return SheetFill(styled_rows(values, looks), ncols, len(values) + 1,
                         widths=column_widths(self.rejection_titles, values,
                                              maximum={6: 60, 7: 60}),
                         auto_filter=f"A1:{get_column_letter(ncols)}{max(len(values) + 1, 2)}")

    def guide(self, assignee: str, period: str, n_reviews: int, n_rejections: int) -> SheetFill:
        lang = self.lang
        lines = [label(lang, "rv_title", who=assignee, period=period),
                 label(lang, "rv_counts", r=n_reviews, j=n_rejections),
                 label(lang, "rv_howto", period=period),
                 label(lang, "rv_meaning")]
        if n_rejections:
            lines.append(label(lang, "rv_rejections_howto"))
        rows = (styled_rows([lines[:1]], [self.guide_heading], first_row=1)
                + styled_rows([[text] for text in lines[1:]], [self.guide_line], first_row=2))
        return SheetFill(rows, 1, len(lines))


def write(out_dir: Path, period: str, rows: dict, stored: dict, lang: str = "zh",
          sheet_lang: str | None = None) -> list[Path]:
    """Write one workbook per assignee into `out_dir` (the `reviews` folder); returns them."""
    cited = CitedRows(rows, sheet_lang or lang)
    reviews: dict[str, list[dict]] = defaultdict(list)
    rejections: list[dict] = []
    moved = moves.by_item(stored.get("firings", ()))
    for e in stored["exceptions"]:
        if e["type"] == "review":
            steps = moved.get(e["review_id"])
            if steps:       # past its deadline: in the files of its assignee and of those before
                reviews[e["assignee_id"]].append(
                    dict(e, moved_note=moves.note(lang, "from", steps[-1][0])))
                for earlier in moves.earlier_assignees(steps):
                    reviews[earlier].append(dict(e, moved_note=moves.note(lang, "to",
                                                                           e["assignee_id"])))
            else:
                reviews[e["assignee_id"]].append(e)
        else:
            rejections.append(e)
    assignees = set(reviews) | ({HR} if rejections else set())
    stems = _stems(assignees)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    kinds: dict[bool, _Kind] = {}
    written = []
    for assignee in sorted(assignees, key=lambda a: (a != HR, a)):
        mine = reviews.get(assignee, [])
        theirs_rejections = rejections if assignee == HR else []
        with_rejections = bool(theirs_rejections)
        kind = kinds.get(with_rejections)
        if kind is None:
            kind = kinds[with_rejections] = _Kind(lang, with_rejections)
        fills = {kind.reviews_title: kind.reviews(mine, assignee, cited)}
        if theirs_rejections:
            fills[kind.rejections_title] = kind.rejections(theirs_rejections, cited)
        fills[kind.guide_title] = kind.guide(assignee, period, len(mine), len(theirs_rejections))
        written.append(kind.skeleton.write(out_dir / f"{stems[assignee]}.xlsx", fills,
                                           OWN_ZLIB_LEVEL))
    return written


def counts(stored: dict) -> tuple[int, int, int]:
    """(assignee workbooks, review items, rejections) — for the command line's summary."""
    reviewers = {e["assignee_id"] for e in stored["exceptions"] if e["type"] == "review"}
    for steps in moves.by_item(stored.get("firings", ())).values():
        reviewers.update(moves.earlier_assignees(steps))
    rejections = sum(1 for e in stored["exceptions"] if e["type"] != "review")
    if rejections:
        reviewers.add(HR)
    return (len(reviewers), sum(1 for e in stored["exceptions"] if e["type"] == "review"),
            rejections)

"""reviews/<assignee>.xlsx (SPEC §8, §10.3, §10.7): one workbook per assignee, holding only that
person's items, which goes back — filled in, unchanged otherwise — through
`xietong decisions FILE --period P`.

The sheet 复核结论 / Reviews holds the ledger's Reviews columns (SPEC §3; the reader matches
headers by name, so the returned file is read by the ledger reader itself) among read-only
context, laid out to be read left to right and printed:

    review_id | subject, its name | what was found (the message) | why it is reviewed (the
    kind's description) | cited values, with their column names and a name beside every
    employee, department and project id | decision (dropdown 维持/撤销 or confirm/overturn) |
    comment | reviewer_id (the assignee) | status | recorded decision (value, by whom, when,
    comment) | kind

A decided item shows its current decision — the latest recorded, also one recorded after the
run (SPEC §10.3) — in the recorded-decision column; the assignee's own decision is also filled
in the decision and comment cells, where it can be changed. (Another's — HR's — is not: the row
would go back as the assignee's decision.) The status and the counts are the current ones.

The sheet is protected: only the decision and comment cells are unlocked (pale yellow);
everything else is locked and grey. The protection has no password: it stops slips, not a
determined editor — the decisions command validates every row anyway (assignee, known review
id, no rejection, not from an outdated copy).

Every workbook is stamped (SPEC §10.3): the run it was written from, its period, its assignee
and when it was issued, as the custom document properties importers/stamp.py reads, and as a
visible line of the guide sheet and of the printed page's header. It prints on one page width,
landscape, the header row repeated; its title (the guide's first line, the printed header, the
document title) names the assignee and their id.

Rejections and notices (always HR's, SPEC §5) take no decision: they are listed in HR.xlsx on a
separate sheet 驳回与提示 / Rejections with no decision column, so they cannot be imported as
decisions (that sheet's name is no ledger sheet's, and the decisions command reads only the
Reviews sheet). HR.xlsx also lists every assignee's workbook (复核清单一览 / Workbooks: id, name,
department, e-mail where a desk account has one, file, items, open), so it is written whenever
any workbook is.

File names: the assignee id when it is already a safe, portable file name; otherwise the id
made safe plus a short hash of the id, so two ids never share a file (ids are case-sensitive,
file systems often are not).

How they are written: a company has hundreds of assignees with a few items each, so what costs
is the per-workbook work of openpyxl, not the rows (≈30 ms a workbook: 19–31 s for 624 workbooks
at 10,000 employees). So openpyxl builds each *kind* of workbook once — a skeleton per kind
(HR's or anyone else's; with or without HR's rejections sheet): headers, styles, frozen panes,
protection, page setup, guide column (reports/workbook.py `Skeleton`) — and every assignee's
file is that skeleton with its own rows, widths, row heights, auto-filters, dropdown, printed
header and document properties, cell for cell what openpyxl would write
(tests/test_reviews_fast.py holds a writer building one openpyxl workbook per assignee and
compares). Text goes through the one escaper of reports/workbook.py, so `_xHHHH_` and carriage
returns in ledger text read back as written (openpyxl's own writer left both to the reader's
mercy).
"""
from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from collections import Counter, defaultdict
from datetime import datetime, timezone
from itertools import chain
from pathlib import Path
from typing import Iterator
from xml.sax.saxutils import escape

from openpyxl import Workbook
from openpyxl.packaging.custom import StringProperty
from openpyxl.styles import Alignment, Font, PatternFill, Protection
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.header_footer import HeaderFooter
from openpyxl.worksheet.page import PageMargins

from importers import stamp
from importers.columns import lookup
from importers.schema import ENUM_ZH, SHEET_BY_NAME
from reports import facts as firing_facts
from reports import moves
from reports.labels import label, sheet_name, show_value
from reports.view import RowIndex
from reports.workbook import (SheetFill, Skeleton, cell_look, clean_text, clip, display_width,
                              dropdowns_xml, header, header_footer_xml, landscape, styled_rows)
from rules.books import describe
from rules.exceptions import HR, KIND_BY_NAME
from rules.sources import base as base_sheet
from rules.sentences import message

EDITABLE_FILL = PatternFill("solid", start_color="FFF2CC", end_color="FFF2CC")
LOCKED_FILL = PatternFill("solid", start_color="F2F2F2", end_color="F2F2F2")
LOCKED_FONT = Font(color="595959")
WRAP = Alignment(wrap_text=True, vertical="top")
TOP = Alignment(vertical="top")
# Narrow margins (inches): more of the width for the columns when the sheet is printed.
MARGINS = dict(left=0.4, right=0.4, top=0.75, bottom=0.5, header=0.3, footer=0.3)
LINE_HEIGHT = 15.0
# zlib level of each file's own parts: faster than the default on these few-KB parts, ≈10 %
# larger.
OWN_ZLIB_LEVEL = 1

# The columns of the Reviews sheet (label keys; the ledger's own for review_id, decision,
# reviewer_id and comment), their widest widths and which wrap (0-based). Decision and comment
# are the only editable cells.
REVIEW_KEYS = ("review_id", "subject", "subject_name", "rv_found", "rv_why", "cited", "decision",
               "comment", "reviewer_id", "status", "rv_recorded", "kind")
# About 205 characters in all for a typical item: printed on one A4 page width at ≈70 %.
_REVIEW_WIDEST = {2: 16, 3: 30, 4: 22, 5: 40, 7: 24, 10: 26, 11: 24}
_REVIEW_WRAP = (3, 4, 5, 7, 10)
_DECISION, _COMMENT = REVIEW_KEYS.index("decision"), REVIEW_KEYS.index("comment")
_DECISION_COLUMN = get_column_letter(_DECISION + 1)
REJECTION_KEYS = ("review_id", "subject", "subject_name", "rv_found", "rv_why", "cited", "status",
                  "kind")
_REJECTION_WIDEST = {2: 16, 3: 30, 4: 22, 5: 40, 7: 24}
_REJECTION_WRAP = (3, 4, 5)
HUB_KEYS = ("person_id", "person_name", "department", "email", "file", "items", "open_items")

# Columns whose values are ids of a person, a department or a project: the cited values show
# the name beside them (a row's own id column is followed by its name column anyway).
_EMPLOYEE_IDS = {"employee_id", "rater_id", "proposer_id", "manager_id", "lead_id",
                 "reviewer_id"}
_DEPARTMENT_IDS = {"dept_id", "ratee_dept_id"}
_PROJECT_IDS = {"project_id"}
_OWN_ID = {"Employees": "employee_id", "Departments": "dept_id", "Projects": "project_id"}

# Placeholders in a skeleton's parts, replaced by each file's own text (private-use characters:
# no ledger text reaches a skeleton).
_SLOT = "\ue000{}\ue000"

_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
                     *(f"LPT{i}" for i in range(1, 10))}
_UNSAFE = re.compile(r"[^\w.\-]", re.UNICODE)
STATUS_OF = {"confirm": "confirmed", "overturn": "overturned"}


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


def _sheet_title(lang: str) -> str:
    r = SHEET_BY_NAME["Reviews"]
    return r.zh if lang == "zh" else r.name


def _titles(lang: str, keys) -> list[str]:
    """Column titles: the ledger's Reviews columns by the ledger's own names (so the reader
    finds them), the others by the reports' words."""
    ledger = {c.name: (c.zh if lang == "zh" else c.name) for c in SHEET_BY_NAME["Reviews"].columns}
    return [ledger.get(k) or label(lang, k) for k in keys]


@functools.lru_cache(maxsize=4096)
def _minute(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M")


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


def _printable(ws) -> None:
    """Landscape, one page wide, the header row on every page, narrow margins."""
    landscape(ws)
    ws.page_margins = PageMargins(**MARGINS)


# Line boundaries of str.splitlines() other than "\n" (column widths split lines as fit_width
# does; wrapped rows count lines between "\n" as fit_heights does).
_OTHER_BREAKS = re.compile("[\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")


_CONTROLS = re.compile(r"[\x00-\x1f\x7f]+")
# What openpyxl's HeaderFooterItem writes for the long header codes.
_HEADER_CODE = {"&[Tab]": "&A", "&[Pages]": "&N", "&[Date]": "&D", "&[Path]": "&Z",
                "&[Page]": "&P", "&[Time]": "&T", "&[File]": "&F", "&[Picture]": "&G"}
_HEADER_CODES = re.compile("|".join(re.escape(k) for k in _HEADER_CODE))


def print_header(title: str) -> str:
    """A title as the printed page's header shows it: one line, at most 100 characters, `&`
    doubled (a single one starts a header code)."""
    return clip(_CONTROLS.sub(" ", clean_text(title)), 100).replace("&", "&&")


class _Measure(dict):
    """text -> (its widest line as `fit_width` splits lines, the display width of each of its
    lines as `wrapped_lines` splits them): each text measured once."""

    def __missing__(self, text: str) -> tuple[int, tuple[int, ...]]:
        lines = tuple(map(display_width, text.split("\n")))
        widest = (max(lines) if _OTHER_BREAKS.search(text) is None else
                  max(map(display_width, text.splitlines()), default=0))
        self[text] = measured = (widest, lines)
        return measured


def _layout(titles: list[str], values: list[list], widest: dict[int, float],
            at_least: dict[int, float], wrapped, measure: _Measure
            ) -> tuple[list[float], list[float | None]]:
    """(column widths, row heights) of a sheet: each column as wide as its title and values
    (at least 8, at most `widest`, 60 unless said), each row as high as the most lines its
    wrapped columns' text takes (None: one line, the default). Every cell's text is measured
    once for both (what column_widths and fit_heights would say)."""
    ncols = len(titles)
    most = [measure[t][0] for t in titles]
    cells = []
    for v in values:
        row = []
        for j in range(ncols):
            x = v[j]
            if x is None:
                row.append(())
                continue
            w, lines = measure[x] if type(x) is str else measure[str(x)]
            row.append(lines)
            if w > most[j]:
                most[j] = w
        cells.append(row)
    widths = [max(float(min(widest.get(j, 60), max(8, most[j] + 2))), at_least.get(j, 0))
              for j in range(ncols)]
    per_line = [(j, max(widths[j] - 1, 1)) for j in wrapped]
    heights = []
    for row in cells:
        most_lines = 0
        for j, per in per_line:
            lines = row[j]
            if len(lines) == 1:                     # most cells: one paragraph
                n = -(-lines[0] // per) or 1
            else:
                n = sum(max(1, -(-w // per)) for w in lines)
            if n > most_lines:
                most_lines = n
        heights.append(most_lines * LINE_HEIGHT if most_lines > 1 else None)
    return widths, heights


# ----------------------------------------------------------------------------- names, cited rows

class Names:
    """The names of a ledger's employees, departments, projects and metrics, by id (a name
    left empty: "" or None)."""

    def __init__(self, rows: dict):
        def names(sheet: str, key: str) -> dict[str, str]:
            return {r[key]: r.get("name") or "" for r in rows.get(sheet, ())}

        # the employees' looked up in the sheet's columns (importers.columns.lookup): as a
        # dict, 3.9 MB at 100,000 employees in the reports' second writer
        self.employees = lookup(rows.get("Employees", ()), "employee_id", "name")
        self.departments = names("Departments", "dept_id")
        self.projects = names("Projects", "project_id")
        self.metrics = names("Interlocks", "metric_id")

    def of_subject(self, kind: str, subject: str | None) -> str:
        """The name of an item's subject: an employee for the behaviour kinds, else a
        department, or else a metric."""
        if not subject:
            return ""
        if kind.startswith("BEH_"):
            order = (self.employees, self.departments)
        else:
            order = (self.departments, self.metrics, self.employees)
        for table in order:
            name = table.get(subject)
            if name:
                return name
        return ""

    def of_person(self, who: str, lang: str) -> str:
        return label(lang, "hr_name") if who == HR else self.employees.get(who) or ""


class CitedWithNames:
    """`line(sheet, row)`: `周边评价!17: 评价编号=R1; 评价人工号=XT100045（张三）; …` — a cited
    ledger row as the trace cites it, with the name beside every employee, department and
    project id. Made once per row: a row may be cited by several items."""

    def __init__(self, rows: dict, sheet_lang: str, lang: str, names: Names):
        self.index = RowIndex(rows)
        self.sheet_lang, self.names = sheet_lang, names
        self.around = ("（", "）") if lang == "zh" else (" (", ")")
        self.lines: dict[tuple, str] = {}
        self.plans: dict[str, tuple] = {}

    def _plan(self, sheet: str) -> tuple:
        """(the sheet's name, and per column: its name, "header=", its enum, the ledger's
        spellings of that enum or None, the names of the ids it holds or None)."""
        plan = self.plans.get(sheet)
        if plan is None:
            of = base_sheet(sheet)          # another month's row (Sheet@YYYY-MM): its sheet's
            own = _OWN_ID.get(of)
            n, zh = self.names, self.sheet_lang == "zh"
            columns = SHEET_BY_NAME[of].columns if of in SHEET_BY_NAME else ()
            plan = self.plans[sheet] = (sheet_name(self.sheet_lang, sheet), tuple(
                (c.name, f"{c.zh if zh else c.name}=", c.enum,
                 ENUM_ZH.get(c.enum, {}) if c.enum and zh else None,
                 None if c.name == own else
                 n.employees if c.name in _EMPLOYEE_IDS else
                 n.departments if c.name in _DEPARTMENT_IDS else
                 n.projects if c.name in _PROJECT_IDS else None)
                for c in columns))
        return plan

    def read(self, keys) -> None:
        """Reads the rows at `keys`, (sheet, Excel row), that are kept in files, forgetting
        those read before and the lines made of them."""
        self.lines.clear()
        self.index.forget()
        self.index.prefetch(keys)

    def line(self, sheet: str, number: int) -> str:
        key = (sheet, number)
        text = self.lines.get(key)
        if text is None:
            row = self.index.get(key)
            title, columns = self._plan(sheet)
            parts = []
            if row is not None:
                opening, closing = self.around
                for column, prefix, enum, spelled, names in columns:
                    v = row.get(column)
                    if v is None or v == "":
                        continue
                    if type(v) is str:                      # as labels.cited_values shows it
                        shown = v if spelled is None else spelled.get(v, v)
                        name = names.get(v) if names is not None else None
                        parts.append(f"{prefix}{shown}{opening}{name}{closing}" if name else
                                     prefix + shown)
                    else:
                        parts.append(prefix + show_value(self.sheet_lang, v, enum))
            text = self.lines[key] = f"{title}!{number}: " + "; ".join(parts)
        return text

    def text(self, sources) -> str:
        return clip("\n".join(self.line(s, r) for s, r in sources))


# ----------------------------------------------------------------------------- the items

class _Items:
    """One report's review items as the workbooks show them: each item's status and current
    decision (SPEC §10.3), and the words of its context columns."""

    def __init__(self, stored: dict, rows: dict, lang: str, sheet_lang: str):
        self.lang = lang
        # None when the stored run carries no decisions (then the statuses are the run's)
        self.current = stored.get("current_decisions")
        self.names = Names(rows)
        self.cited = CitedWithNames(rows, sheet_lang, lang, self.names)
        self.words = (ENUM_ZH["decision"] if lang == "zh"
                      else {"confirm": "confirm", "overturn": "overturn"})
        self._kinds: dict[str, str] = {}

    def read_group(self, items) -> None:
        """Reads the ledger rows `items` cite, forgetting those of the group before and the
        lines made of them: what this holds is a group's, whatever the company's size (all of
        a 100,000-employee month's were 19 MB of rows and 8 MB of lines in the second
        writer)."""
        self.cited.read(s for e in items for s in e["sources"])

    def decision(self, e: dict) -> dict | None:
        return None if self.current is None else self.current.get(e["review_id"])

    def status(self, e: dict) -> str:
        """open | confirmed | overturned, as of now (the run's own without decisions)."""
        return status_now(e, self.current)

    def kind_text(self, kind: str) -> str:
        text = self._kinds.get(kind)
        if text is None:
            text = self._kinds[kind] = _kind_text(kind, self.lang)
        return text

    def context(self, e: dict) -> list:
        """subject, its name, what was found, why, the cited values."""
        subject = e["subject_id"]
        return [subject, self.names.of_subject(e["kind"], subject), message(e, self.lang),
                self.kind_text(e["kind"]), self.cited.text(e["sources"])]

    def recorded(self, d: dict | None) -> str:
        if d is None:
            return ""
        by = d["by"]
        name = self.names.of_person(by, self.lang)
        text = label(self.lang, "rv_recorded_text", value=self.words.get(d["value"], d["value"]),
                     by=f"{by} {name}" if name and name != by else by, at=_minute(d["at"]))
        return text + ("\n" + d["comment"] if d.get("comment") else "")

    def status_text(self, e: dict) -> str:
        """The status column: open / confirmed / overturned, and where the item moved past its
        deadline (SPEC §11.4, reports/moves.py) to or from whom."""
        text = label(self.lang, self.status(e))
        if e.get("moved_note"):
            text = f"{text}{'；' if self.lang == 'zh' else '; '}{e['moved_note']}"
        return text

    def review_row(self, e: dict, assignee: str) -> list:
        d = self.decision(e)
        own = d is not None and d["by"] == assignee
        return ([e["review_id"]] + self.context(e)
                + [self.words.get(d["value"], d["value"]) if own else None,
                   (d.get("comment") or None) if own else None, assignee,
                   self.status_text(e), self.recorded(d), e["kind"]])

    def rejection_row(self, e: dict) -> list:
        return [e["review_id"]] + self.context(e) + [label(self.lang, "to_fix"), e["kind"]]


# ----------------------------------------------------------------------------- the workbooks

class _Kind:
    """One kind of review workbook (HR's or another assignee's; with or without HR's rejections
    sheet): its skeleton, made by openpyxl with the same calls as a full workbook minus the rows
    and what depends on them (widths, heights, auto-filters, the dropdown's range, the printed
    header, the document properties), and the looks of its cells."""

    def __init__(self, lang: str, hr: bool, with_rejections: bool):
        self.lang = lang
        wb = Workbook()
        ws = wb.active
        self.reviews_title = ws.title = _sheet_title(lang)
        self.review_titles = _titles(lang, REVIEW_KEYS)
        header(ws, self.review_titles)
        ws.freeze_panes = "B2"
        _protect(ws)
        _printable(ws)
        ws.oddHeader.left.text = _SLOT.format("header")          # each file has its own
        words = ENUM_ZH["decision"] if lang == "zh" else {"confirm": "confirm",
                                                          "overturn": "overturn"}
        self.decisions = ",".join((words["confirm"], words["overturn"]))
        self.rejection_titles = _titles(lang, REJECTION_KEYS)
        self.rejections_title = self.hub_title = None
        if with_rejections:
            rj = wb.create_sheet(label(lang, "rv_rejections"))
            self.rejections_title = rj.title
            header(rj, self.rejection_titles)
            rj.freeze_panes = "B2"
            _protect(rj)
            _printable(rj)
        self.hub_titles = [label(lang, k) for k in HUB_KEYS]
        if hr:
            hub = wb.create_sheet(label(lang, "rv_hub"))
            self.hub_title = hub.title
            header(hub, self.hub_titles)
            hub.freeze_panes = "A2"
            _protect(hub)
            _printable(hub)
        guide = wb.create_sheet(label(lang, "rv_guide"))
        self.guide_title = guide.title
        guide.column_dimensions["A"].width = 100
        _protect(guide)
        for name in (stamp.RUN, stamp.PERIOD, stamp.ASSIGNEE, stamp.ISSUED_AT):
            wb.custom_doc_props.append(StringProperty(name=name, value=_SLOT.format(name)))
        wb.properties.title = _SLOT.format("title")
        # the looks of the cells: locked and grey, or the editable decision and comment
        self.locked_top = cell_look(ws, fill=LOCKED_FILL, font=LOCKED_FONT, alignment=TOP)
        self.locked_wrap = cell_look(ws, fill=LOCKED_FILL, font=LOCKED_FONT, alignment=WRAP)
        self.editable = cell_look(ws, protection=Protection(locked=False), fill=EDITABLE_FILL,
                                  alignment=TOP)
        self.editable_wrap = cell_look(ws, protection=Protection(locked=False),
                                       fill=EDITABLE_FILL, alignment=WRAP)
        self.guide_heading = cell_look(ws, alignment=Alignment(wrap_text=True, vertical="top"),
                                       font=Font(bold=True, size=14))
        self.guide_line = cell_look(ws, alignment=Alignment(wrap_text=True, vertical="top"))
        self.review_looks = [self.editable if j == _DECISION else
                             self.editable_wrap if j == _COMMENT else
                             self.locked_wrap if j in _REVIEW_WRAP else self.locked_top
                             for j in range(len(REVIEW_KEYS))]
        self.rejection_looks = [self.locked_wrap if j in _REJECTION_WRAP else self.locked_top
                                for j in range(len(REJECTION_KEYS))]
        self.skeleton = Skeleton(wb)
        self._custom = self.skeleton.part_text("docProps/custom.xml")
        self._core = self.skeleton.part_text("docProps/core.xml")
        hf = HeaderFooter()
        hf.oddHeader.left.text = _SLOT.format("header")
        self._header_footer = header_footer_xml(hf)
        self._dropdowns: dict[int, str] = {}
        self.measure = _Measure()

    def dropdown(self, n: int) -> str:
        """The dataValidations element of the decision column's dropdown over `n` rows."""
        xml = self._dropdowns.get(n)
        if xml is None:
            dv = DataValidation(type="list", formula1=f'"{self.decisions}"', allow_blank=True,
                                showErrorMessage=True, errorTitle=label(self.lang, "rv_dv_title"),
                                error=label(self.lang, "rv_dv_error", items=self.decisions))
            dv.add(f"{_DECISION_COLUMN}2:{_DECISION_COLUMN}{n + 1}")
            xml = self._dropdowns[n] = dropdowns_xml([dv])
        return xml

    def reviews(self, values: list[list], header_footer: str) -> SheetFill:
        n, ncols = len(values), len(self.review_titles)
        widths, heights = _layout(self.review_titles, values, _REVIEW_WIDEST,
                                  {0: 12, _DECISION: 10, _COMMENT: 20}, _REVIEW_WRAP,
                                  self.measure)
        return SheetFill(styled_rows(values, self.review_looks, heights=heights),
                         ncols, n + 1, widths=widths,
                         auto_filter=f"A1:{get_column_letter(ncols)}{max(n + 1, 2)}",
                         dropdowns=self.dropdown(n) if n else "", header_footer=header_footer)

    def rejections(self, values: list[list]) -> SheetFill:
        ncols = len(self.rejection_titles)
        widths, heights = _layout(self.rejection_titles, values, _REJECTION_WIDEST, {0: 12},
                                  _REJECTION_WRAP, self.measure)
        return SheetFill(styled_rows(values, self.rejection_looks, heights=heights),
                         ncols, len(values) + 1, widths=widths,
                         auto_filter=f"A1:{get_column_letter(ncols)}{max(len(values) + 1, 2)}")

    def hub(self, values: list[list]) -> SheetFill:
        ncols = len(self.hub_titles)
        widths, _ = _layout(self.hub_titles, values, {}, {5: 10, 6: 10}, (), self.measure)
        return SheetFill(styled_rows(values, [self.locked_top] * ncols), ncols,
                         len(values) + 1, widths=widths,
                         auto_filter=f"A1:{get_column_letter(ncols)}{max(len(values) + 1, 2)}")

    def guide(self, lines: list[str]) -> SheetFill:
        rows = (styled_rows([lines[:1]], [self.guide_heading], first_row=1)
                + styled_rows([[text] for text in lines[1:]], [self.guide_line], first_row=2))
        return SheetFill(rows, 1, len(lines))

    def header_footer(self, left: str, right: str) -> str:
        """The printed page's header (`print_header` texts, without control characters): the
        title on the left, the stamp and page on the right, as openpyxl writes them
        (HeaderFooterItem: its long codes such as `&[Page]` shortened)."""
        text = _HEADER_CODES.sub(lambda m: _HEADER_CODE[m.group(0)], f"&L{left}&R{right}")
        return self._header_footer.replace("&amp;L" + _SLOT.format("header"), escape(text))

    def properties(self, title: str, stamped: dict[str, str]) -> dict[str, str]:
        """The file's own docProps: its title and its stamp (importers/stamp.py reads it)."""
        custom = self._custom
        for name, value in stamped.items():
            value = clean_text(value)
            slot = _SLOT.format(name)
            # as openpyxl writes it: an empty property is an empty element, and text with
            # space at an edge keeps it (openpyxl.xml.functions.whitespace)
            stripped = value.strip()
            element = ("<vt:lpwstr />" if not value else
                       f'<vt:lpwstr xml:space="preserve">{escape(value)}</vt:lpwstr>'
                       if stripped and stripped != value else
                       f"<vt:lpwstr>{escape(value)}</vt:lpwstr>")
            custom = custom.replace(f"<vt:lpwstr>{slot}</vt:lpwstr>", element)
        return {"docProps/custom.xml": custom,
                "docProps/core.xml": self._core.replace(_SLOT.format("title"),
                                                        escape(clean_text(title)))}


def write(out_dir: Path, period: str, rows: dict, stored: dict, lang: str = "zh",
          sheet_lang: str | None = None, *, issued_at: datetime | None = None,
          emails: dict[str, str] | None = None, only: str | None = None) -> list[Path]:
    """Write one workbook per assignee into `out_dir` (the `reviews` folder); returns them, HR's
    first. `issued_at`: the stamp's issue time (default: now) — take it before reading the
    decisions the workbooks show. `emails`: assignee id -> e-mail address (the desk's
    accounts), listed in HR.xlsx. `only`: write that assignee's workbook alone."""
    issued_at = (issued_at or datetime.now(timezone.utc)).astimezone(timezone.utc)
    items = _Items(stored, rows, lang, sheet_lang or lang)
    moved = moves.by_item(firing_facts.of(stored).deadline_tail)
    n_items, open_counts, n_rejections = _counts(stored["exceptions"], moved, items.status)
    assignees = _assignees(n_items, n_rejections)
    order = sorted(assignees, key=lambda a: (a != HR, a))
    stems = _stems(assignees)
    # the assignees' departments, for HR's list of workbooks, looked up in the Employees
    # columns (every employee's as a dict was a second table of the whole company, 5 MB at
    # 100,000 employees)
    dept_of = lookup(rows.get("Employees", ()), "employee_id", "dept_id")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    run_id = (stored.get("run") or {}).get("id")
    shown_run = "?" if run_id is None else run_id
    at = _minute(issued_at)
    stamp_line = label(lang, "rv_stamp", run=shown_run, at=at)
    printed_right = label(lang, "rv_print_right", run=shown_run, at=at)
    kinds: dict[tuple[bool, bool], _Kind] = {}
    written = []
    wanted = [a for a in order if only is None or a == only]
    for group in in_groups(wanted, lambda a: n_items[a] + (n_rejections if a == HR else 0),
                           GROUP_ITEMS):
        reviews, rejections = _items_of(group, stored["exceptions"], moved, lang)
        items.read_group(chain(rejections, *reviews.values()))
        for kind in kinds.values():         # its texts' widths: measured again if met again
            kind.measure.clear()
        for assignee in group:
            mine = [items.review_row(e, assignee) for e in reviews.pop(assignee, ())]
            theirs_rejections = rejections if assignee == HR else []
            key = (assignee == HR, bool(theirs_rejections))
            kind = kinds.get(key)
            if kind is None:
                kind = kinds[key] = _Kind(lang, *key)
            name = items.names.of_person(assignee, lang)
            title = label(lang, "rv_list_title", name=name or assignee, who=assignee,
                          period=period)
            n_open = open_counts[assignee]
            fills = {kind.reviews_title: kind.reviews(
                mine, kind.header_footer(print_header(title), printed_right))}
            if theirs_rejections:
                fills[kind.rejections_title] = kind.rejections(
                    [items.rejection_row(e) for e in theirs_rejections])
            if kind.hub_title is not None:
                names = items.names
                fills[kind.hub_title] = kind.hub(
                    [[a, names.of_person(a, lang),
                      names.departments.get(dept_of.get(a), "") if a != HR else "",
                      (emails or {}).get(a, ""), f"{stems[a]}.xlsx", n_items[a],
                      open_counts[a]] for a in order])
            counts = (label(lang, "rv_open_counts_hr", n=len(mine), open=n_open,
                            decided=len(mine) - n_open, j=len(theirs_rejections))
                      if assignee == HR else
                      label(lang, "rv_open_counts", n=len(mine), open=n_open,
                            decided=len(mine) - n_open))
            lines = [title, stamp_line, counts, label(lang, "rv_howto", period=period),
                     label(lang, "rv_howto_decided"), label(lang, "rv_meaning")]
            if theirs_rejections:
                lines.append(label(lang, "rv_rejections_howto"))
            if kind.hub_title is not None:
                lines.append(label(lang, "rv_hub_howto"))
            fills[kind.guide_title] = kind.guide(lines)
            stamped = {stamp.RUN: "" if run_id is None else str(run_id), stamp.PERIOD: period,
                       stamp.ASSIGNEE: assignee, stamp.ISSUED_AT: issued_at.isoformat()}
            written.append(kind.skeleton.write(out_dir / f"{stems[assignee]}.xlsx", fills,
                                               OWN_ZLIB_LEVEL, kind.properties(title, stamped)))
    return written


def status_now(e: dict, current: dict | None) -> str:
    """A review item's status as of now: open | confirmed | overturned by its current
    decision (`current`: review id -> decision), or the run's own when the run carries no
    decisions (`current` None)."""
    if current is None:
        return e["status"]
    d = current.get(e["review_id"])
    return STATUS_OF.get(d["value"], "open") if d else "open"


def counts(stored: dict) -> tuple[int, int, int]:
    """(review items, of them open now, rejections) — for the command line's summary (the
    workbooks are counted as written)."""
    current = stored.get("current_decisions")
    n = n_open = rejections = 0
    for e in stored["exceptions"]:
        if e["type"] != "review":
            rejections += 1
            continue
        n += 1
        n_open += status_now(e, current) == "open"
    return n, n_open, rejections


def _assignees(n_items: Counter[str], n_rejections: int) -> set[str]:
    """Who gets a review workbook, from what each would list (`_counts`): the assignee of
    each review item, the earlier assignees of an item moved past its deadline (SPEC §11.4:
    their files list it too), and HR whenever anyone does or there is a rejection (HR's
    workbook lists them all)."""
    out = set(n_items)
    return out | {HR} if out or n_rejections else out


def _placements(exceptions, moved: dict):
    """(assignee, item, how it moved) for each review item in each workbook that lists it: its
    assignee's, and for an item moved past its deadline (`moved`: moves.by_item) the earlier
    assignees' too, how: ("from", the first) for its assignee, ("to", its assignee) for the
    others, else None; and (None, item, None) for each rejection (HR's workbook lists them)."""
    for e in exceptions:
        if e["type"] != "review":
            yield None, e, None
            continue
        steps = moved.get(e["review_id"])
        if not steps:
            yield e["assignee_id"], e, None
            continue
        yield e["assignee_id"], e, ("from", steps[-1][0])
        for earlier in moves.earlier_assignees(steps):
            yield earlier, e, ("to", e["assignee_id"])


def _counts(exceptions, moved: dict, status) -> tuple[Counter[str], Counter[str], int]:
    """What each workbook counts, in a pass before any is written (they are written a group at
    a time, and HR's lists them all): assignee -> its items; assignee -> of them open, by
    `status(item)`; and the rejections."""
    n_items: Counter[str] = Counter()
    open_counts: Counter[str] = Counter()
    n_rejections = 0
    for assignee, e, _ in _placements(exceptions, moved):
        if assignee is None:
            n_rejections += 1
        else:
            n_items[assignee] += 1
            open_counts[assignee] += status(e) == "open"
    return n_items, open_counts, n_rejections


# review items held at a time by `write`: the workbooks are written a group of assignees at a
# time, each group's items gathered in a pass over the run's exceptions (on a file: all of them
# held by assignee were 40 MB at 100,000 employees), and the ledger rows they cite read in a
# pass over the rating and behaviour files (all of them, with their lines and the texts'
# widths, another 40 MB)
GROUP_ITEMS = 4_096


def in_groups(keys, size, limit: int) -> Iterator[list]:
    """`keys` in order, in consecutive groups of at most `limit` between them by `size(key)` —
    one bigger than that is a group of its own: what a writer holds a group at a time (the
    review workbooks by assignee, the feedback workbooks by rated department)."""
    group: list = []
    total = 0
    for key in keys:
        n = size(key)
        if group and total + n > limit:
            yield group
            group, total = [], 0
        group.append(key)
        total += n
    if group:
        yield group


def _items_of(group: list[str], exceptions, moved: dict, lang: str
              ) -> tuple[dict[str, list[dict]], list[dict]]:
    """(assignee -> the items of their workbook, in the run's order, for each of `group`; the
    rejections, when HR is in it). An item moved past its deadline is a copy of it with its
    `moved_note`."""
    wanted = set(group)
    reviews: dict[str, list[dict]] = defaultdict(list)
    rejections: list[dict] = []
    for assignee, e, how in _placements(exceptions, moved):
        if assignee is None:
            if HR in wanted:
                rejections.append(e)
        elif assignee in wanted:
            reviews[assignee].append(e if how is None else
                                     dict(e, moved_note=moves.note(lang, *how)))
    return reviews, rejections

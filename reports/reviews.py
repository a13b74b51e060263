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

from evaluator.evaluate import describe
from importers.schema import ENUM_ZH, SHEET_BY_NAME
from reports.labels import cited_values, label, ref
from reports.statement import fit_columns, header
from reports.xlsx import put_text
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


def _context(e: dict, index: dict, lang: str, sheet_lang: str) -> list:
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


def _write_reviews_sheet(ws, items: list[dict], assignee: str, index, lang, sheet_lang) -> None:
    titles = _decision_columns(lang) + _context_titles(lang)
    header(ws, titles)
    values = []
    for e in items:
        values.append([e["review_id"], None, assignee, None] + _context(e, index, lang, sheet_lang))
    n_ctx = len(titles)
    for i, v in enumerate(values, 2):
        for j, x in enumerate(v, 1):
            c = ws.cell(row=i, column=j)
            put_text(c, x)
            if j in (2, 4):                       # decision, comment: the only editable cells
                c.protection = Protection(locked=False)
                c.fill = EDITABLE_FILL
                c.alignment = TOP
            else:
                c.fill = LOCKED_FILL
                c.font = LOCKED_FONT
                c.alignment = WRAP if j >= 9 else TOP
    words = ENUM_ZH["decision"] if lang == "zh" else {"confirm": "confirm", "overturn": "overturn"}
    items_text = ",".join((words["confirm"], words["overturn"]))
    if values:
        dv = DataValidation(type="list", formula1=f'"{items_text}"', allow_blank=True,
                            showErrorMessage=True, errorTitle=label(lang, "rv_dv_title"),
                            error=label(lang, "rv_dv_error", items=items_text))
        dv.add(f"B2:B{len(values) + 1}")
        ws.data_validations.append(dv)
    fit_columns(ws, titles, values, maximum={3: 40, 9: 60, 10: 60})
    ws.column_dimensions["B"].width = max(ws.column_dimensions["B"].width, 12)
    ws.column_dimensions["D"].width = max(ws.column_dimensions["D"].width, 30)
    ws.freeze_panes = "B2"
    ws.auto_filter.ref = f"A1:{get_column_letter(n_ctx)}{max(len(values) + 1, 2)}"
    _protect(ws)


def _write_rejections_sheet(ws, items: list[dict], index, lang, sheet_lang) -> None:
    titles = [label(lang, "review_id")] + _context_titles(lang)
    header(ws, titles)
    values = [[e["review_id"]] + _context(e, index, lang, sheet_lang) for e in items]
    for i, v in enumerate(values, 2):
        for j, x in enumerate(v, 1):
            c = ws.cell(row=i, column=j)
            put_text(c, x)
            c.fill = LOCKED_FILL
            c.font = LOCKED_FONT
            c.alignment = WRAP if j >= 6 else TOP
    fit_columns(ws, titles, values, maximum={6: 60, 7: 60})
    ws.freeze_panes = "B2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(titles))}{max(len(values) + 1, 2)}"
    _protect(ws)


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


def _write_guide(ws, lang: str, assignee: str, period: str, n_reviews: int,
                 n_rejections: int) -> None:
    lines = [label(lang, "rv_title", who=assignee, period=period),
             label(lang, "rv_counts", r=n_reviews, j=n_rejections),
             label(lang, "rv_howto", period=period),
             label(lang, "rv_meaning")]
    if n_rejections:
        lines.append(label(lang, "rv_rejections_howto"))
    for i, text in enumerate(lines, 1):
        c = ws.cell(row=i, column=1)
        put_text(c, text)
        c.alignment = Alignment(wrap_text=True, vertical="top")
    ws["A1"].font = Font(bold=True, size=14)
    ws.column_dimensions["A"].width = 100
    _protect(ws)


def write(out_dir: Path, period: str, rows: dict, stored: dict, lang: str = "zh",
          sheet_lang: str | None = None) -> list[Path]:
    """Write one workbook per assignee into `out_dir` (the `reviews` folder); returns them."""
    sl = sheet_lang or lang
    index = {(sheet, r["row"]): r for sheet, lst in rows.items() for r in lst}
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
    written = []
    for assignee in sorted(assignees, key=lambda a: (a != HR, a)):
        mine = reviews.get(assignee, [])
        theirs_rejections = rejections if assignee == HR else []
        wb = Workbook()
        ws = wb.active
        ws.title = _sheet_title(lang)
        _write_reviews_sheet(ws, mine, assignee, index, lang, sl)
        if theirs_rejections:
            _write_rejections_sheet(wb.create_sheet(label(lang, "rv_rejections")),
                                    theirs_rejections, index, lang, sl)
        _write_guide(wb.create_sheet(label(lang, "rv_guide")), lang, assignee, period, len(mine),
                     len(theirs_rejections))
        path = out_dir / f"{stems[assignee]}.xlsx"
        wb.save(path)
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


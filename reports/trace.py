"""trace.xlsx and trace.html (SPEC §8): for auditors, every rule firing of a run in order.

Each firing shows its seq, rule id and one-line description (Chinese or English), the
mechanism and subject, its source rows as `Sheet!row` with the values it cited from the ledger,
and what it produced: an adjustment (points and the arithmetic), an exception (kind,
review_id, status, assignee, message) or a note. Around the firings: the run's hashes (ledger
file, effective policy, rules version, program version), the audit chain's verification status,
the ledger rows cited (each once) and why each department's mechanisms did or did not apply.

Sheet names in references are the ledger's own (its header language, SPEC §7); labels are in
the report's language.

trace.xlsx is streamed: each firing's row is made as the sheet's XML is written (BulkWriter with
a renderer of its own), so memory holds one text per cited ledger row, not a row per firing.
One sheet holds 1,048,576 rows: more firings (a 100,000-employee month fires 2.7 million
rules) continue on 规则触发 (2) / Firings (2), … with the header repeated, and the Run sheet
says how they were split; the same for a Sources sheet that would overflow.

trace.html is one file with no network access at all: inline CSS and JS, pinned by hash in a
Content-Security-Policy that forbids everything else, the data embedded as JSON (escaped so no
ledger text can close the script element) and rendered a page at a time by the script, only
through `textContent` — a ledger comment such as `<img src=x onerror=…>` shows as text.
"""
from __future__ import annotations

import base64
import hashlib
import html
import json
from dataclasses import dataclass
from decimal import Decimal
from itertools import islice
from pathlib import Path

from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from rules.books import describe
from reports import why_not
from reports.labels import (MECHANISMS, SHEET_ORDER, cited_values, firing_mechanism, label,
                            sheet_name)
from reports.statement import (NUMBER_FORMAT, WIDTH_SAMPLE_ROWS, FormattedBulkWriter, fit_columns,
                               header, run_info, run_sheet, save)
from reports.xlsx import PLAIN_CLOSE, PLAIN_OPEN, CellXml, is_plain_text, put_text

CELL_LIMIT = 32_000           # Excel holds 32,767 characters in a cell
CITED_IN_ROW = 5              # cited values shown beside a firing; the Sources sheet has all


@dataclass
class TraceRow:
    seq: int
    rule: str
    description: str
    mechanism: str
    subject: str
    sources: list[tuple[str, int]]
    result: str               # adjustment | exception | note | none
    points: Decimal | None
    kind: str
    review_id: str
    status: str
    assignee: str
    explanation: str


def _describe(rule: str, lang: str) -> str:
    try:
        zh, en = describe(rule)
    except KeyError:
        return ""
    return zh if lang == "zh" else en


def trace_rows(stored: dict, lang: str) -> list[TraceRow]:
    """The firings joined with what they produced (adjustments and exceptions by firing seq)."""
    adj_by_seq: dict[int, list[dict]] = {}
    for a in stored["adjustments"]:
        adj_by_seq.setdefault(a["firing_seq"], []).append(a)
    exc_by_seq: dict[int, list[dict]] = {}
    for e in stored["exceptions"]:
        exc_by_seq.setdefault(e["firing_seq"], []).append(e)
    descriptions: dict[str, str] = {}
    out = []
    for f in stored["firings"]:
        rule = f["rule"]
        if rule not in descriptions:
            descriptions[rule] = _describe(rule, lang)
        adjs, excs = adj_by_seq.get(f["seq"], []), exc_by_seq.get(f["seq"], [])
        notes = [o["note"] for o in f["outcome"].get("outcomes", []) if "note" in o]
        points = None
        kind = review_id = status = assignee = ""
        texts = []
        if adjs:
            result = "adjustment"
            points = sum((a["points"] for a in adjs), Decimal("0.00"))
            texts += [a["explanation"] for a in adjs]
        elif excs:
            result = "exception"
        elif notes:
            result = "note"
        else:
            result = "none"
        if excs:
            kind = ", ".join(e["kind"] for e in excs)
            review_id = ", ".join(e["review_id"] for e in excs)
            status = ", ".join(label(lang, "to_fix") if e["type"] == "rejection"
                               else label(lang, e["status"]) for e in excs)
            assignee = ", ".join(e["assignee_id"] for e in excs)
            texts += [e["message"] for e in excs]
        texts += notes
        out.append(TraceRow(f["seq"], rule, descriptions[rule],
                            firing_mechanism(rule, f["sources"]), f["subject_id"] or "",
                            [tuple(s) for s in f["sources"]], result, points, kind, review_id,
                            status, assignee, " | ".join(texts)))
    return out


def cited_rows(rows: dict, trace: list[TraceRow]) -> list[tuple[str, int, dict | None]]:
    """Every ledger row some firing cites, once, in sheet order then row order."""
    index = {(sheet, r["row"]): r for sheet, lst in rows.items() for r in lst}
    keys = {s for t in trace for s in t.sources}
    return [(s, r, index.get((s, r)))
            for s, r in sorted(keys, key=lambda k: (SHEET_ORDER.get(k[0], 99), k[0], k[1]))]


def _clip(text: str, limit: int = CELL_LIMIT) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _why_not_rows(rows: dict, stored: dict, lang: str) -> list[list[str]]:
    names = {d["dept_id"]: d["name"] for d in rows.get("Departments", [])}
    out = []
    for dept, reasons in sorted(why_not.department_reasons(rows, stored).items()):
        for r in reasons:
            out.append([dept, names.get(dept, ""), label(lang, r.mechanism),
                        label(lang, "yes" if r.applied else "no"), r.render(lang)])
    return out


def chain_text(lang: str, chain: dict | None) -> str:
    if not chain:
        return label(lang, "chain_unchecked")
    if chain["ok"]:
        return label(lang, "chain_ok", n=chain["checked"])
    return label(lang, "chain_bad", problem=chain["problem"])


def _info(period, stored, lang, ledger_file, chain) -> dict:
    extra = {"ledger_file": ledger_file, "chain_status": chain_text(lang, chain)}
    if chain and chain.get("head"):
        extra["chain_head"] = chain["head"]
    return run_info(period, stored, extra)


# ----------------------------------------------------------------------------- trace.xlsx

# Rows one xlsx sheet holds, its header included (Excel's limit; LibreOffice's too). A 100,000-
# employee month fires 2.7 million rules: the firings then continue on further sheets. A module
# constant so that a test can lower it.
SHEET_ROWS = 1_048_576
# zlib level of the streamed sheets. Measured on the 10,000-employee trace (265,914 firings, 181
# MB of Firings XML): compressing that XML takes 2.0 s at level 6 (zlib's default), 0.69 s at 3,
# 0.50 s at 1; the whole trace.xlsx is 15.7, 18.3 and 19.2 MB. Level 1 saves three quarters of
# the compression, a quarter of the trace's writing time now that the rows are cheap, for a
# file 22 % larger: the trace is written on every run and opened now and then by an auditor.
TRACE_ZLIB_LEVEL = 1
FIRING_KEYS = ("seq", "rule", "description", "mechanism", "subject", "sources", "cited", "result",
               "points", "kind", "review_id", "status", "assignee", "explanation")


def _pages(title: str, n: int) -> list[tuple[str, int, int]]:
    """(sheet title, first, stop) of the sheets `n` data rows need: `title`, then `title (2)`..."""
    per = SHEET_ROWS - 1
    pages = [(title, 0, min(n, per))]
    start = per
    while start < n:
        pages.append((f"{title} ({len(pages) + 1})", start, min(n, start + per)))
        start += per
    return pages


def _split_note(lang: str, pages: list[tuple[str, int, int]], n: int) -> str:
    return label(lang, "sheets_split", n=f"{n:,}", k=len(pages),
                 sheets=", ".join(t for t, _, _ in pages), per=f"{SHEET_ROWS - 1:,}")


class _Cited:
    """Each ledger row some firing cites, as the trace shows it: its reference (`周边评价!17`)
    and its line `周边评价!17: 评价编号=R1; …` (reference and `cited_values`), made once per row:
    a rating row is cited by three or four firings, and the Sources sheet lists it once more.
    Held for the whole trace: one pair of texts per cited ledger row, not per firing, with
    whether both go into their cells as they are (xlsx.is_plain_text, and not clipped)."""

    def __init__(self, rows: dict, lang: str):
        self.index = {(sheet, r["row"]): r for sheet, lst in rows.items() for r in lst}
        self.lang = lang
        self.lines: dict[tuple, tuple[str, str, bool]] = {}
        self.names: dict[str, str] = {}

    def __call__(self, sheet: str, row: int) -> tuple[str, str, bool]:
        key = (sheet, row)
        entry = self.lines.get(key)
        if entry is None:
            name = self.names.get(sheet)
            if name is None:
                name = self.names[sheet] = sheet_name(self.lang, sheet)
            ref_text = f"{name}!{row}"
            line = f"{ref_text}: {cited_values(self.lang, sheet, self.index.get(key))}"
            entry = self.lines[key] = (ref_text, line, len(line) <= CELL_LIMIT
                                       and is_plain_text(ref_text) and is_plain_text(line))
        return entry


class _Firings:
    """The Firings sheet: a row per firing, made as it is written (never a list of them).

    `values(f)` is a firing's row (the columns trace_rows gives). `xml` renders the rows for
    BulkWriter: most firings (one source, no adjustment or exception: 96 % of a big month)
    differ from others of their rule only in seq, subject and source, so their cells are built
    from tails made once (from `values` of the first such firing) and joined by the row number;
    every other firing is rendered from `values` the generic way."""

    def __init__(self, stored: dict, lang: str, cited_of: _Cited):
        self.adj_by_seq: dict[int, list[dict]] = {}
        for a in stored["adjustments"]:
            self.adj_by_seq.setdefault(a["firing_seq"], []).append(a)
        self.exc_by_seq: dict[int, list[dict]] = {}
        for e in stored["exceptions"]:
            self.exc_by_seq.setdefault(e["firing_seq"], []).append(e)
        self.lang, self.cited_of = lang, cited_of
        # (rule, first source's sheet) -> description, mechanism
        self.by_rule: dict[tuple, tuple[str, str]] = {}
        self.results = {k: label(lang, k) for k in ("adjustment", "exception", "note", "none")}
        self.to_fix = label(lang, "to_fix")
        self.statuses: dict[str, str] = {}

    def values(self, f: dict) -> tuple:
        lang, lines, line_of = self.lang, self.cited_of.lines, self.cited_of
        seq, rule, sources = f["seq"], f["rule"], f["sources"]
        if len(sources) == 1:
            (s, r), = sources
            refs, cited, _ = lines.get((s, r)) or line_of(s, r)
        else:
            s = sources[0][0] if sources else None
            pairs = [lines.get((x, r)) or line_of(x, r) for x, r in sources]
            refs = "; ".join(p[0] for p in pairs)
            cited = "\n".join(p[1] for p in pairs[:CITED_IN_ROW])
            if len(sources) > CITED_IN_ROW:
                cited += "\n… " + label(lang, "more", n=len(sources) - CITED_IN_ROW)
        described = self.by_rule.get((rule, s))
        if described is None:
            described = self.by_rule[(rule, s)] = (_describe(rule, lang),
                                                   label(lang, firing_mechanism(rule, sources)))
        outcomes = f["outcome"].get("outcomes")
        notes = [o["note"] for o in outcomes if "note" in o] if outcomes else []
        adjs, excs = self.adj_by_seq.get(seq), self.exc_by_seq.get(seq)
        points = None
        kind = review_id = status = assignee = ""
        texts = []
        if adjs:
            result = self.results["adjustment"]
            points = sum((a["points"] for a in adjs), Decimal("0.00"))
            texts += [a["explanation"] for a in adjs]
        else:
            result = self.results["exception" if excs else "note" if notes else "none"]
        if excs:
            kind = ", ".join(e["kind"] for e in excs)
            review_id = ", ".join(e["review_id"] for e in excs)
            shown = []
            for e in excs:
                if e["type"] == "rejection":
                    shown.append(self.to_fix)
                else:
                    word = self.statuses.get(e["status"])
                    if word is None:
                        word = self.statuses[e["status"]] = label(lang, e["status"])
                    shown.append(word)
            status = ", ".join(shown)
            assignee = ", ".join(e["assignee_id"] for e in excs)
            texts += [e["message"] for e in excs]
        texts += notes
        return (seq, rule, described[0], described[1], f["subject_id"] or "", _clip(refs),
                _clip(cited), result, points, kind, review_id, status, assignee,
                _clip(" | ".join(texts)))

    def xml(self, firings, first_row: int, cells: CellXml):
        """BulkWriter's renderer: the `<row>` of each firing (the generic rendering's bytes)."""
        text, unique, values, row_xml = cells.text, cells.unique_text, self.values, cells.row
        lines, line_of = self.cited_of.lines, self.cited_of
        special = self.adj_by_seq.keys() | self.exc_by_seq.keys()
        # (rule, sheet, notes) -> pieces of columns B-D and H-N
        shapes: dict[tuple, tuple[list[str], list[str]]] = {}
        memo = cells.memo
        po, pc = PLAIN_OPEN, PLAIN_CLOSE
        int_, str_, tuple_ = int, str, tuple
        for r, f in enumerate(firings, first_row):
            seq, rule, sources = f["seq"], f["rule"], f["sources"]
            subject = f["subject_id"] or ""
            if (len(sources) != 1 or seq in special or type(seq) is not int_
                    or type(rule) is not str_ or type(subject) is not str_
                    or type(sources[0]) is not tuple_):
                yield row_xml(values(f), r)
                continue
            src = sources[0]
            s, row = src
            outcomes = f["outcome"].get("outcomes")
            if not outcomes:
                notes = ()
            elif len(outcomes) == 1 and type(outcomes) is list:   # the usual one note or flag
                o = outcomes[0]
                notes = (o["note"],) if "note" in o else ()
            else:
                notes = tuple([o["note"] for o in outcomes if "note" in o])
            shape = shapes.get((rule, s, notes))
            if shape is None:
                v = values(f)
                shape = shapes[(rule, s, notes)] = (
                    _pieces(("B", text(v[1])), ("C", text(v[2])), ("D", text(v[3]))),
                    _pieces(("H", text(v[7])), ("N", text(v[13]))))
            refs, cited, plain = lines.get(src) or line_of(s, row)    # as values(f) has them
            rs = str(r)
            if plain:
                fg = f'<c r="F{rs}{po}{refs}{pc}<c r="G{rs}{po}{cited}{pc}'
            else:
                ft, gt = unique(_clip(refs)), unique(_clip(cited))
                fg = (f'<c r="F{rs}{ft}' if ft else "") + (f'<c r="G{rs}{gt}' if gt else "")
            e = memo.get(subject)
            if e is None:
                e = text(subject)
            yield (f'<row r="{rs}"><c r="A{rs}"><v>{seq}</v></c>{rs.join(shape[0])}'
                   + (f'<c r="E{rs}{e}' if e else "") + fg + rs.join(shape[1]) + "</row>")


def _pieces(*cells: tuple[str, str]) -> list[str]:
    """Pieces p of cells [(column letter, tail)] such that row_number.join(p) is their XML in
    that row (an empty tail leaves its cell out)."""
    pieces = [""]
    for col, tail in cells:
        if tail:
            pieces[-1] += f'<c r="{col}'
            pieces.append(tail)
    return pieces


def _cited_keys(firings) -> list[tuple[str, int]]:
    """Every (sheet, row) some firing cites, once, in sheet order then row order."""
    keys: set = set()
    for f in firings:
        try:
            keys.update(f["sources"])
        except TypeError:                       # sources as lists, not tuples
            keys.update(map(tuple, f["sources"]))
    by_sheet: dict[str, list[int]] = {}
    for s, r in keys:
        by_sheet.setdefault(s, []).append(r)
    out = []
    for s in sorted(by_sheet, key=lambda s: (SHEET_ORDER.get(s, 99), s)):
        out += [(s, r) for r in sorted(by_sheet[s])]
    return out


def _source_values(keys, cited_of: _Cited):
    """The Sources sheet's rows: reference, sheet, row and cited values of each cited row."""
    names = cited_of.names
    for s, r in keys:
        ref_text, line, _ = cited_of(s, r)
        yield (ref_text, names[s], r, _clip(line[len(ref_text) + 2:]))


def _source_xml(cited_of: _Cited):
    """BulkWriter's renderer of the Sources sheet, straight from the cited keys (as
    _Firings.xml does for the firings)."""
    def xml(keys, first_row: int, cells: CellXml):
        text, unique = cells.text, cells.unique_text
        for r, v in enumerate(_source_values(keys, cited_of), first_row):
            ref_text, sheet, row, cited = v
            if type(ref_text) is not str or type(sheet) is not str or type(row) is not int:
                yield cells.row(v, r)
                continue
            rs = str(r)
            a, b, d = unique(ref_text), text(sheet), unique(cited)
            yield (f'<row r="{rs}">' + (f'<c r="A{rs}{a}' if a else "")
                   + (f'<c r="B{rs}{b}' if b else "") + f'<c r="C{rs}"><v>{row}</v></c>'
                   + (f'<c r="D{rs}{d}' if d else "") + "</row>")
    return xml


def _paged_sheets(wb, bulk, pages, titles: list[str], rows_of, sample: list, fit: dict,
                  freeze: str, **add) -> None:
    """The sheets of `pages` (from _pages), each with the header, the widths fitted to `sample`
    (the first rows), frozen panes and a filter; `rows_of(first, stop)` yields the rows of one
    sheet, streamed at save time."""
    last = get_column_letter(len(titles))
    for title, first, stop in pages:
        ws = wb.create_sheet(title)
        header(ws, titles)
        fit_columns(ws, titles, sample, **fit)
        ws.freeze_panes = freeze
        ws.auto_filter.ref = f"A1:{last}{max(stop - first + 1, 2)}"
        bulk.add_rows(ws, rows_of(first, stop), ncols=len(titles), count=stop - first, **add)


def write_xlsx(path: Path, period: str, rows: dict, stored: dict, lang: str = "zh",
               sheet_lang: str | None = None, ledger_file: str | None = None,
               chain: dict | None = None) -> Path:
    """chain: {"ok", "checked", "problem", "head"} from the audit chain's verification.

    The firings and the cited rows are streamed into the sheets' XML as the file is written;
    what is held meanwhile is one text per cited ledger row, never a row per firing."""
    sl = sheet_lang or lang
    firings = stored["firings"]
    n = len(firings)
    cited_of = _Cited(rows, sl)
    keys = _cited_keys(firings)
    pages = _pages(label(lang, "tr_firings"), n)
    spages = _pages(label(lang, "tr_sources"), len(keys))
    wb = Workbook()
    bulk = FormattedBulkWriter(wb, compresslevel=TRACE_ZLIB_LEVEL)

    ws = wb.active
    ws.title = label(lang, "tr_run")
    info = _info(period, stored, lang, ledger_file, chain)
    if len(pages) > 1:
        info["firings_sheets"] = _split_note(lang, pages, n)
    if len(spages) > 1:
        info["sources_sheets"] = _split_note(lang, spages, len(keys))
    run_sheet(ws, lang, info)

    table = _Firings(stored, lang, cited_of)
    _paged_sheets(
        wb, bulk, pages, [label(lang, k) for k in FIRING_KEYS],
        lambda first, stop: islice(firings, first, stop),
        [table.values(f) for f in islice(firings, WIDTH_SAMPLE_ROWS)],
        dict(maximum={5: 40, 6: 60, 13: 60}, number_cols=(0, 8)), "C2",
        formats={"I": NUMBER_FORMAT}, render=table.xml)
    _paged_sheets(
        wb, bulk, spages, [label(lang, k) for k in ("sources", "sheet", "row", "values")],
        lambda first, stop: islice(keys, first, stop),
        list(islice(_source_values(keys, cited_of), WIDTH_SAMPLE_ROWS)),
        dict(maximum={3: 100}), "A2", render=_source_xml(cited_of))

    ws2 = wb.create_sheet(label(lang, "tr_why_not"))
    wtitles = [label(lang, k) for k in ("dept_id", "dept_name", "mechanism", "applied", "reason")]
    header(ws2, wtitles)
    wvalues = _why_not_rows(rows, stored, lang)
    for i, v in enumerate(wvalues, 2):
        for j, x in enumerate(v, 1):
            put_text(ws2.cell(row=i, column=j), x)
    ws2.freeze_panes = "C2"
    ws2.auto_filter.ref = f"A1:E{max(len(wvalues) + 1, 2)}"
    fit_columns(ws2, wtitles, wvalues, maximum={4: 80})

    return save(bulk, path)


# ----------------------------------------------------------------------------- trace.html

def _json_for_script(obj) -> str:
    """JSON that cannot end the <script> element it sits in, whatever the ledger holds."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def html_payload(period: str, rows: dict, stored: dict, lang: str, sheet_lang: str,
                 ledger_file: str | None, chain: dict | None) -> dict:
    trace = trace_rows(stored, lang)
    sheets: list[str] = []
    sheet_idx: dict[str, int] = {}
    rules: list[str] = []
    rule_idx: dict[str, int] = {}
    results = ("adjustment", "exception", "note", "none")
    firings = []
    for t in trace:
        if t.rule not in rule_idx:
            rule_idx[t.rule] = len(rules)
            rules.append(t.rule)
        flat = []
        for s, r in t.sources:
            if s not in sheet_idx:
                sheet_idx[s] = len(sheets)
                sheets.append(s)
            flat += [sheet_idx[s], r]
        firings.append([t.seq, rule_idx[t.rule], MECHANISMS.index(t.mechanism), t.subject, flat,
                        results.index(t.result),
                        None if t.points is None else f"{t.points:.2f}",
                        t.kind, t.review_id, t.status, t.assignee, t.explanation])
    sources = [[sheet_idx[s], r, cited_values(sheet_lang, s, row)]
               for s, r, row in cited_rows(rows, trace)]
    info = _info(period, stored, lang, ledger_file, chain)
    ui_keys = ("tr_title", "tr_run", "tr_firings", "tr_sources", "tr_why_not", "seq", "rule",
               "description", "mechanism", "subject", "sources", "cited", "result", "points",
               "kind", "review_id", "status", "assignee", "explanation", "sheet", "row", "values",
               "exception",
               "dept_id", "dept_name", "applied", "reason", "item", "value",
               "ui_filter_subject", "ui_filter_rule", "ui_filter_mechanism", "ui_filter_sheet",
               "ui_filter_result", "ui_all", "ui_clear", "ui_prev", "ui_next", "ui_page",
               "ui_shown", "ui_sources_shown", "ui_cited_by", "ui_no_rows")
    return {
        "lang": lang,
        "period": period,
        "labels": {k: label(lang, k) for k in ui_keys},
        "mechanisms": [[m, label(lang, m)] for m in MECHANISMS],
        "results": [label(lang, r) for r in results],
        "rules": [[r, _describe(r, lang)] for r in rules],
        "sheets": [sheet_name(sheet_lang, s) for s in sheets],
        "run": [[label(lang, k), "" if v is None else str(v), _run_class(k, chain)]
                for k, v in info.items()],
        "firings": firings,
        "sources": sources,
        "why_not": _why_not_rows(rows, stored, lang),
    }


_MONO = {"file_sha256", "policy_sha256", "rules_version", "decisions_digest", "chain_head"}


def _run_class(key: str, chain: dict | None) -> str:
    if key == "chain_status":
        return "ok" if chain and chain.get("ok") else "bad"
    return "mono" if key in _MONO else ""


def write_html(path: Path, period: str, rows: dict, stored: dict, lang: str = "zh",
               sheet_lang: str | None = None, ledger_file: str | None = None,
               chain: dict | None = None) -> Path:
    payload = html_payload(period, rows, stored, lang, sheet_lang or lang, ledger_file, chain)
    title = f"{label(lang, 'tr_title')} · {period}"
    csp = (f"default-src 'none'; script-src {_csp_hash(_SCRIPT)}; style-src {_csp_hash(_STYLE)}; "
           "img-src 'none'; connect-src 'none'; font-src 'none'; base-uri 'none'; "
           "form-action 'none'")
    page = (
        "<!DOCTYPE html>\n"
        f'<html lang="{"zh-CN" if lang == "zh" else "en"}">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">\n'
        '<meta name="referrer" content="no-referrer">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n"
        f"<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{html.escape(title)}</h1>\n"
        '<section id="run"></section>\n'
        '<section id="firings"></section>\n'
        '<section id="whynot"></section>\n'
        '<section id="sources"></section>\n'
        f'<script type="application/json" id="data">{_json_for_script(payload)}</script>\n'
        f"<script>{_SCRIPT}</script>\n</body>\n</html>\n")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


_STYLE = """
body{font-family:"Noto Sans CJK SC","WenQuanYi Micro Hei","Microsoft YaHei","PingFang SC",
 system-ui,sans-serif;margin:16px 20px;color:#1f2937;font-size:13px}
h1{font-size:20px;margin:0 0 12px}h2{font-size:16px;margin:22px 0 8px;color:#1f3864}
table{border-collapse:collapse;width:100%}
th,td{border:1px solid #d1d5db;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#305496;color:#fff;font-weight:600;position:sticky;top:0}
tr:nth-child(even) td{background:#f8fafc}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.neg{color:#b91c1c}td.pos{color:#15803d}
td.cited{font-size:12px;color:#374151}
td.cited div{white-space:pre-wrap;word-break:break-all}
table.kv{width:auto}table.kv td.k{font-weight:600;background:#eef2f7;white-space:nowrap}
table.fir{table-layout:fixed;min-width:1180px}
table.fir td{overflow-wrap:anywhere}
col.c-seq{width:52px}col.c-rule{width:190px}col.c-mech{width:64px}col.c-subj{width:70px}
col.c-src{width:130px}col.c-cited{width:320px}col.c-res{width:48px}col.c-pts{width:62px}
col.c-exc{width:150px}
.desc{color:#4b5563;font-size:12px}.rid{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:12px}
.mono{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:12px}
.ok{color:#15803d;font-weight:600}.bad{color:#b91c1c;font-weight:700}
.bar{display:flex;flex-wrap:wrap;gap:8px;align-items:end;margin:6px 0 8px}
.bar label{display:flex;flex-direction:column;font-size:12px;color:#4b5563}
.bar input,.bar select{font:inherit;padding:2px 4px;min-width:120px;max-width:280px}
.bar button{font:inherit;padding:3px 10px}
.pager{display:flex;gap:10px;align-items:center;margin:6px 0}
.count{color:#4b5563;margin-left:auto}
a{color:#1d4ed8}tr.hl td{background:#fef3c7 !important}
.res-adjustment{color:#1d4ed8}.res-exception{color:#b45309;font-weight:600}.res-note,.res-none{color:#6b7280}
.chip{display:inline-block;background:#e0e7ff;border-radius:10px;padding:1px 8px;margin-left:6px;cursor:pointer}
.chip[hidden]{display:none}
button.more{font-size:11px;padding:0 6px;margin-left:4px}
"""

_SCRIPT = r"""
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("data").textContent);
  var L = D.labels, PAGE = 100;
  var F = D.firings;          // [seq, rule, mech, subject, [sheet,row,...], result, points, kind, review_id, status, assignee, text]
  var S = D.sources;          // [sheet, row, cited]
  var srcPos = {};
  for (var i = 0; i < S.length; i++) srcPos[S[i][0] + ":" + S[i][1]] = i;
  var state = {subject: "", rule: "", mech: "", sheet: "", result: "", src: "", page: 0};
  var srcState = {sheet: "", page: 0, hl: ""};

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function fmt(s, o) {
    return s.replace(/\{(\w+)\}/g, function (m, k) {
      return typeof o[k] === "number" ? String(o[k]).replace(/\B(?=(\d{3})+(?!\d))/g, ",") : o[k];
    });
  }
  function refText(si, row) { return D.sheets[si] + "!" + row; }

  function readParams() {
    var text = location.search.slice(1);
    var h = location.hash.slice(1);
    if (h.indexOf("=") >= 0) text += "&" + h;
    text.split("&").forEach(function (kv) {
      if (!kv) return;
      var i = kv.indexOf("="), k = decodeURIComponent(i < 0 ? kv : kv.slice(0, i));
      var v = i < 0 ? "" : decodeURIComponent(kv.slice(i + 1).replace(/\+/g, " "));
      if (k === "mechanism") k = "mech";
      if (k in state && k !== "page") state[k] = v;
    });
  }

  // ---- run
  function renderRun() {
    var sec = document.getElementById("run");
    sec.appendChild(el("h2", L.tr_run));
    var t = el("table", null, "kv"), tr = null;
    D.run.forEach(function (kv, i) {
      if (i % 2 === 0) { tr = el("tr"); t.appendChild(tr); }
      tr.appendChild(el("td", kv[0], "k"));
      tr.appendChild(el("td", kv[1], kv[2]));
    });
    sec.appendChild(t);
  }

  // ---- firings
  var bar, tbody, countEl, pageEl, filtered = [];
  function option(sel, value, text) { var o = el("option", text); o.value = value; sel.appendChild(o); }
  function control(name, node) { var l = el("label", name); l.appendChild(node); bar.appendChild(l); return node; }
  var inSubject, selRule, selMech, selSheet, selResult, chip;

  function renderFiringsFrame() {
    var sec = document.getElementById("firings");
    sec.appendChild(el("h2", L.tr_firings));
    bar = el("div", null, "bar");
    inSubject = control(L.ui_filter_subject, el("input"));
    inSubject.id = "f-subject";
    selRule = control(L.ui_filter_rule, el("select"));
    selRule.id = "f-rule";
    option(selRule, "", L.ui_all);
    D.rules.map(function (r) { return r; }).sort(function (a, b) { return a[0] < b[0] ? -1 : 1; })
      .forEach(function (r) { option(selRule, r[0], r[0] + " — " + r[1]); });
    selMech = control(L.ui_filter_mechanism, el("select"));
    selMech.id = "f-mechanism";
    option(selMech, "", L.ui_all);
    D.mechanisms.forEach(function (m) { option(selMech, m[0], m[1]); });
    selSheet = control(L.ui_filter_sheet, el("select"));
    selSheet.id = "f-sheet";
    option(selSheet, "", L.ui_all);
    D.sheets.forEach(function (s) { option(selSheet, s, s); });
    selResult = control(L.ui_filter_result, el("select"));
    selResult.id = "f-result";
    option(selResult, "", L.ui_all);
    D.results.forEach(function (r, i) { option(selResult, String(i), r); });
    var clear = el("button", L.ui_clear);
    clear.type = "button";
    bar.appendChild(clear);
    chip = el("span", "", "chip");
    chip.hidden = true;
    chip.addEventListener("click", function () { state.src = ""; state.page = 0; apply(); });
    bar.appendChild(chip);
    sec.appendChild(bar);
    sec.appendChild(pager("f"));
    var table = el("table", null, "fir");
    table.id = "firing-table";
    var cols = el("colgroup");
    ["seq", "rule", "mech", "subj", "src", "cited", "res", "pts", "exc", "expl"].forEach(function (c) {
      cols.appendChild(el("col", null, "c-" + c));
    });
    table.appendChild(cols);
    var head = el("tr");
    ["seq", "rule", "mechanism", "subject", "sources", "cited", "result", "points", "exception",
     "explanation"].forEach(function (k) { head.appendChild(el("th", L[k])); });
    var thead = el("thead"); thead.appendChild(head); table.appendChild(thead);
    tbody = el("tbody"); table.appendChild(tbody);
    sec.appendChild(table);
    sec.appendChild(pager("f2"));

    inSubject.addEventListener("input", function () { state.subject = inSubject.value.trim(); state.page = 0; apply(); });
    selRule.addEventListener("change", function () { state.rule = selRule.value; state.page = 0; apply(); });
    selMech.addEventListener("change", function () { state.mech = selMech.value; state.page = 0; apply(); });
    selSheet.addEventListener("change", function () { state.sheet = selSheet.value; state.page = 0; apply(); });
    selResult.addEventListener("change", function () { state.result = selResult.value; state.page = 0; apply(); });
    clear.addEventListener("click", function () {
      state = {subject: "", rule: "", mech: "", sheet: "", result: "", src: "", page: 0};
      syncControls(); apply();
    });
  }

  var pagers = [];
  function pager(id) {
    var p = el("div", null, "pager");
    var prev = el("button", L.ui_prev), next = el("button", L.ui_next);
    prev.type = next.type = "button";
    var where = el("span"), count = el("span", "", "count");
    p.appendChild(prev); p.appendChild(where); p.appendChild(next); p.appendChild(count);
    prev.addEventListener("click", function () { if (state.page > 0) { state.page--; renderPage(); } });
    next.addEventListener("click", function () {
      if ((state.page + 1) * PAGE < filtered.length) { state.page++; renderPage(); }
    });
    pagers.push({where: where, count: count});
    return p;
  }

  function syncControls() {
    inSubject.value = state.subject;
    selRule.value = state.rule;
    selMech.value = state.mech;
    selSheet.value = state.sheet;
    selResult.value = state.result;
    chip.hidden = !state.src;
    if (state.src) {
      var p = state.src.split(":");
      chip.textContent = L.sources + ": " + refText(+p[0], p[1]) + " ✕";
    }
  }

  function apply() {
    var mech = -1, rule = -1, sheet = -1, result = state.result === "" ? -1 : +state.result;
    D.mechanisms.forEach(function (m, i) { if (m[0] === state.mech) mech = i; });
    D.rules.forEach(function (r, i) { if (r[0] === state.rule) rule = i; });
    D.sheets.forEach(function (s, i) { if (s === state.sheet) sheet = i; });
    var src = state.src ? state.src.split(":").map(Number) : null;
    filtered = [];
    for (var i = 0; i < F.length; i++) {
      var f = F[i];
      if (state.subject && f[3] !== state.subject) continue;
      if (state.rule && f[1] !== rule) continue;
      if (state.mech && f[2] !== mech) continue;
      if (result >= 0 && f[5] !== result) continue;
      if (state.sheet || src) {
        var hit = false, s = f[4];
        for (var j = 0; j < s.length; j += 2) {
          if (src ? (s[j] === src[0] && s[j + 1] === src[1]) : s[j] === sheet) { hit = true; break; }
        }
        if (!hit) continue;
      }
      filtered.push(i);
    }
    var parts = [];
    ["subject", "rule", "mech", "sheet", "result", "src"].forEach(function (k) {
      if (state[k]) parts.push((k === "mech" ? "mechanism" : k) + "=" + encodeURIComponent(state[k]));
    });
    if (history.replaceState && location.hash.indexOf("#src-") !== 0)
      history.replaceState(null, "", location.pathname + location.search + (parts.length ? "#" + parts.join("&") : ""));
    syncControls();
    renderPage();
  }

  var LINKS = 12;             // source links shown before a "+N" button
  function links(cell, s, from, to) {
    for (var j = from; j < to; j += 2) {
      var a = el("a", refText(s[j], s[j + 1]));
      a.href = "#src-" + s[j] + "-" + s[j + 1];
      if (j) cell.appendChild(document.createTextNode(" "));
      cell.appendChild(a);
    }
  }

  function renderPage() {
    var pages = Math.max(1, Math.ceil(filtered.length / PAGE));
    if (state.page >= pages) state.page = pages - 1;
    while (tbody.firstChild) tbody.removeChild(tbody.firstChild);
    var start = state.page * PAGE, end = Math.min(filtered.length, start + PAGE);
    if (!filtered.length) {
      var tr0 = el("tr"), td0 = el("td", L.ui_no_rows); td0.colSpan = 10; tr0.appendChild(td0); tbody.appendChild(tr0);
    }
    for (var n = start; n < end; n++) {
      var f = F[filtered[n]], tr = el("tr", null, "firing");
      tr.id = "f-" + f[0];
      tr.appendChild(el("td", f[0], "num"));
      var rule = el("td", null, "rule");
      rule.appendChild(el("div", D.rules[f[1]][0], "rid"));
      rule.appendChild(el("div", D.rules[f[1]][1], "desc"));
      tr.appendChild(rule);
      tr.appendChild(el("td", D.mechanisms[f[2]][1]));
      tr.appendChild(el("td", f[3], "subject"));
      var refs = el("td", null, "refs"), cited = el("td", null, "cited"), s = f[4];
      links(refs, s, 0, Math.min(s.length, 2 * LINKS));
      if (s.length > 2 * LINKS) {
        var more = el("button", "+" + (s.length / 2 - LINKS), "more");
        more.type = "button";
        (function (cell, list, button) {
          button.addEventListener("click", function () {
            cell.removeChild(button);
            links(cell, list, 2 * LINKS, list.length);
          });
        })(refs, s, more);
        refs.appendChild(more);
      }
      for (var j = 0; j < s.length; j += 2) {
        if (j < 10) {
          var pos = srcPos[s[j] + ":" + s[j + 1]];
          cited.appendChild(el("div", refText(s[j], s[j + 1]) + ": " + (pos === undefined ? "" : S[pos][2])));
        }
      }
      if (s.length > 10) cited.appendChild(el("div", "… +" + (s.length / 2 - 5)));
      tr.appendChild(refs);
      tr.appendChild(cited);
      tr.appendChild(el("td", D.results[f[5]], "res-" + ["adjustment", "exception", "note", "none"][f[5]]));
      var pts = el("td", f[6] === null ? "" : f[6], "num");
      if (f[6] !== null) pts.className += f[6].charAt(0) === "-" ? " neg" : (+f[6] > 0 ? " pos" : "");
      tr.appendChild(pts);
      var exc = el("td", null, "exc");
      [[7, L.kind], [8, L.review_id], [9, L.status], [10, L.assignee]].forEach(function (x) {
        if (f[x[0]]) exc.appendChild(el("div", (x[0] === 7 ? "" : x[1] + ": ") + f[x[0]], x[0] === 8 ? "rid" : ""));
      });
      tr.appendChild(exc);
      tr.appendChild(el("td", f[11]));
      tbody.appendChild(tr);
    }
    pagers.forEach(function (p) {
      p.where.textContent = fmt(L.ui_page, {p: state.page + 1, n: pages});
      p.count.textContent = fmt(L.ui_shown, {n: filtered.length, m: F.length});
    });
    var c = document.getElementById("firing-count");
    if (c) c.textContent = String(filtered.length);
  }

  // ---- why not
  function renderWhyNot() {
    var sec = document.getElementById("whynot");
    sec.appendChild(el("h2", L.tr_why_not));
    var t = el("table"), head = el("tr");
    ["dept_id", "dept_name", "mechanism", "applied", "reason"].forEach(function (k) { head.appendChild(el("th", L[k])); });
    t.appendChild(head);
    D.why_not.forEach(function (r) {
      var tr = el("tr");
      r.forEach(function (v, i) {
        var td = el("td");
        if (i === 0) {
          var a = el("a", v);
          a.href = "#subject=" + encodeURIComponent(v);
          a.addEventListener("click", function (ev) {
            ev.preventDefault();
            state = {subject: v, rule: "", mech: "", sheet: "", result: "", src: "", page: 0};
            apply();
            document.getElementById("firings").scrollIntoView();
          });
          td.appendChild(a);
        } else td.textContent = v;
        tr.appendChild(td);
      });
      t.appendChild(tr);
    });
    sec.appendChild(t);
  }

  // ---- sources
  var srcBody, srcWhere, srcSel, srcFiltered = [];
  function renderSourcesFrame() {
    var sec = document.getElementById("sources");
    sec.appendChild(el("h2", L.tr_sources));
    var b = el("div", null, "bar");
    var l = el("label", L.ui_filter_sheet);
    srcSel = el("select");
    option(srcSel, "", L.ui_all);
    D.sheets.forEach(function (s) { option(srcSel, s, s); });
    l.appendChild(srcSel); b.appendChild(l);
    var prev = el("button", L.ui_prev), next = el("button", L.ui_next);
    prev.type = next.type = "button";
    srcWhere = el("span", "", "count");
    b.appendChild(prev); b.appendChild(next); b.appendChild(srcWhere);
    sec.appendChild(b);
    var t = el("table"), head = el("tr");
    ["sources", "values", ""].forEach(function (k) { head.appendChild(el("th", k ? L[k] : "")); });
    var thead = el("thead"); thead.appendChild(head); t.appendChild(thead);
    srcBody = el("tbody"); t.appendChild(srcBody);
    sec.appendChild(t);
    srcSel.addEventListener("change", function () { srcState.sheet = srcSel.value; srcState.page = 0; srcApply(); });
    prev.addEventListener("click", function () { if (srcState.page > 0) { srcState.page--; srcRender(); } });
    next.addEventListener("click", function () {
      if ((srcState.page + 1) * PAGE < srcFiltered.length) { srcState.page++; srcRender(); }
    });
  }
  function srcApply() {
    var sheet = -1;
    D.sheets.forEach(function (s, i) { if (s === srcState.sheet) sheet = i; });
    srcFiltered = [];
    for (var i = 0; i < S.length; i++) if (sheet < 0 || S[i][0] === sheet) srcFiltered.push(i);
    srcRender();
  }
  function srcRender() {
    while (srcBody.firstChild) srcBody.removeChild(srcBody.firstChild);
    var pages = Math.max(1, Math.ceil(srcFiltered.length / PAGE));
    if (srcState.page >= pages) srcState.page = pages - 1;
    var start = srcState.page * PAGE, end = Math.min(srcFiltered.length, start + PAGE);
    for (var n = start; n < end; n++) {
      var s = S[srcFiltered[n]], tr = el("tr", null, "source");
      tr.id = "src-" + s[0] + "-" + s[1];
      if (tr.id === srcState.hl) tr.className += " hl";
      tr.appendChild(el("td", refText(s[0], s[1])));
      tr.appendChild(el("td", s[2]));
      var td = el("td"), a = el("a", L.ui_cited_by);
      a.href = "#src=" + s[0] + ":" + s[1];
      (function (key) {
        a.addEventListener("click", function (ev) {
          ev.preventDefault();
          state = {subject: "", rule: "", mech: "", sheet: "", result: "", src: key, page: 0};
          apply();
          document.getElementById("firings").scrollIntoView();
        });
      })(s[0] + ":" + s[1]);
      td.appendChild(a); tr.appendChild(td);
      srcBody.appendChild(tr);
    }
    srcWhere.textContent = fmt(L.ui_page, {p: srcState.page + 1, n: pages}) + " · " +
      fmt(L.ui_sources_shown, {n: srcFiltered.length});
  }
  function showSource(hash) {
    var m = /^#src-(\d+)-(\d+)$/.exec(hash);
    if (!m) return false;
    var pos = srcPos[m[1] + ":" + m[2]];
    if (pos === undefined) return false;
    srcState.sheet = ""; srcSel.value = "";
    srcFiltered = [];
    for (var i = 0; i < S.length; i++) srcFiltered.push(i);
    srcState.page = Math.floor(pos / PAGE);
    srcState.hl = "src-" + m[1] + "-" + m[2];
    srcRender();
    var row = document.getElementById(srcState.hl);
    if (row && row.scrollIntoView) row.scrollIntoView({block: "center"});
    return true;
  }

  renderRun();
  renderFiringsFrame();
  renderWhyNot();
  renderSourcesFrame();
  readParams();
  srcApply();
  apply();
  showSource(location.hash);
  window.addEventListener("hashchange", function () {
    if (!showSource(location.hash) && location.hash.indexOf("=") >= 0) { readParams(); state.page = 0; apply(); }
  });
  document.body.setAttribute("data-ready", "1");
})();
"""

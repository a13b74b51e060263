"""trace.xlsx and trace.html (SPEC §8): for auditors, every rule firing of a run in order.

Each firing shows its seq, rule id and one-line description (Chinese or English), the
mechanism and subject, its source rows as `Sheet!row` with the values it cited from the ledger,
and what it produced: an adjustment (points and the arithmetic), an exception (kind,
review_id, status, assignee, message) or a note. Around the firings: the run's hashes (ledger
file, effective policy, rules version, program version), the audit chain's verification status,
the ledger rows cited (each once) and why each department's mechanisms did or did not apply.
What a firing shows is one view (reports/view.py: FiringView, CitedRows); the two files are
two renderings of it.

Sheet names in references are the ledger's own (its header language, SPEC §7); labels, notes,
explanations and messages are in the report's language (rules/sentences.py words the run's
stored sentences).

trace.xlsx is streamed: each firing's row is made as the sheet's XML is written (BulkWriter with
a renderer of its own), so memory holds at most `CitedRows.HELD` texts of cited ledger rows,
never a row per firing.
One sheet holds 1,048,576 rows: more firings (a 100,000-employee month fires 2.7 million
rules) continue on 规则触发 (2) / Firings (2), … with the header repeated, and the Run sheet
says how they were split; the same for a Sources sheet that would overflow.

Neither file holds the run's firings: they are read from the database as the file is written
(evaluator.runs.RunFirings), once for both files (`write_both`), and what needs all of them
before the first is written — the cited rows, the rules and sheets in the order first named,
why-not's firings — was gathered in one pass before (reports/facts.py).

trace.html is one file with no network access at all: its CSS and JS (reports/assets/trace.css
and trace.js) inline, pinned by hash in a Content-Security-Policy that forbids everything else,
the data embedded as JSON (escaped so no ledger text can close the script element) and rendered
a page at a time by the script, only through `textContent` — a ledger comment such as
`<img src=x onerror=…>` shows as text. The data is streamed into the file a chunk of firings at
a time (`_HtmlPage`); the file's bytes are those of the whole payload's JSON.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import html
import json
from importlib import resources
from itertools import islice
from pathlib import Path

from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from reports import facts as firing_facts
from reports import why_not
from reports import json_files
from reports.json_files import FiringsSeen
from reports.labels import MECHANISMS, label, sheet_name
from reports.view import (RESULTS, CitedRows, Firing, FiringView, chain_text, run_info,
                          run_table)
from reports.workbook import (CELL_LIMIT, NUMBER_FORMAT, PLAIN_CLOSE, PLAIN_OPEN,
                              WIDTH_SAMPLE_ROWS, BulkWriter, CellXml, clip, fit_columns, header,
                              is_plain_text, put_text)

CITED_IN_ROW = 5              # cited values shown beside a firing; the Sources sheet has all


def _info(period, stored, lang, ledger_file, chain) -> dict:
    extra = {"ledger_file": ledger_file, "chain_status": chain_text(lang, chain)}
    if chain is not None:               # checked: the head it reached (none: an empty chain)
        extra["chain_head"] = chain.get("head")
    return run_info(period, stored, extra)


def _status(chain):
    """The chain's status given to a writer: a dict, None (not checked), or a function that
    waits for it (called when the status is written, as late as the file allows)."""
    return chain() if callable(chain) else chain


def _later(make):
    """The items of `make()`, made when the first is taken (a sheet's rows made at save time)."""
    yield from make()


def _why_not_rows(rows: dict, stored: dict, lang: str) -> list[list[str]]:
    names = {d["dept_id"]: d["name"] for d in rows.get("Departments", [])}
    return why_not.table(lang, why_not.department_reasons(rows, stored), names)


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


class _CellCitedRows(CitedRows):
    """CitedRows whose entries also say whether both texts go into a workbook cell as they are
    (within a cell's limit, nothing to escape: `is_plain_text`): the Firings sheet then writes
    them without a second look."""

    @staticmethod
    def _entry(ref_text: str, line: str) -> tuple[str, str, bool]:
        return ref_text, line, (len(line) <= CELL_LIMIT and is_plain_text(ref_text)
                                and is_plain_text(line))


class _FiringRows:
    """The Firings sheet: a row per firing (the columns FIRING_KEYS), made from its view as the
    sheet is written, never a list of them.

    `values(f)` is a firing's row. `xml` renders the rows for BulkWriter: most firings (one
    source, no adjustment or exception: 96 % of a big month) differ from others of their rule
    only in seq, subject and source, so their cells are built from tails made once (from
    `values` of the first such firing) and joined by the row number; every other firing is
    rendered from `values` the generic way."""

    def __init__(self, stored: dict, lang: str, cited: _CellCitedRows):
        self.view = FiringView(stored, lang)
        self.lang, self.cited = lang, cited
        self.mechanisms = {m: label(lang, m) for m in MECHANISMS}
        self.results = {k: label(lang, k) for k in RESULTS}

    def row(self, v: Firing) -> tuple:
        """The sheet's row of a firing's view."""
        refs, cited = self.cited.texts(v.sources, CITED_IN_ROW, CELL_LIMIT)
        if len(v.sources) > CITED_IN_ROW:
            cited += "\n… " + label(self.lang, "more", n=len(v.sources) - CITED_IN_ROW)
        return (v.seq, v.rule, v.description, self.mechanisms[v.mechanism], v.subject,
                clip(refs), clip(cited), self.results[v.result], v.points, v.kind, v.review_id,
                v.status, v.assignee, clip(v.explanation))

    def values(self, f: dict) -> tuple:
        return self.row(self.view(f))

    def xml(self, firings, first_row: int, cells: CellXml):
        """BulkWriter's renderer: the `<row>` of each firing (the generic rendering's bytes)."""
        text, unique, values, row_xml = cells.text, cells.unique_text, self.values, cells.row
        lines, line_of = self.cited.lines, self.cited
        special = self.view.produced         # the firings that produced an item
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
                ft, gt = unique(clip(refs)), unique(clip(cited))
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


def _source_values(keys, cited: _CellCitedRows):
    """The Sources sheet's rows: reference, sheet, row and cited values of each cited row
    (made here, not held: CitedRows.values)."""
    names, reference, values = cited.names, cited.reference, cited.values
    for s, r in keys:
        ref_text = reference(s, r)
        yield (ref_text, names[s], r, clip(values(s, r)))


def _source_xml(cited: _CellCitedRows):
    """BulkWriter's renderer of the Sources sheet, straight from the cited keys (as
    _FiringRows.xml does for the firings)."""
    def xml(keys, first_row: int, cells: CellXml):
        text, unique = cells.text, cells.unique_text
        for r, v in enumerate(_source_values(keys, cited), first_row):
            ref_text, sheet, row, values = v
            if type(ref_text) is not str or type(sheet) is not str or type(row) is not int:
                yield cells.row(v, r)
                continue
            rs = str(r)
            a, b, d = unique(ref_text), text(sheet), unique(values)
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


def _firing_range(firings, first: int, stop: int):
    """The firings at positions first … stop - 1: read from the database for just those when
    they come from it (evaluator.runs.RunFirings.range), else islice."""
    ranged = getattr(firings, "range", None)
    return ranged(first, stop) if ranged is not None else islice(firings, first, stop)


def _tapped(firings, tap):
    """`firings`, each handed to `tap` (when there is one) as it is taken."""
    if tap is None:
        return firings

    def tapped():
        for f in firings:
            tap(f)
            yield f
    return tapped()


def write_xlsx(path: Path, period: str, rows: dict, stored: dict, lang: str = "zh",
               sheet_lang: str | None = None, ledger_file: str | None = None,
               chain: dict | None = None, tap=None) -> Path:
    """chain: {"ok", "checked", "problem", "head"} from the audit chain's verification.

    The firings and the cited rows are streamed into the sheets' XML as the file is written;
    what is held meanwhile is at most CitedRows.HELD texts of cited rows, never a row per
    firing (the Sources sheet makes each row's text again: reports/view.py). `tap`,
    when given, is called with each firing as its row is written (write_both)."""
    firings = stored["firings"]
    facts = firing_facts.of(stored)
    n = facts.count
    cited = _CellCitedRows(rows, sheet_lang or lang)
    keys = facts.cited_keys
    pages = _pages(label(lang, "tr_firings"), n)
    spages = _pages(label(lang, "tr_sources"), len(keys))
    wb = Workbook()
    bulk = BulkWriter(wb, compresslevel=TRACE_ZLIB_LEVEL)

    # the Run sheet: the run's identity and the audit chain's status. When the chain is being
    # checked meanwhile (`chain` a function that waits for its status: xietong.api.month), the
    # sheet is laid out last, after the firings (SheetFill.late); its widths then fit what it
    # shows without the status (the value column holds 64-character hashes anyway)
    ws = wb.active
    ws.title = label(lang, "tr_run")
    split = {}
    if len(pages) > 1:
        split["firings_sheets"] = _split_note(lang, pages, n)
    if len(spages) > 1:
        split["sources_sheets"] = _split_note(lang, spages, len(keys))
    late = callable(chain)

    def run_rows(status=None) -> list[tuple[str, str]]:
        info = _info(period, stored, lang, ledger_file, _status(chain) if status is None else status)
        info.update(split)
        return run_table(lang, info)[1]

    titles = [label(lang, "item"), label(lang, "value")]
    header(ws, titles)
    known = run_rows({}) if late else run_rows()     # {}: checked, its status not known yet
    fit_columns(ws, titles, known, maximum={1: 80})
    ws.freeze_panes = "A2"
    bulk.add_rows(ws, _later(run_rows) if late else known, ncols=2, count=len(known),
                  late=late)

    table = _FiringRows(stored, lang, cited)
    _paged_sheets(
        wb, bulk, pages, [label(lang, k) for k in FIRING_KEYS],
        lambda first, stop: _tapped(_firing_range(firings, first, stop), tap),
        [table.values(f) for f in _firing_range(firings, 0, WIDTH_SAMPLE_ROWS)],
        dict(maximum={5: 40, 6: 60, 13: 60}, number_cols=(0, 8)), "C2",
        formats={"I": NUMBER_FORMAT}, render=table.xml)
    _paged_sheets(
        wb, bulk, spages, [label(lang, k) for k in ("sources", "sheet", "row", "values")],
        lambda first, stop: islice(keys, first, stop),
        list(islice(_source_values(keys, cited), WIDTH_SAMPLE_ROWS)),
        dict(maximum={3: 100}), "A2", render=_source_xml(cited))

    ws2 = wb.create_sheet(label(lang, "tr_why_not"))
    wtitles = [label(lang, k) for k in why_not.TABLE_KEYS]
    header(ws2, wtitles)
    wvalues = _why_not_rows(rows, stored, lang)
    for i, v in enumerate(wvalues, 2):
        for j, x in enumerate(v, 1):
            put_text(ws2.cell(row=i, column=j), x)
    ws2.freeze_panes = "C2"
    ws2.auto_filter.ref = f"A1:E{max(len(wvalues) + 1, 2)}"
    fit_columns(ws2, wtitles, wvalues, maximum={4: 80})

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return bulk.save(path)


# ----------------------------------------------------------------------------- trace.html

def _json_for_script(obj) -> str:
    """JSON that cannot end the <script> element it sits in, whatever the ledger holds."""
    return _script_safe(json.dumps(obj, ensure_ascii=False, separators=(",", ":")))


def _script_safe(text: str) -> str:
    """JSON text with what could end or confuse a script element escaped (character by
    character: the JSON of a whole is the escaped JSON of its pieces, joined)."""
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


@functools.cache
def _asset(name: str) -> str:
    """The page's text of a file of reports/assets (package data): the file as it is, after a
    line break that puts its first line on a line of its own."""
    return "\n" + (resources.files("reports") / "assets" / name).read_text(encoding="utf-8")


def html_payload(period: str, rows: dict, stored: dict, lang: str, sheet_lang: str,
                 ledger_file: str | None, chain: dict | None) -> dict:
    """The data trace.js renders: labels, the run, the firings (sheets, rules, mechanisms and
    results as indexes into their lists), the cited rows and the why-not table. (trace.html
    holds the same data, written a firing at a time: _HtmlPage.)"""
    head, entry, sources, why, run = _html_parts(period, rows, stored, lang, sheet_lang,
                                                 ledger_file, chain)
    return {**head, "firings": [entry(f) for f in stored["firings"]], "sources": list(sources),
            "why_not": why, "run": run()}


def _html_parts(period: str, rows: dict, stored: dict, lang: str, sheet_lang: str,
                ledger_file: str | None, chain: dict | None):
    """html_payload in parts: (the keys before "firings", in order; a firing's entry, a function;
    an iterator of the cited rows' entries; the why-not table; the run's table, a function). The
    lists of rules and sheets come first and index the firings: they are the rules and sheets
    in the order the firings first name them (reports/facts.py), so a firing's entry is made
    when it is written. The run's table, which shows the chain's status, comes last: made when
    the page is finished, it may wait for a check running meanwhile (`chain` a function)."""
    view = FiringView(stored, lang)
    cited = CitedRows(rows, sheet_lang)
    facts = firing_facts.of(stored)
    sheet_idx = {s: i for i, s in enumerate(facts.sheets)}
    rule_idx = {r: i for i, r in enumerate(facts.rules)}
    mechanism_idx = {m: i for i, m in enumerate(MECHANISMS)}
    result_idx = {r: i for i, r in enumerate(RESULTS)}

    def entry(f) -> list:
        v = view(f)
        flat = []
        for s, r in v.sources:
            flat += [sheet_idx[s], r]
        return [v.seq, rule_idx[v.rule], mechanism_idx[v.mechanism], v.subject, flat,
                result_idx[v.result], None if v.points is None else f"{v.points:.2f}",
                v.kind, v.review_id, v.status, v.assignee, v.explanation]

    sources = ([sheet_idx[s], r, cited.values(s, r)] for s, r in facts.cited_keys)

    def run() -> list:
        status = _status(chain)
        info = _info(period, stored, lang, ledger_file, status)
        return [[k, v, _run_class(key, status)]
                for key, (k, v) in zip(info, run_table(lang, info)[1])]

    ui_keys = ("tr_title", "tr_run", "tr_firings", "tr_sources", "tr_why_not", "seq", "rule",
               "description", "mechanism", "subject", "sources", "cited", "result", "points",
               "kind", "review_id", "status", "assignee", "explanation", "sheet", "row", "values",
               "exception",
               "dept_id", "dept_name", "applied", "reason", "item", "value",
               "ui_filter_subject", "ui_filter_rule", "ui_filter_mechanism", "ui_filter_sheet",
               "ui_filter_result", "ui_all", "ui_clear", "ui_prev", "ui_next", "ui_page",
               "ui_shown", "ui_sources_shown", "ui_cited_by", "ui_no_rows")
    head = {
        "lang": lang,
        "period": period,
        "labels": {k: label(lang, k) for k in ui_keys},
        "mechanisms": [[m, label(lang, m)] for m in MECHANISMS],
        "results": [label(lang, r) for r in RESULTS],
        "rules": [[r, view.description(r)] for r in facts.rules],
        "sheets": [sheet_name(sheet_lang, s) for s in facts.sheets],
    }
    return head, entry, sources, _why_not_rows(rows, stored, lang), run


_MONO = {"file_sha256", "policy_sha256", "rules_version", "decisions_digest", "chain_head"}


def _run_class(key: str, chain: dict | None) -> str:
    if key == "chain_status":
        return "ok" if chain and chain.get("ok") else "bad"
    return "mono" if key in _MONO else ""


class _HtmlPage:
    """trace.html written as its firings come: the page up to the data's "firings" when made,
    each firing's entry by `firing(f)` (encoded and written a chunk at a time, never a list of
    them), the rest by `finish()`. The file holds exactly what the page of html_payload's data
    would (_json_for_script's escapes are of single characters: the escaped JSON of a whole is
    its pieces' escaped JSON, joined). `seen` tells whether the firings given were the run's,
    in seq order; `abandon()` removes a page not finished."""

    CHUNK = 64          # entries encoded and written at a time (json_files.TRACE_CHUNK: why small)

    def __init__(self, path: Path, period: str, rows: dict, stored: dict, lang: str,
                 sheet_lang: str, ledger_file: str | None, chain: dict | None):
        head, self._entry, self._sources, self._why, self._run = _html_parts(
            period, rows, stored, lang, sheet_lang, ledger_file, chain)
        self.path = Path(path)
        self.seen = FiringsSeen()
        self._dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
        self._parts: list[str] = []
        self._sep = ""
        title = f"{label(lang, 'tr_title')} · {period}"
        style, script = _asset("trace.css"), _asset("trace.js")
        csp = (f"default-src 'none'; script-src {_csp_hash(script)}; "
               f"style-src {_csp_hash(style)}; img-src 'none'; connect-src 'none'; "
               "font-src 'none'; base-uri 'none'; form-action 'none'")
        self._after = f"</script>\n<script>{script}</script>\n</body>\n</html>\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._out = open(self.path, "w", encoding="utf-8")
        self._out.write(
            "<!DOCTYPE html>\n"
            f'<html lang="{"zh-CN" if lang == "zh" else "en"}">\n<head>\n<meta charset="utf-8">\n'
            f'<meta http-equiv="Content-Security-Policy" content="{csp}">\n'
            '<meta name="referrer" content="no-referrer">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{html.escape(title)}</title>\n"
            f"<style>{style}</style>\n</head>\n<body>\n"
            f"<h1>{html.escape(title)}</h1>\n"
            '<section id="run"></section>\n'
            '<section id="firings"></section>\n'
            '<section id="whynot"></section>\n'
            '<section id="sources"></section>\n'
            '<script type="application/json" id="data">'
            + _script_safe(self._dumps(head)[:-1] + ',"firings":['))

    def firing(self, f: dict) -> None:
        self.seen.see(f["seq"])
        entry = self._entry(f)
        flat, step = entry[4], 2 * json_files.LONG_SOURCES
        if len(flat) <= step:
            self._add(entry)
            return
        # a department's blend (30,000 sources at 100,000 employees): written in pieces
        # after the entries before it, never held with them (json_files.LONG_SOURCES); the
        # pieces are the entry's JSON ([head, [flat…], tail…]), cut between sources
        self._flush()
        dumps, write = self._dumps, self._out.write
        write(_script_safe(self._sep + dumps(entry[:4])[:-1] + ",["))
        for at in range(0, len(flat), step):
            write(("," if at else "") + _script_safe(dumps(flat[at:at + step])[1:-1]))
        write(_script_safe("]," + dumps(entry[5:])[1:]))
        self._sep = ","

    def _add(self, item) -> None:
        self._parts.append(item)
        if len(self._parts) >= self.CHUNK:
            self._flush()

    def _flush(self) -> None:
        if self._parts:
            # a chunk's items encoded as one list, its brackets dropped: the same text as
            # each item's own JSON joined by commas, in one call of the encoder, not thousands
            self._out.write(self._sep + _script_safe(self._dumps(self._parts)[1:-1]))
            self._sep = ","
            self._parts.clear()

    def finish(self) -> Path:
        self._flush()
        self._out.write('],"sources":[')
        self._sep = ""
        for item in self._sources:
            self._add(item)
        self._flush()
        self._out.write('],"why_not":' + _json_for_script(self._why)
                        + ',"run":' + _json_for_script(self._run()) + "}" + self._after)
        self._out.close()
        return self.path

    def abandon(self) -> None:
        self._out.close()
        self.path.unlink(missing_ok=True)


def write_html(path: Path, period: str, rows: dict, stored: dict, lang: str = "zh",
               sheet_lang: str | None = None, ledger_file: str | None = None,
               chain: dict | None = None, tap=None) -> Path:
    """trace.html: the page of html_payload's data, the firings written as they are read.
    `tap`, when given, is called with each firing as it is written (write_both)."""
    page = _HtmlPage(path, period, rows, stored, lang, sheet_lang or lang, ledger_file, chain)
    try:
        for f in _tapped(stored["firings"], tap):
            page.firing(f)
        return page.finish()
    except BaseException:
        page.abandon()                     # never half a page
        raise


def write_both(xlsx_path: Path | None, html_path: Path | None, period: str, rows: dict,
               stored: dict, lang: str = "zh", sheet_lang: str | None = None,
               ledger_file: str | None = None, chain: dict | None = None, tap=None
               ) -> tuple[Path | None, Path | None]:
    """trace.xlsx and trace.html (either may be None: not written), the two files what
    write_xlsx and write_html write, from ONE reading of the firings when both are written:
    trace.html takes each firing as trace.xlsx's Firings sheets are written (a pass over a big
    month's firings is seconds). Should the sheets not have read every firing once in order
    (they always do), trace.html is written from a reading of its own. `tap`, when given, is
    called with each firing of the first reading (a report's trace.json writer)."""
    if html_path is None or xlsx_path is None:
        return (None if xlsx_path is None else
                write_xlsx(xlsx_path, period, rows, stored, lang, sheet_lang, ledger_file, chain,
                           tap=tap),
                None if html_path is None else
                write_html(html_path, period, rows, stored, lang, sheet_lang, ledger_file, chain,
                           tap=tap))
    page = _HtmlPage(html_path, period, rows, stored, lang, sheet_lang or lang, ledger_file,
                     chain)
    if tap is None:
        both = page.firing
    else:
        def both(f, page_firing=page.firing):
            page_firing(f)
            tap(f)
    try:
        xlsx = write_xlsx(xlsx_path, period, rows, stored, lang, sheet_lang, ledger_file, chain,
                          tap=both)
    except BaseException:
        page.abandon()
        raise
    if page.seen.whole(firing_facts.of(stored).count):
        return xlsx, page.finish()
    page.abandon()
    return xlsx, write_html(html_path, period, rows, stored, lang, sheet_lang, ledger_file, chain)

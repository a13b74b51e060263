"""trace.xlsx and trace.html (SPEC §8): for auditors, every rule firing of a run in order.

Each firing shows its seq, rule id and one-line description (Chinese or English), the
mechanism and subject, its source rows as `Sheet!row` with the values it cited from the ledger,
and what it produced: an adjustment (points and the arithmetic), an exception (kind,
review_id, status, assignee, message) or a note. Around the firings: the run's hashes (ledger
file, effective policy, rules version, program version), the audit chain's verification status,
the ledger rows cited (each once) and why each department's mechanisms did or did not apply.

Sheet names in references are the ledger's own (its header language, SPEC §7); labels are in
the report's language.

trace.xlsx is streamed (BulkWriter: 100k firings in seconds). trace.html is one file with no
network access at all: inline CSS and JS, pinned by hash in a Content-Security-Policy that
forbids everything else, the data embedded as JSON (escaped so no ledger text can close the
script element) and rendered a page at a time by the script, only through `textContent` — a
ledger comment such as `<img src=x onerror=…>` shows as text.
"""
from __future__ import annotations

import base64
import hashlib
import html
import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from evaluator.evaluate import describe
from reports import why_not
from reports.labels import (MECHANISMS, SHEET_ORDER, cited_values, firing_mechanism, label, ref,
                            sheet_name)
from reports.statement import (NUMBER_FORMAT, FormattedBulkWriter, fit_columns, header, run_info,
                               run_sheet, save)
from reports.xlsx import put_text

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

def write_xlsx(path: Path, period: str, rows: dict, stored: dict, lang: str = "zh",
               sheet_lang: str | None = None, ledger_file: str | None = None,
               chain: dict | None = None) -> Path:
    """chain: {"ok", "checked", "problem", "head"} from the audit chain's verification."""
    sl = sheet_lang or lang
    trace = trace_rows(stored, lang)
    index = {(sheet, r["row"]): r for sheet, lst in rows.items() for r in lst}
    wb = Workbook()
    bulk = FormattedBulkWriter(wb)

    ws = wb.active
    ws.title = label(lang, "tr_run")
    run_sheet(ws, lang, _info(period, stored, lang, ledger_file, chain))

    fs = wb.create_sheet(label(lang, "tr_firings"))
    titles = [label(lang, k) for k in ("seq", "rule", "description", "mechanism", "subject",
                                       "sources", "cited", "result", "points", "kind",
                                       "review_id", "status", "assignee", "explanation")]
    header(fs, titles)
    values = []
    for t in trace:
        refs = "; ".join(ref(sl, s, r) for s, r in t.sources)
        cited = "\n".join(f"{ref(sl, s, r)}: {cited_values(sl, s, index.get((s, r)))}"
                          for s, r in t.sources[:CITED_IN_ROW])
        if len(t.sources) > CITED_IN_ROW:
            cited += "\n… " + label(lang, "more", n=len(t.sources) - CITED_IN_ROW)
        values.append((t.seq, t.rule, t.description, label(lang, t.mechanism), t.subject,
                       _clip(refs), _clip(cited), label(lang, t.result), t.points, t.kind,
                       t.review_id, t.status, t.assignee, _clip(t.explanation)))
    fit_columns(fs, titles, values, maximum={5: 40, 6: 60, 13: 60}, number_cols=(0, 8))
    fs.freeze_panes = "C2"
    fs.auto_filter.ref = f"A1:{get_column_letter(len(titles))}{max(len(values) + 1, 2)}"
    bulk.add_rows(fs, values, ncols=len(titles), formats={"I": NUMBER_FORMAT})

    ss = wb.create_sheet(label(lang, "tr_sources"))
    stitles = [label(lang, k) for k in ("sources", "sheet", "row", "values")]
    header(ss, stitles)
    svalues = [(ref(sl, s, r), sheet_name(sl, s), r, _clip(cited_values(sl, s, row)))
               for s, r, row in cited_rows(rows, trace)]
    fit_columns(ss, stitles, svalues, maximum={3: 100})
    ss.freeze_panes = "A2"
    ss.auto_filter.ref = f"A1:D{max(len(svalues) + 1, 2)}"
    bulk.add_rows(ss, svalues, ncols=len(stitles))

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

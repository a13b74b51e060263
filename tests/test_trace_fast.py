"""trace.xlsx written at scale (issue 5) against what it has to show: every cell of its Firings
and Sources sheets, and trace.html's data, equal a plain computation of the trace (the same
columns, texts, numbers, styles); the streamed rows equal the generic rendering byte for byte,
odd values included; a trace longer than one sheet continues on further sheets; the page pins
its own CSS and JS, which ship with the package; the workbook writer's ZIP64 records read back;
and the JSON files are still what json.dump writes. No timing here (see docs/benchmarks.md)."""
from __future__ import annotations

import base64
import fnmatch
import hashlib
import io
import json
import re
import tomllib
import zipfile
from types import SimpleNamespace
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given, strategies as st
from openpyxl import Workbook

from xietong.cli import main
from xietong.sample import write_sample_ledger
from importers.schema import SHEET_BY_NAME
from importers.spooled import SpooledRows
from reports.template import write_ledger
from reports import json_files, labels, trace
from reports.labels import firing_mechanism, label, show_value
from reports.view import ItemsBySeq
from reports.workbook import FORMULA_LEADS, BulkWriter
from rules.books import describe
from rules.sentences import explanation, message, note_text
from tests.ledgers import PERIOD, small_company


def cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], out, err)
    assert code == 0, err.getvalue()
    return out.getvalue()


def stored_run(url: str):
    """What write_reports hands the trace writer: the run, the ledger rows, the chain status."""
    from sqlmodel import Session, create_engine, select

    from evaluator.chain import verify
    from evaluator.db import ChainLink, LedgerImport
    from evaluator.runs import latest_run, load_run
    from evaluator.store import load_rows
    engine = create_engine(url)
    with Session(engine) as session:
        run = latest_run(session, PERIOD)
        imp = session.get(LedgerImport, run.import_id)
        stored, rows = load_run(session, run), load_rows(session, run.import_id)
        result = verify(session, PERIOD)
        head = session.exec(select(ChainLink).order_by(ChainLink.seq.desc()).limit(1)).first()
    engine.dispose()
    chain = {"ok": result.ok, "checked": result.checked,
             "problem": result.problem.en if result.problem else None,
             "head": head.hash}
    return stored, rows, chain, imp.lang, imp.file_name


def awkward_company():
    """small_company() with ledger text the careful path of the writer has to handle."""
    b = small_company()
    b.rating("R1", "F2", "M", 4, comment="=HYPERLINK(\"http://x\",\"y\")")
    b.rating("R2", "F3", "M", 5, comment=" leading and trailing space ")  # trimmed on import
    b.rating("R3", "F4", "M", 1, comment="a & b <c> \"d\"")
    b.rating("R4", "F2", "B", 5, comment="+cmd|calc")
    b.rating("R5", "F3", "B", 4, comment="两行\n第二行")
    b.rating("R6", "F4", "B", 2, comment="@SUM(1,1)")
    b.behaviour("B1", "F2", "LEAD", 2, "F1", evidence="-1")
    b.behaviour("B2", "F2", "SHARE", 1, "F1", evidence=None)
    b.kpi("K1", 100, 110, name="收入")
    b.link("M", "K1", "high")
    b.interlock("X1", 100, 120, 4, 4, name="新业务")
    b.party("X1", "F", "0.5")
    b.party("X1", "M", "0.4")
    return b


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two runs: a generated company (xietong/sample.py, English headers) and a small one
    with awkward text (Chinese headers)."""
    tmp = tmp_path_factory.mktemp("trace_fast")
    out = {}
    sample = tmp / "sample.xlsx"
    write_sample_ledger(sample, employees=40, period=PERIOD, seed=3, lang="en")
    awkward = tmp / "awkward.xlsx"
    write_ledger(awkward, awkward_company().build().rows, "zh")
    for name, ledger in (("sample", sample), ("awkward", awkward)):
        url = f"sqlite:///{tmp / (name + '.db')}"
        cli("run", ledger, "--period", PERIOD, "--out", tmp / name, "--db", url,
            "--format", "json")
        out[name] = stored_run(url)
    out["tmp"] = tmp
    return out


# ----------------------------------------------------------------------------- the plain trace

def plain_cited(lang: str, sheet: str, row: dict | None) -> str:
    """cited_values as first written: a cell at a time through show_value."""
    if row is None:
        return ""
    parts = []
    for c in SHEET_BY_NAME[sheet].columns:
        v = row.get(c.name)
        if v is None or v == "":
            continue
        parts.append(f"{c.zh if lang == 'zh' else c.name}={show_value(lang, v, c.enum)}")
    return "; ".join(parts)


def clip(text: str) -> str:
    return text if len(text) <= 32_000 else text[:31_999] + "…"


def trace_rows(stored: dict, lang: str) -> list[SimpleNamespace]:
    """The firings joined with what they produced (adjustments and exceptions by firing seq),
    as trace.html and trace.xlsx were first built from them; worded in `lang` by
    rules.sentences."""
    adj_by_seq: dict[int, list[dict]] = {}
    for a in stored["adjustments"]:
        adj_by_seq.setdefault(a["firing_seq"], []).append(a)
    exc_by_seq: dict[int, list[dict]] = {}
    for e in stored["exceptions"]:
        exc_by_seq.setdefault(e["firing_seq"], []).append(e)
    out = []
    for f in stored["firings"]:
        rule = f["rule"]
        try:
            zh, en = describe(rule)
            description = zh if lang == "zh" else en
        except KeyError:
            description = ""
        adjs, excs = adj_by_seq.get(f["seq"], []), exc_by_seq.get(f["seq"], [])
        notes = [o["note"] for o in f["outcome"].get("outcomes", []) if "note" in o]
        points = None
        kind = review_id = status = assignee = ""
        texts = []
        if adjs:
            result = "adjustment"
            points = sum((a["points"] for a in adjs), Decimal("0.00"))
            texts += [explanation(a, lang) for a in adjs]
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
            texts += [message(e, lang) for e in excs]
        texts += [note_text(n, lang) for n in notes]
        out.append(SimpleNamespace(
            seq=f["seq"], rule=rule, description=description,
            mechanism=firing_mechanism(rule, f["sources"]), subject=f["subject_id"] or "",
            sources=[tuple(s) for s in f["sources"]], result=result, points=points, kind=kind,
            review_id=review_id, status=status, assignee=assignee,
            explanation=" | ".join(texts)))
    return out


def plain_trace(stored, rows, lang, sl):
    """The Firings and Sources rows computed the plain way, from trace_rows, as trace.xlsx
    showed them before it was streamed."""
    index = {(s, r["row"]): r for s, lst in rows.items() for r in lst}
    ref = lambda s, r: f"{labels.sheet_name(sl, s)}!{r}"  # noqa: E731
    firings = []
    tr = trace_rows(stored, lang)
    for t in tr:
        refs = "; ".join(ref(s, r) for s, r in t.sources)
        cited = "\n".join(f"{ref(s, r)}: {plain_cited(sl, s, index.get((s, r)))}"
                          for s, r in t.sources[:5])
        if len(t.sources) > 5:
            cited += "\n… " + label(lang, "more", n=len(t.sources) - 5)
        firings.append([t.seq, t.rule, t.description, label(lang, t.mechanism), t.subject,
                        clip(refs), clip(cited), label(lang, t.result), t.points, t.kind,
                        t.review_id, t.status, t.assignee, clip(t.explanation)])
    keys = sorted({s for t in tr for s in t.sources},
                  key=lambda k: (labels.SHEET_ORDER.get(k[0], 99), k[0], k[1]))
    sources = [[ref(s, r), labels.sheet_name(sl, s), r, clip(plain_cited(sl, s, index.get((s, r))))]
               for s, r in keys]
    return firings, sources


def as_read(values):
    """A row as openpyxl reads it back: blanks for "" and None, Decimals as numbers."""
    return [None if v == "" or v is None else float(v) if isinstance(v, Decimal) else v
            for v in values]


def data_rows(ws):
    return [list(r) for r in ws.iter_rows(min_row=2, values_only=True)]


def write_trace(path, stored, rows, lang, sl, file_name, chain):
    return trace.write_xlsx(path, PERIOD, rows, stored, lang, sl, file_name, chain)


# ----------------------------------------------------------------------------- equal content

@pytest.mark.parametrize("name", ["sample", "awkward"])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_trace_cells_equal_the_plain_trace(runs, name, lang, tmp_path):
    stored, rows, chain, sl, file_name = runs[name]
    path = write_trace(tmp_path / "trace.xlsx", stored, rows, lang, sl, file_name, chain)
    want_firings, want_sources = plain_trace(stored, rows, lang, sl)
    assert len(want_firings) == len(stored["firings"]) > 20
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == [label(lang, k) for k in ("tr_run", "tr_firings", "tr_sources",
                                                      "tr_why_not")]
    fs, ss = wb[label(lang, "tr_firings")], wb[label(lang, "tr_sources")]
    assert [c.value for c in fs[1]] == [label(lang, k) for k in trace.FIRING_KEYS]
    assert data_rows(fs) == [as_read(v) for v in want_firings]
    assert data_rows(ss) == [as_read(v) for v in want_sources]
    assert fs.dimensions == f"A1:N{len(want_firings) + 1}"
    # the sheets' own <dimension> tags cover the streamed rows (a read-only reader trusts them)
    ro = openpyxl.load_workbook(path, read_only=True)
    assert ro[fs.title].max_row == len(want_firings) + 1 and ro[fs.title].max_column == 14
    assert ro[ss.title].max_row == len(want_sources) + 1 and ro[ss.title].max_column == 4
    ro.close()
    assert fs.auto_filter.ref == f"A1:N{len(want_firings) + 1}"
    assert ss.auto_filter.ref == f"A1:D{len(want_sources) + 1}"
    assert fs.freeze_panes == "C2" and ss.freeze_panes == "A2"
    # styles: points as 0.00, text as text (quote prefix where Excel would see a formula)
    points = [r[8] for r in fs.iter_rows(min_row=2) if r[8].value is not None]
    assert points and all(c.number_format == "0.00" for c in points)
    for ws in (fs, ss):
        for row in ws.iter_rows(min_row=2):
            for c in row:
                if isinstance(c.value, str):
                    assert c.data_type == "s"
                    assert c.quotePrefix == c.value.startswith(FORMULA_LEADS), c.coordinate
                elif c.value is not None:
                    assert c.number_format == ("0.00" if c.column == 9 else "General")
    info = {r[0]: r[1] for r in wb[label(lang, "tr_run")].iter_rows(min_row=2, values_only=True)}
    assert label(lang, "firings_sheets") not in info            # one sheet is enough here


@pytest.mark.parametrize("name", ["sample", "awkward"])
def test_html_firings_equal_the_plain_trace(runs, name):
    # trace.html renders the same view of each firing as trace.xlsx: its data, decoded from
    # the indexes it is packed into, equals the plain trace
    stored, rows, chain, sl, file_name = runs[name]
    data = trace.html_payload(PERIOD, rows, stored, "zh", sl, file_name, chain)
    index = {(s, r["row"]): r for s, lst in rows.items() for r in lst}
    sheets = {labels.sheet_name(sl, s): s for s in labels.SHEET_ORDER}
    got = []
    for f in data["firings"]:
        rule, description = data["rules"][f[1]]
        srcs = [(sheets[data["sheets"][f[4][i]]], f[4][i + 1]) for i in range(0, len(f[4]), 2)]
        got.append([f[0], rule, description, data["mechanisms"][f[2]][0], f[3], srcs,
                    data["results"][f[5]], f[6], *f[7:12]])
    want = [[t.seq, t.rule, t.description, t.mechanism, t.subject, t.sources,
             label("zh", t.result), None if t.points is None else f"{t.points:.2f}", t.kind,
             t.review_id, t.status, t.assignee, t.explanation] for t in trace_rows(stored, "zh")]
    assert got == want and len(got) > 20
    keys = sorted({s for t in trace_rows(stored, "zh") for s in t.sources},
                  key=lambda k: (labels.SHEET_ORDER.get(k[0], 99), k[0], k[1]))
    assert [(sheets[data["sheets"][s]], r, text) for s, r, text in data["sources"]] == [
        (s, r, plain_cited(sl, s, index.get((s, r)))) for s, r in keys]


def test_trace_html_pins_its_assets_by_hash(runs, tmp_path):
    stored, rows, chain, sl, file_name = runs["sample"]
    page = trace.write_html(tmp_path / "trace.html", PERIOD, rows, stored, "en", sl, file_name,
                            chain).read_text("utf-8")
    assets = Path(trace.__file__).parent / "assets"
    css = (assets / "trace.css").read_text("utf-8")
    js = (assets / "trace.js").read_text("utf-8")
    style = re.search(r"<style>(.*?)</style>", page, re.S).group(1)
    script = re.search(r"<script>(.*?)</script>", page, re.S).group(1)
    assert style == "\n" + css and script == "\n" + js
    pin = lambda text: "'sha256-" + base64.b64encode(  # noqa: E731
        hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"
    assert f"script-src {pin(script)}; style-src {pin(style)};" in page


def test_assets_ship_as_package_data():
    # every file of reports/assets is matched by the package data of pyproject.toml, so a
    # wheel holds what trace.html inlines
    root = Path(trace.__file__).parent
    config = tomllib.loads((root.parent / "pyproject.toml").read_text("utf-8"))
    assert "reports.assets" in config["tool"]["setuptools"]["packages"]
    globs = config["tool"]["setuptools"]["package-data"]["reports.assets"]
    files = [p.name for p in (root / "assets").iterdir()]
    assert sorted(files) == ["trace.css", "trace.js"]
    assert all(any(fnmatch.fnmatch(f, g) for g in globs) for f in files)


def test_awkward_text_reaches_the_trace(runs, tmp_path):
    stored, rows, chain, sl, file_name = runs["awkward"]
    path = write_trace(tmp_path / "trace.xlsx", stored, rows, "zh", sl, file_name, chain)
    cited = {c for r in data_rows(openpyxl.load_workbook(path)["来源行"]) for c in r[3:]}
    text = "\n".join(cited)
    for needle in ('=HYPERLINK("http://x","y")', "leading and trailing space", "a & b <c>",
                   "+cmd|calc", "两行\n第二行", "@SUM(1,1)"):
        assert needle in text
    with zipfile.ZipFile(path) as z:
        for n in z.namelist():
            if n.startswith("xl/worksheets/"):
                xml = z.read(n)
                assert b"<f>" not in xml and b"<f " not in xml


def test_cited_values_equal_the_plain_ones(runs):
    _, rows, _, _, _ = runs["sample"]
    for lang in ("zh", "en"):
        for sheet, lst in rows.items():
            for r in lst:
                assert labels.cited_values(lang, sheet, r) == plain_cited(lang, sheet, r)
    row = {"row": 2, "kpi_id": "K", "name": "n", "target": Decimal("-0"),
           "actual": Decimal("0.0"), "direction": "higher"}
    for target in (Decimal("-0"), Decimal("0"), Decimal("-0.00"), Decimal("1E+2"),
                   Decimal("100"), Decimal("4.50"), Decimal("4.5"), Decimal("-7")):
        row["target"] = target
        for lang in ("zh", "en"):
            assert labels.cited_values(lang, "CompanyKPIs", row) == \
                plain_cited(lang, "CompanyKPIs", row)


# ----------------------------------------------------------------------------- same bytes

def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist() if n != "docProps/core.xml"}


def _generic(monkeypatch):
    """Render the Firings rows through the generic per-cell loop instead of trace's own."""
    def xml(self, firings, first_row, cells):
        return (cells.row(self.values(f), r) for r, f in enumerate(firings, first_row))
    monkeypatch.setattr(trace._FiringRows, "xml", xml)

    def source_xml(cited_of):
        def render(keys, first_row, cells):
            return (cells.row(v, r) for r, v in
                    enumerate(trace._source_values(keys, cited_of), first_row))
        return render
    monkeypatch.setattr(trace, "_source_xml", source_xml)


def odd_stored(stored: dict) -> dict:
    """A copy of a stored run with firings the fast path must hand to the generic rendering or
    render exactly as it would: text that needs escaping or a quote prefix, blank and missing
    subjects, sources as lists, many sources, a missing ledger row, outcomes with several notes,
    a huge explanation, rule ids that look like formulas."""
    firings = [dict(f) for f in stored["firings"]]
    extra = [
        {"rule": "=1+1", "subject_id": "@x", "outcome": {"outcomes": [{"note": "a & <b>"}]}},
        {"rule": "rating.accept", "subject_id": None, "outcome": {}},
        {"rule": "rating.accept", "subject_id": "", "outcome": {"outcomes": [{"flag": "x"}]}},
        {"rule": "rating.accept", "subject_id": " D1 ", "sources": [["InternalRatings", 2]],
         "outcome": {"outcomes": [{"note": "n1"}, {"note": "-n2"}, {"flag": "f"}]}},
        {"rule": "rating.accept", "subject_id": "D1", "sources": [("InternalRatings", 99_999)],
         "outcome": {"outcomes": [{"note": "x" * 40_000}]}},
        {"rule": "peripheral.blend", "subject_id": "M", "outcome": {"outcomes": []},
         "sources": [("InternalRatings", r) for r in range(2, 12)] + [("Departments", 3)]},
        {"rule": "rating.accept", "subject_id": "D1", "sources": [],
         "outcome": {"outcomes": [{"note": "_x0041_ \t\r"}]}},
        {"rule": "rating.accept", "subject_id": "=D1", "outcome": {"outcomes": [{"note": "+"}]}},
    ]
    seq = max(f["seq"] for f in firings)
    first_sources = firings[0]["sources"]
    for i, e in enumerate(extra, 1):
        firings.append(dict({"id": seq + i, "run_id": 1, "seq": seq + i,
                             "sources": first_sources}, **e))
    return dict(stored, firings=firings)


@pytest.mark.parametrize("name", ["sample", "awkward"])
def test_streamed_rows_are_the_generic_rendering(runs, name, tmp_path, monkeypatch):
    stored, rows, chain, sl, file_name = runs[name]
    stored = odd_stored(stored)
    fast = write_trace(tmp_path / "fast.xlsx", stored, rows, "zh", sl, file_name, chain)
    _generic(monkeypatch)
    slow = write_trace(tmp_path / "slow.xlsx", stored, rows, "zh", sl, file_name, chain)
    assert _members(fast) == _members(slow)
    # and both show the plain trace
    want_firings, want_sources = plain_trace(stored, rows, "zh", sl)
    wb = openpyxl.load_workbook(fast)
    got = data_rows(wb["规则触发"])
    assert len(got) == len(want_firings)
    for g, w in zip(got, want_firings):
        if any(isinstance(x, str) and "_x0041_" in x for x in w):
            continue                # Excel's escape of "_x0041_" reads back as written text
        assert g == as_read(w)
    assert data_rows(wb["来源行"]) == [as_read(v) for v in want_sources]


# ----------------------------------------------------------------------------- many sheets

def test_firings_beyond_one_sheet_continue_on_further_sheets(runs, tmp_path, monkeypatch):
    stored, rows, chain, sl, file_name = runs["sample"]
    n = len(stored["firings"])
    per = 97                                     # data rows per sheet
    monkeypatch.setattr(trace, "SHEET_ROWS", per + 1)
    path = write_trace(tmp_path / "trace.xlsx", stored, rows, "en", sl, file_name, chain)
    want_firings, want_sources = plain_trace(stored, rows, "en", sl)
    k, ks = -(-n // per), -(-len(want_sources) // per)
    assert k >= 3 and ks >= 2
    firing_sheets = ["Firings"] + [f"Firings ({i})" for i in range(2, k + 1)]
    source_sheets = ["Sources"] + [f"Sources ({i})" for i in range(2, ks + 1)]
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Run", *firing_sheets, *source_sheets, "Why not"]
    got = []
    for i, title in enumerate(firing_sheets):
        ws = wb[title]
        assert [c.value for c in ws[1]] == [label("en", c) for c in trace.FIRING_KEYS]
        part = data_rows(ws)
        assert len(part) == (per if i < k - 1 else n - per * (k - 1))
        assert ws.auto_filter.ref == f"A1:N{len(part) + 1}" and ws.freeze_panes == "C2"
        assert ws.column_dimensions["B"].width == wb["Firings"].column_dimensions["B"].width
        got += part
    assert got == [as_read(v) for v in want_firings]
    got = []
    for title in source_sheets:
        assert [c.value for c in wb[title][1]] == ["source rows", "sheet", "row", "values"]
        got += data_rows(wb[title])
    assert got == [as_read(v) for v in want_sources]
    info = {r[0]: r[1] for r in wb["Run"].iter_rows(min_row=2, values_only=True)}
    assert info["firing sheets"] == (
        f"{n:,} rows, more than one sheet holds, on {k} sheets: {', '.join(firing_sheets)} "
        f"(at most {per:,} rows each)")
    assert info["source-row sheets"].startswith(f"{len(want_sources):,} rows, more than one")
    assert info["firings"] == str(n)


def test_split_is_announced_in_chinese(runs, tmp_path, monkeypatch):
    stored, rows, chain, sl, file_name = runs["awkward"]
    monkeypatch.setattr(trace, "SHEET_ROWS", 11)
    n = len(stored["firings"])
    path = write_trace(tmp_path / "trace.xlsx", stored, rows, "zh", sl, file_name, chain)
    wb = openpyxl.load_workbook(path)
    k = -(-n // 10)
    assert wb.sheetnames[1:k + 1] == ["规则触发"] + [f"规则触发 ({i})" for i in range(2, k + 1)]
    info = {r[0]: r[1] for r in wb["运行信息"].iter_rows(min_row=2, values_only=True)}
    assert info["规则触发工作表"].startswith(
        f"共 {n:,} 行，超出单个工作表的行数上限，分在 {k} 个工作表：规则触发, 规则触发 (2)")


def test_exactly_full_sheets_and_an_empty_trace(runs, tmp_path, monkeypatch):
    stored, rows, chain, sl, file_name = runs["awkward"]
    n = len(stored["firings"])
    monkeypatch.setattr(trace, "SHEET_ROWS", n + 1)          # exactly one full sheet
    wb = openpyxl.load_workbook(write_trace(tmp_path / "a.xlsx", stored, rows, "en", sl,
                                            file_name, chain))
    assert [t for t in wb.sheetnames if t.startswith("Firings")] == ["Firings"]
    assert len(data_rows(wb["Firings"])) == n
    empty = dict(stored, firings=[], adjustments=[], exceptions=[])
    wb = openpyxl.load_workbook(write_trace(tmp_path / "b.xlsx", empty, rows, "en", sl,
                                            file_name, chain))
    assert data_rows(wb["Firings"]) == [] and data_rows(wb["Sources"]) == []
    assert wb["Firings"].auto_filter.ref == "A1:N2"


# ----------------------------------------------------------------------------- the writers

def test_number_formats_go_to_number_cells_only(tmp_path):
    import datetime as dt
    wb = Workbook()
    ws = wb.active
    bulk = BulkWriter(wb)
    rows = [(1, Decimal("2.5"), "=x", True, dt.date(2026, 11, 3), None, 7.25),
            ("t", None, Decimal("-0.00"), False, "", 3, Decimal("1E+3"))]
    bulk.add_rows(ws, (r for r in rows), ncols=7, first_row=1, count=2,
                  formats={"A": "0.00", "B": "0.00", "C": "0.00", "D": "0.00", "G": "0.0"})
    bulk.save(tmp_path / "x.xlsx")
    got = openpyxl.load_workbook(tmp_path / "x.xlsx").active
    formats = [[c.number_format for c in r] for r in got.iter_rows(max_col=7)]
    assert formats == [["0.00", "0.00", "General", "General", "yyyy-mm-dd", "General", "0.0"],
                       ["General", "General", "0.00", "General", "General", "General", "0.0"]]
    assert got["C1"].quotePrefix and got["C1"].value == "=x" and got["G2"].value == 1000


def test_a_sheets_memo_of_text_tails_holds_at_most_its_size_and_writes_the_same(tmp_path,
                                                                                 monkeypatch):
    """BulkWriter.add_rows(memo_size=): a sheet keeps at most that many short texts' cell tails
    (4,096 unless said: 50,000 of subjects and review ids held 15 MB of trace.xlsx at 100,000
    employees); the rest are made again, the same cells."""
    from reports import workbook
    held = []
    real = workbook.CellXml.__init__

    def spy(self, *a, **kw):
        real(self, *a, **kw)
        held.append(self)
    monkeypatch.setattr(workbook.CellXml, "__init__", spy)
    rows = [(f"E{i % 40}", f"R{i}", i, "=x" if i % 7 == 0 else "a<b") for i in range(500)]

    def write(path, size):
        wb = Workbook()
        bulk = BulkWriter(wb)
        bulk.add_rows(wb.active, iter(rows), ncols=4, count=len(rows), memo_size=size)
        bulk.save(path)
        with zipfile.ZipFile(path) as z:
            return z.read("xl/worksheets/sheet1.xml")
    assert write(tmp_path / "a.xlsx", 3) == write(tmp_path / "b.xlsx", None)
    assert [len(c.memo) for c in held] == [3, 500 + 40 + 2]
    # the default: 4,096 of 5,000 texts seen once
    rows[:] = [(f"T{i}",) for i in range(5000)]
    write(tmp_path / "c.xlsx", None)
    assert len(held[-1].memo) == 4096


def test_announced_row_count_is_checked(tmp_path):
    wb = Workbook()
    bulk = BulkWriter(wb)
    bulk.add_rows(wb.active, iter([(1,), (2,)]), ncols=1, count=3)
    with pytest.raises(ValueError, match="2 written, 3 announced"):
        bulk.save(tmp_path / "x.xlsx")
    assert not (tmp_path / "x.xlsx").exists()


def test_big_members_take_zip64_records(tmp_path, monkeypatch):
    # a sheet past 4 GB cannot be written here: with the threshold lowered, every size and
    # offset past it takes ZIP64 records, and the file reads back the same
    from reports import workbook

    def write(path):
        wb = Workbook()
        bulk = BulkWriter(wb)
        bulk.add_rows(wb.active, ((i, f"text {i}", Decimal(i) / 4) for i in range(2000)),
                      ncols=3, count=2000)
        bulk.save(path)
        return path

    plain = write(tmp_path / "plain.xlsx")
    monkeypatch.setattr(workbook, "ZIP64_LIMIT", 1000)
    big = write(tmp_path / "big.xlsx")
    data = big.read_bytes()
    assert b"PK\x06\x06" in data and b"PK\x06\x07" in data      # ZIP64 end and locator
    assert b"PK\x06\x06" not in plain.read_bytes()
    with zipfile.ZipFile(big) as z:
        assert z.testzip() is None
        sheet = z.getinfo("xl/worksheets/sheet1.xml")
        assert sheet.file_size > 1000 and sheet.header_offset > 1000
    assert _members(big) == _members(plain)
    rows = [list(r) for r in openpyxl.load_workbook(big).active.iter_rows(values_only=True)]
    assert rows[1999] == [1998, "text 1998", 499.5] and len(rows) == 2001    # rows 2-2001
    from python_calamine import CalamineWorkbook
    assert CalamineWorkbook.from_path(str(big)).get_sheet_by_index(0).to_python()[1] == [
        1.0, "text 1", 0.25]


def test_a_file_puts_its_own_filter_where_the_skeleton_has_none(tmp_path):
    from reports.workbook import SheetFill, Skeleton
    wb = Workbook()
    wb.active.title = "A"
    wb.create_sheet("B")
    skeleton = Skeleton(wb)
    row = '<row r="2"><c r="A2"><v>1</v></c></row>'
    for n, ref in ((1, "A1:B2"), (2, "A1:B3")):       # each file its own range
        path = skeleton.write(tmp_path / f"{n}.xlsx", {"A": SheetFill(row, 2, 2,
                                                                      auto_filter=ref)})
        got = openpyxl.load_workbook(path)
        assert got["A"].auto_filter.ref == ref and got["A"]["A2"].value == 1
        assert not got["B"].auto_filter.ref
        with zipfile.ZipFile(path) as z:
            assert '<dimension ref="A1:B2" />' in z.read("xl/worksheets/sheet1.xml").decode()
            assert (f"<definedName name=\"_xlnm._FilterDatabase\" localSheetId=\"0\" "
                    f"hidden=\"1\">'A'!{'$A$1:$B$2' if n == 1 else '$A$1:$B$3'}</definedName>"
                    in z.read("xl/workbook.xml").decode())
    with pytest.raises(KeyError, match="C"):
        skeleton.write(tmp_path / "c.xlsx", {"C": SheetFill("", 2, 1)})
    # a skeleton with a filter of its own would get a second one, or lose its name: refused
    wb.create_sheet("D").auto_filter.ref = "A1:B9"
    with pytest.raises(ValueError, match="takes no filter"):
        Skeleton(wb).write(tmp_path / "d.xlsx", {"A": SheetFill("", 2, 1, auto_filter="A1:B2")})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["1.xlsx", "2.xlsx"]


def test_compression_level_is_the_writers_choice(tmp_path):
    sizes = {}
    for level in (None, 1, 9):
        wb = Workbook()
        bulk = BulkWriter(wb, compresslevel=level)
        bulk.add_rows(wb.active, [(i, f"text {i % 97}", Decimal(i) / 7) for i in range(3000)],
                      ncols=3)
        bulk.save(tmp_path / f"{level}.xlsx")
        sizes[level] = (tmp_path / f"{level}.xlsx").stat().st_size
        assert _members(tmp_path / f"{level}.xlsx") == _members(tmp_path / "None.xlsx")
    assert sizes[1] > sizes[None] >= sizes[9]


@pytest.mark.parametrize("name", ["sample", "awkward"])
def test_json_files_are_json_dump_of_build(runs, name, tmp_path):
    stored, rows, _, _, _ = runs[name]
    for s in (stored, dict(stored, firings=[], adjustments=[], exceptions=[])):
        out = tmp_path / ("full" if s is stored else "empty")
        written = json_files.write(out, PERIOD, rows, s)
        assert [p.name for p in written] == ["scores.json", "adjustments.json",
                                             "exceptions.json", "trace.json"]
        for name_, payload in json_files.build(PERIOD, rows, s).items():
            want = json.dumps(payload, ensure_ascii=False, indent=1) + "\n"
            assert (out / name_).read_text("utf-8") == want, name_


def test_dump_of_flat_dicts_is_json_dump():
    items = [{"a": 1, "b": "x", "c": 1.5, "d": float("nan"), "e": float("-inf"), "f": True,
              "g": None, "h": 2**70, "i": -0.0, "j": "中\n\"\\", "k": False},
             {"k": [1, {"x": 2}]}, {}, {"z": {"y": 1}}, {"w": [{"n": 1.0}]}]
    for obj in (items, {"top": items}, [items], [], {}, items[:4]):
        want = io.StringIO()
        json.dump(obj, want, ensure_ascii=False, indent=1)
        got = io.StringIO()
        json_files.dump(obj, got)
        assert got.getvalue() == want.getvalue()
    got = io.StringIO()
    json_files.dump_items(iter(items[:4]), got)
    assert got.getvalue() == json.dumps(items[:4], ensure_ascii=False, indent=1)


@given(st.lists(st.integers(min_value=0, max_value=30), max_size=40), st.booleans(),
       st.lists(st.integers(min_value=-1, max_value=32), max_size=30))
def test_items_by_seq_are_each_firings_items_in_stored_order(seqs, on_file, asked):
    """reports.view.ItemsBySeq, which the trace reads a run's adjustments and exceptions
    through beside the firings: a seq's items, in stored order, asked in seq order (as the
    trace asks), again, or out of order; from a list or a file, in seq order or not."""
    items = [{"id": i + 1, "firing_seq": seq, "ord": i + 1} for i, seq in enumerate(seqs)]
    if on_file:
        given_items = SpooledRows(("id", "firing_seq", "ord"))
        given_items.extend([tuple(i.values()) for i in items])
    else:
        given_items = items
    by_seq = ItemsBySeq(given_items)
    for seq in [*sorted(asked), *asked, *sorted(set(seqs))]:
        assert by_seq.get(seq) == [i for i in items if i["firing_seq"] == seq]
        assert (seq in by_seq.marks) == (seq in seqs)

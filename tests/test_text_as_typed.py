"""Free text exactly as typed, from the ledger cell to every output (SPEC §10.1): an auditor
reading the cited values reads the cells. Issue seen: "核实属实，响应确实及时" was stored and cited
as "核实属实,响应确实及时" (NFKC turned the full-width comma into an ASCII one)."""
import json
import zipfile

import openpyxl

import xietong
from reports.template import write_ledger
from tests.ledgers import PERIOD, worked_example

COMMENT = "核实属实，响应确实及时。\n第二行  两个空格：结束"
DIMENSION = "响应速度（工单）"
EVIDENCE = "纪要 No.１２，第３页"


def _texts_of_workbook(path) -> set[str]:
    book = openpyxl.load_workbook(path, read_only=True)
    return {v for ws in book.worksheets for row in ws.iter_rows(values_only=True)
            for v in row if isinstance(v, str)}


def test_free_text_reaches_every_output_as_typed(tmp_path, db_url):
    b = worked_example()
    for r in b.rows["InternalRatings"]:
        r["dimension"] = DIMENSION
    extreme = next(r for r in b.rows["InternalRatings"] if r["rating_id"] == "R3")
    extreme["comment"] = COMMENT
    b.behaviour("B1", "E31", "SHARE", 1, "E30")
    b.rows["Behaviours"][-1]["evidence"] = EVIDENCE
    ledger = tmp_path / "台账.xlsx"
    write_ledger(ledger, b.build().rows, lang="zh")
    with xietong.open_database(db_url) as db:
        xietong.import_ledger(db, ledger, PERIOD)
        stored = {r["rating_id"]: r for r in xietong.ledger_rows(db, PERIOD, "InternalRatings")}
        assert (stored["R3"]["comment"], stored["R3"]["dimension"]) == (COMMENT, DIMENSION)
        (beh,) = xietong.ledger_rows(db, PERIOD, "Behaviours")
        assert beh["evidence"] == EVIDENCE
        xietong.evaluate(db, PERIOD)
        xietong.report(db, PERIOD, tmp_path / "out")
    out = tmp_path / "out"
    exceptions = json.loads((out / "exceptions.json").read_text("utf-8"))
    held = next(e for e in exceptions if e["kind"] == "RATING_EXTREME")
    assert DIMENSION in held["message"]
    # the auditor's trace and the manager's review workbook cite the comment cell as typed
    trace_texts = _texts_of_workbook(out / "trace.xlsx")
    assert any(f"评价说明={COMMENT}" in t for t in trace_texts)
    assert any(f"事实依据={EVIDENCE}" in t for t in trace_texts)
    assert any(COMMENT in t for t in _texts_of_workbook(out / "reviews" / f"{held['assignee_id']}.xlsx"))
    page = (out / "trace.html").read_text("utf-8")
    assert json.dumps(COMMENT, ensure_ascii=False)[1:-1] in page or COMMENT in page
    # and the workbooks hold it as text, never a formula
    with zipfile.ZipFile(out / "trace.xlsx") as z:
        assert not any("<f>" in z.read(n).decode("utf-8") for n in z.namelist()
                       if n.startswith("xl/worksheets/"))

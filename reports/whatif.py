"""What-if files (SPEC §11.6): `whatif.json` and `whatif.xlsx` — per department and employee per
month, the current final (the latest run), the alternative final (the stored ledger and
decisions under the other policy, nothing stored), the difference, and the rules whose points
differ with the points of each.

Both take the plain dict xietong.api.whatif builds:

    {"range": "2026-Q4", "policy": {"file", "sha256"},
     "months": ["2026-10", …],                      # evaluated under the alternative
     "skipped": [{"period", "reason", "lines"}],    # no import; refused (its Reviews rows)
     "departments": [{"dept_id", "name", "months": {"2026-10": {"current", "alternative",
                       "difference", "rules": [{"rule", "current", "alternative"}]}}}],
     "employees": [{"employee_id", "name", "months": {…}}]}

whatif.json is that dict with points as numbers rounded to 2 decimals (null: no figure);
whatif.xlsx has a sheet per subject type, a row per subject and month, and a sheet saying what
was compared. Words in the report's language; ids, rule ids and hashes as they are.
"""
from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

from openpyxl import Workbook

from importers.lang import Text
from reports import summary
from reports.workbook import BulkWriter, fit_width, header, item_sheet, landscape

LABELS: dict[str, Text] = {
    "departments": Text(zh="部门", en="Departments"),
    "employees": Text(zh="员工", en="Employees"),
    "about": Text(zh="说明", en="About"),
    "dept_id": Text(zh="部门编号", en="dept_id"),
    "employee_id": Text(zh="工号", en="employee_id"),
    "name": Text(zh="名称", en="name"),
    "month": Text(zh="月份", en="month"),
    "current": Text(zh="当前最终分", en="current final"),
    "alternative": Text(zh="替代政策最终分", en="alternative final"),
    "difference": Text(zh="差额", en="difference"),
    "rules": Text(zh="分值不同的规则（当前 → 替代）", en="rules whose points differ (current → alternative)"),
    "item": Text(zh="项目", en="item"),
    "value": Text(zh="内容", en="value"),
    "range": Text(zh="范围", en="range"),
    "policy_file": Text(zh="替代政策文件", en="alternative policy file"),
    "policy_sha256": Text(zh="替代政策 SHA-256", en="alternative policy SHA-256"),
    "evaluated": Text(zh="已试算的月份", en="months evaluated"),
    "skipped": Text(zh="跳过的月份", en="months skipped"),
    "no_import": Text(zh="没有导入台账", en="no ledger imported"),
    "refused": Text(zh="台账的复核结论在替代政策下被拒绝", en="its ledger's Reviews rows were refused under the alternative"),
    "note": Text(zh="当前最终分取自各月最近一次评估；替代最终分为当前台账与复核结论在替代政策下的试算结果，"
                    "未写入数据库。空白：该月没有评估，或员工没有个人绩效得分。",
                 en="Current finals are the latest run of each month; alternative finals are the "
                    "active ledger and decisions evaluated under the alternative policy, stored "
                    "nowhere. Blank: the month has no run, or the employee has no base score."),
}


def label(lang: str, key: str) -> str:
    return LABELS[key].pick(lang)


def range_text(lang: str, name: str) -> str:
    """A range as people read it, as the summary writes it (2026 年第 4 季度, 2026 年); a
    month (YYYY-MM) is the same in both languages."""
    if re.fullmatch(r"\d{4}-\d{2}", name):
        return name
    return summary.range_text(lang, name)


def _num(d: Decimal | None):
    return None if d is None else float(d.quantize(Decimal("0.01")))


def _json_month(m: dict) -> dict:
    return {"current": _num(m["current"]), "alternative": _num(m["alternative"]),
            "difference": _num(m["difference"]),
            "rules": [{"rule": r["rule"], "current": _num(r["current"]),
                       "alternative": _num(r["alternative"])} for r in m["rules"]]}


def as_json(data: dict) -> dict:
    """whatif.json's content: `data` with points as numbers rounded to 2 decimals."""
    out = {k: data[k] for k in ("range", "policy", "months", "skipped")}
    for kind, key in (("departments", "dept_id"), ("employees", "employee_id")):
        out[kind] = [{key: s[key], "name": s["name"],
                      "months": {p: _json_month(m) for p, m in s["months"].items()}}
                     for s in data[kind]]
    return out


def write(out_dir, data: dict, lang: str) -> list[Path]:
    """whatif.json and whatif.xlsx in `out_dir`; returns their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / "whatif.json"
    json_path.write_text(json.dumps(as_json(data), ensure_ascii=False, indent=1) + "\n", "utf-8")
    return [json_path, _write_xlsx(out_dir / "whatif.xlsx", data, lang)]


def rules_text(rules: list[dict]) -> str:
    """`interlock.reward 3.00 → 3.18; …`"""
    return "; ".join(f"{r['rule']} {r['current']:.2f} → {r['alternative']:.2f}" for r in rules)


def _write_xlsx(path: Path, data: dict, lang: str) -> Path:
    wb = Workbook()
    about = wb.active
    about.title = label(lang, "about")
    skipped = "; ".join(f"{s['period']} ({label(lang, s['reason'])})" for s in data["skipped"])
    item_sheet(about, [label(lang, "item"), label(lang, "value")], [
        (label(lang, "range"), range_text(lang, data["range"])),
        (label(lang, "policy_file"), data["policy"]["file"] or ""),
        (label(lang, "policy_sha256"), data["policy"]["sha256"]),
        (label(lang, "evaluated"), ", ".join(data["months"])),
        (label(lang, "skipped"), skipped),
        ("", label(lang, "note")),
    ])
    bulk = BulkWriter(wb)
    for kind, key in (("departments", "dept_id"), ("employees", "employee_id")):
        ws = wb.create_sheet(label(lang, kind))
        titles = [label(lang, k) for k in (key, "name", "month", "current", "alternative",
                                            "difference", "rules")]
        header(ws, titles)
        rows = [[s[key], s["name"], p, m["current"], m["alternative"], m["difference"],
                 rules_text(m["rules"])]
                for s in data[kind] for p, m in sorted(s["months"].items())]
        for col, width in zip("ABCDEFG", [fit_width([titles[0]] + [r[0] for r in rows[:2000]]),
                                          fit_width([titles[1]] + [r[1] for r in rows[:2000]]),
                                          10, 14, 14, 12, 60]):
            ws.column_dimensions[col].width = width
        ws.freeze_panes = "D2"
        ws.auto_filter.ref = f"A1:G{len(rows) + 1}"
        landscape(ws)
        bulk.add_rows(ws, rows, ncols=len(titles),
                      formats={"D": "0.00", "E": "0.00", "F": "+0.00;-0.00;0.00"})
    return bulk.save(path)

"""A stored run as the statement's numbers: per department base, one total per mechanism and
final; per employee base, behaviour points (after cap) and final. Only sums of the stored,
already-rounded adjustments: a report never recomputes a score, so every statement adds up to
what the trace shows."""
from __future__ import annotations

from decimal import Decimal

DEPT_MECHANISMS = ("linkage", "peripheral", "raci", "interlock")
ZERO = Decimal("0.00")


def statement(rows: dict[str, list[dict]], adjustments: list[dict]) -> dict:
    by_dept = {d["dept_id"]: {m: ZERO for m in DEPT_MECHANISMS} for d in rows["Departments"]}
    by_emp = {e["employee_id"]: ZERO for e in rows["Employees"]}
    for a in adjustments:
        if a["subject_type"] == "department" and a["subject_id"] in by_dept:
            by_dept[a["subject_id"]][a["mechanism"]] += a["points"]
        elif a["subject_type"] == "employee" and a["subject_id"] in by_emp:
            by_emp[a["subject_id"]] += a["points"]
    departments = []
    for d in sorted(rows["Departments"], key=lambda r: r["dept_id"]):
        by = by_dept[d["dept_id"]]
        departments.append({"dept_id": d["dept_id"], "name": d["name"], "tier": d["tier"],
                            "base": d["base_score"], "by_mechanism": by,
                            "final": d["base_score"] + sum(by.values(), ZERO)})
    employees = []
    for e in sorted(rows["Employees"], key=lambda r: r["employee_id"]):
        base = e.get("base_score")
        beh = by_emp[e["employee_id"]]
        employees.append({"employee_id": e["employee_id"], "name": e["name"],
                          "dept_id": e["dept_id"], "base": base, "behaviour": beh,
                          "final": None if base is None else base + beh})
    return {"departments": departments, "employees": employees}

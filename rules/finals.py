"""Finals (SPEC §2): a subject's final score is its base plus the sum of its rounded adjustments.
Per department: base, one total per mechanism, final; per employee: base, behaviour points
(after the cap), final. Only sums of already-rounded adjustments, so every statement adds up to
what the trace shows: the evaluation and every report take their figures from here."""
from __future__ import annotations

from decimal import Decimal
from typing import Iterator

from importers.columns import sorted_rows

DEPT_MECHANISMS = ("linkage", "peripheral", "raci", "interlock")
ZERO = Decimal("0.00")


def finals(rows: dict[str, list[dict]], adjustments: list[dict]) -> dict:
    departments, employees = finals_streamed(rows, adjustments)
    return {"departments": departments, "employees": list(employees)}


def finals_streamed(rows: dict, adjustments) -> tuple[list[dict], Iterator[dict]]:
    """finals' (departments, employees), the employees made one at a time as they are taken
    (in the same order): a report writing them out never holds them all (100,000 of them were
    40 MB)."""
    by_dept = {d["dept_id"]: {m: ZERO for m in DEPT_MECHANISMS} for d in rows["Departments"]}
    # the employees with an adjustment only (read for the ledger's employees alone): a zero
    # for each of 100,000 employees was a 3.7 MB table in the statement's writer
    by_emp: dict[str, Decimal] = {}
    for a in adjustments:
        if a["subject_type"] == "department" and a["subject_id"] in by_dept:
            by_dept[a["subject_id"]][a["mechanism"]] += a["points"]
        elif a["subject_type"] == "employee":
            subject = a["subject_id"]
            by_emp[subject] = by_emp.get(subject, ZERO) + a["points"]
    departments = []
    for d in sorted(rows["Departments"], key=lambda r: r["dept_id"]):
        by = by_dept[d["dept_id"]]
        departments.append({"dept_id": d["dept_id"], "name": d["name"], "tier": d["tier"],
                            "base": d["base_score"], "by_mechanism": by,
                            "final": d["base_score"] + sum(by.values(), ZERO)})

    def employees() -> Iterator[dict]:
        # in the order of their ids, none held as a dict when they are held by column
        for e in sorted_rows(rows["Employees"], "employee_id"):
            base = e.get("base_score")
            beh = by_emp.get(e["employee_id"], ZERO)
            yield {"employee_id": e["employee_id"], "name": e["name"], "dept_id": e["dept_id"],
                   "base": base, "behaviour": beh, "final": None if base is None else base + beh}
    return departments, employees()


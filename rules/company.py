"""The company as the rules see it: master data indexed for the lookups the mechanisms need.

Built once per evaluation from the ledger's Departments, Employees and Projects rows. The
import has already refused broken master data (unknown departments, manager cycles), so the
walks here terminate; they still guard against a cycle because a rule must never hang.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from importers.columns import RowsByKey, rows_by
from rules.policy import normalize_label


def norm_dimension(text: str | None) -> str:
    """SPEC §5.2: dimensions match after NFKC, trimming, collapsing inner whitespace, case-folding
    — the same matching as behaviour codes (rules.policy.normalize_label)."""
    return "" if text is None else normalize_label(text)


def is_blank(text) -> bool:
    """A blank evidence or comment: empty, or whitespace only."""
    return text is None or str(text).strip() == ""


def _field(people: Mapping[str, dict], who: str, name: str):
    """Column `name` of a person's row (None: no such person), without building the row when
    the people are looked up in columns."""
    if type(people) is RowsByKey:
        return people.value(who, name)
    row = people.get(who)
    return row[name] if row else None


@dataclass
class Company:
    employees: Mapping[str, dict]
    departments: dict[str, dict]
    projects: dict[str, dict]
    _ancestors: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False)

    @classmethod
    def from_rows(cls, rows: dict[str, list[dict]]) -> "Company":
        return cls(
            employees=rows_by(rows.get("Employees", []), "employee_id"),
            departments={r["dept_id"]: r for r in rows.get("Departments", [])},
            projects={r["project_id"]: r for r in rows.get("Projects", [])},
        )

    def manager_of(self, employee_id: str) -> str | None:
        return _field(self.employees, employee_id, "manager_id")

    def dept_of(self, employee_id: str) -> str | None:
        return _field(self.employees, employee_id, "dept_id")

    def tier_of_dept(self, dept_id: str) -> str | None:
        d = self.departments.get(dept_id)
        return d["tier"] if d else None

    def ancestors(self, employee_id: str) -> tuple[str, ...]:
        """The manager chain above an employee, nearest first (not including the employee)."""
        cached = self._ancestors.get(employee_id)
        if cached is not None:
            return cached
        chain: list[str] = []
        seen = {employee_id}
        cur = self.manager_of(employee_id)
        while cur is not None and cur not in seen and cur in self.employees:
            chain.append(cur)
            seen.add(cur)
            cur = self.manager_of(cur)
        result = tuple(chain)
        self._ancestors[employee_id] = result
        return result

    def is_above(self, boss: str, employee_id: str) -> bool:
        return boss in self.ancestors(employee_id)

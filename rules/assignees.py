"""Who decides an exception (SPEC §5): `HR` for every rejection; for a review, a person found by
walking up the manager chain.

A rating review goes to the rater's manager, a behaviour review to the proposer's manager, an
interlock post-mortem to the party department's manager; where that person is missing, or is the
one the item is about, one more level up the chain, and `HR` at the top. The article (三.1):
「可以设置“异常评分复核机制”——出现极端高低分时,由HR或上级复核实际情况。」

Pure: the rule books call these with the company's rows; the reference implementation
(tests/reference.py) walks the chain on its own.
"""
from __future__ import annotations

from typing import Iterable, Mapping

HR = "HR"


def assignee(employees: Mapping[str, Mapping], start_id: str | None,
             excluded_ids: Iterable[str] = (), excluded_dept: str | None = None) -> str:
    """Walk up the manager chain from `start_id` to the first person who may decide; `HR` at the
    top. `employees` maps employee_id → a row with "manager_id" and "dept_id".

    A candidate is passed over (one more level up) when missing (blank or unknown id), listed in
    `excluded_ids` (the employee who received the points), or a member of `excluded_dept` (the
    rated department). Start from the rater's manager, the proposer's manager or the party
    department's manager (SPEC §5).
    """
    excluded = set(excluded_ids)
    seen: set[str] = set()
    current = start_id
    while current is not None and current not in seen:
        seen.add(current)               # the import refuses manager cycles; this is a backstop
        person = employees.get(current)
        if person is None:
            return HR                   # an unknown id has no chain to climb
        if current not in excluded and (excluded_dept is None
                                        or person.get("dept_id") != excluded_dept):
            return current
        current = person.get("manager_id")
    return HR


def rating_review_assignee(employees: Mapping[str, Mapping], rater_id: str,
                           ratee_dept_id: str) -> str:
    """A rating review: the rater's manager, passing over members of the rated department."""
    rater = employees.get(rater_id)
    start = rater.get("manager_id") if rater else None
    return assignee(employees, start, excluded_dept=ratee_dept_id)


def behaviour_review_assignee(employees: Mapping[str, Mapping], proposer_id: str,
                              employee_id: str) -> str:
    """A behaviour review: the proposer's manager, passing over the employee who got the points."""
    proposer = employees.get(proposer_id)
    start = proposer.get("manager_id") if proposer else None
    return assignee(employees, start, excluded_ids=(employee_id,))


def interlock_review_assignee(employees: Mapping[str, Mapping],
                              departments: Mapping[str, Mapping], dept_id: str) -> str:
    """An interlock post-mortem: the party department's manager (its own member, by design)."""
    dept = departments.get(dept_id)
    return assignee(employees, dept.get("manager_id") if dept else None)

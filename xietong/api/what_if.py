"""What-if (SPEC §11.6): each month's stored ledger and decisions evaluated under an
alternative policy in forked children, beside its latest run; nothing is stored.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from xietong import i18n
from xietong.api.base import Database, Progress, Refused, _existing
from xietong.api.month import load_policy_or_refuse


@dataclass
class WhatIfChange:
    """One subject's change in one month, for the terminal's list of the largest."""
    subject_type: str              # "department" | "employee"
    subject_id: str
    name: str
    period: str
    current: object                # Decimal | None
    alternative: object
    difference: object


@dataclass
class WhatIfResult:
    range: str
    policy_file: str | None
    policy_sha256: str
    months: list[str]              # evaluated under the alternative
    skipped: list[dict]            # {"period", "reason": "no_import" | "refused", "lines"}
    data: dict                     # what whatif.json holds (reports/whatif.py), points exact
    files: list[Path]
    largest: list[WhatIfChange]    # the largest |difference| first


def whatif_months(*, period: str | None = None, quarter: str | None = None,
                  year: str | int | None = None) -> tuple[str, list[str]]:
    """(the range's name, its months) for exactly one of period "YYYY-MM", quarter "YYYY-Qn",
    year YYYY (a quarter or a year as the summary reads it: evaluator.history.months_of)."""
    from evaluator.history import months_of
    if sum(x is not None for x in (period, quarter, year)) != 1:
        raise ValueError("give exactly one of period, quarter, year")
    if period is not None:
        return period, [period]
    return months_of(year, quarter)


def whatif(db: Database, policy, months: list[str], out_dir, *, range_name: str | None = None,
           lang: str | None = None, progress: Progress | None = None, largest: int = 10,
           workers: int | None = None) -> WhatIfResult:
    """SPEC §11.6: each month's stored active ledger and decisions evaluated under `policy`
    (a TOML path or a rules.policy.Policy) in memory, beside its latest run; stores nothing.
    Writes whatif.json and whatif.xlsx into `out_dir`. A policy with errors is refused before
    anything is read, with the messages of `policy check`; months without an import are listed
    in `skipped` and the others evaluated. The months are evaluated in parallel processes,
    `workers` at a time (default: every core this process may use), each figure equal to what
    `evaluate --policy` would store (evaluator/whatif.py)."""
    from engine.isolation import ChildError, EvaluationCrashed, Forked
    from evaluator.whatif import differences, month_figures, read_month
    from reports import whatif as files
    lang = lang or "en"
    alternative = load_policy_or_refuse(policy, lang)       # refused before anything is read
    _existing(db, lang)
    cores = _cores() if workers is None else max(1, workers)
    months = sorted(dict.fromkeys(months))
    inner = max(1, cores // max(1, min(len(months), cores)))   # feed workers inside a month
    running: list[tuple[str, Forked]] = []
    figures, skipped = {}, []

    def collect(block: bool) -> None:
        while running and (block or len(running) >= cores):
            period, child = running.pop(0)
            try:
                figures[period] = child.result()
            except (ChildError, EvaluationCrashed) as e:
                raise Refused([i18n.t(lang, "evaluation_failed",
                                      error=f"{period}: {getattr(e, 'kind', 'crash')}: {e}")]
                              ) from None
            if progress is not None:
                progress("whatif", len(figures), len(months), "months")

    try:
        for period in months:
            month = read_month(db.engine, period, alternative)
            if month is None:
                skipped.append({"period": period, "reason": "no_import", "lines": []})
                continue
            collect(block=False)
            # a forked child per month (a native crash of the engine fails the what-if, not
            # the process), `cores` at a time; reading the next month overlaps their work
            running.append((period, Forked(month_figures, month, alternative, lang, inner,
                                           point="whatif")))
            del month                      # the child has its copy
        collect(block=True)
    finally:
        for _, child in running:
            child.cancel()
    data = {"range": range_name or (months[0] if len(months) == 1 else
                                    f"{months[0]}–{months[-1]}"),
            "policy": {"file": alternative.source, "sha256": alternative.sha256},
            "months": [], "skipped": skipped, "departments": [], "employees": []}
    subjects = {"department": {}, "employee": {}}
    changes = []
    for period in months:
        f = figures.get(period)
        if f is None:
            continue
        if f.refused is not None:
            skipped.append({"period": period, "reason": "refused", "lines": f.refused})
            continue
        data["months"].append(period)
        for subject_type in ("department", "employee"):
            for d in differences(f, subject_type):
                entry = subjects[subject_type].setdefault(d["id"], {"name": d["name"],
                                                                    "months": {}})
                entry["months"][period] = {k: d[k] for k in ("current", "alternative",
                                                              "difference", "rules")}
                if d["difference"]:
                    changes.append(WhatIfChange(subject_type, d["id"], d["name"], period,
                                                d["current"], d["alternative"],
                                                d["difference"]))
    skipped.sort(key=lambda s: s["period"])
    for subject_type, kind, key in (("department", "departments", "dept_id"),
                                    ("employee", "employees", "employee_id")):
        data[kind] = [{key: sid, "name": e["name"], "months": e["months"]}
                      for sid, e in sorted(subjects[subject_type].items())]
    written = files.write(out_dir, data, lang)
    changes.sort(key=lambda c: (-abs(c.difference), c.period, c.subject_type, c.subject_id))
    return WhatIfResult(data["range"], data["policy"]["file"], alternative.sha256,
                        list(data["months"]), skipped, data, written, changes[:largest])


def _cores() -> int:
    """The cores this process may use (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)

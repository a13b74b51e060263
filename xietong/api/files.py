"""Files for people that need no run: a policy file checked (`check_policy`, SPEC §4,
§11.10), the empty ledger template, and the demo's sample ledger.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session

from xietong.api.base import Database, Refused, _existing


@dataclass
class PolicyCheck:
    path: str | None
    errors: list                   # rules.policy.PolicyIssue: .message(lang)
    warnings: list


def check_policy(path=None, *, strict: bool = False, db: Database | None = None,
                 period: str | None = None, lang: str | None = None) -> PolicyCheck:
    """Errors and warnings (values outside the article's bands) of a policy file (SPEC §4).
    With `db` and `period`, also a warning for each Linkage row of the period's active ledger
    whose effective weight after total_cap falls below the article's band for its level
    (SPEC §11.10; errors with `strict`). Refused when the period has no import."""
    from rules.policy import check_policy as check
    from rules.policy import effective_weight_warnings, load_policy
    errors, warnings = check(path, strict=strict)
    if period is not None and db is not None:
        links = _active_rows(db, period, "Linkage", lang)
        if not errors:
            extra = effective_weight_warnings(load_policy(path), links)
            if strict:
                from dataclasses import replace
                errors = list(errors) + [replace(w, severity="error") for w in extra]
            else:
                warnings = list(warnings) + extra
    return PolicyCheck(None if path is None else str(path), list(errors), list(warnings))


def _active_rows(db: Database, period: str, sheet: str, lang: str | None) -> list[dict]:
    """A sheet of the period's active ledger; Refused when the period has no import."""
    from evaluator.db import reader
    from evaluator.runs import refusal
    from evaluator.store import active_import, load_rows
    _existing(db, lang)
    with Session(reader(db.engine)) as session, session.begin():
        imp = active_import(session, period)
        if imp is None:
            raise Refused([refusal(lang or "en", "no_import", period=period)])
        return load_rows(session, imp.id, (sheet,))[sheet]


def write_template(path, *, lang: str = "zh") -> Path:
    """An empty ledger workbook: every sheet, headers, dropdowns and a guide sheet."""
    from reports.template import write_template as write
    write(path, lang=lang)
    return Path(path)


def write_sample_ledger(path, *, employees: int = 200, period: str = "2026-11", seed: int = 7,
                        lang: str = "zh") -> Path:
    """A believable sample company's ledger for `period` (the demo's)."""
    from xietong.sample import write_sample_ledger as write
    write(path, employees=employees, period=period, seed=seed, lang=lang)
    return Path(path)

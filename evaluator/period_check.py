"""Is this ledger the one for this period? (SPEC §10.2)

A ledger imported under the wrong `--period` is not a broken workbook, but every month around it
goes wrong quietly: November's file stored as May 2027 turns each behaviour into a
BEH_OUT_OF_PERIOD rejection. Two signs give it away, and each is a structural problem of the
import (refused, nothing stored) unless the import is forced:

* the same file (same SHA-256) is already the active ledger of another period;
* more than half of the dated rows (Behaviours.date) fall outside the period — the message
  names the month most of them fall in.
"""
from __future__ import annotations

from collections import Counter

from sqlmodel import Session, select

from evaluator.db import LedgerImport
from importers.lang import Text
from importers.result import Ledger, Problem
from importers.schema import SHEET_BY_NAME

_WORDS = {
    "file_expected": Text(zh="本期的台账文件", en="a ledger file of this period"),
    "file_found": Text(zh="该文件（SHA-256 {sha}）已是 {other} 的当前台账（导入记录 #{id}）；"
                          "请检查 --period，或用 --force 强制导入",
                       en="the same file (sha256 {sha}) is the active ledger of {other} "
                          "(import #{id}); check --period, or import with --force"),
    "dates_expected": Text(zh="日期在 {period} 内", en="dates in {period}"),
    "dates_found": Text(zh="{n} 个有日期的行中有 {outside} 个不在 {period} 内，大多在 {month}"
                           "（{most} 行）；请检查 --period，或用 --force 强制导入",
                        en="{outside} of {n} dated rows outside {period}, most in {month} "
                           "({most} rows); check --period, or import with --force"),
    "forced": Text(zh="已用 --force 强制导入：{problem}", en="imported with --force: {problem}"),
}


def period_problems(session: Session | None, ledger: Ledger, period: str) -> list[Problem]:
    """The signs that `ledger` is not `period`'s, as import problems in the ledger's language.
    `session`: a read session on the database, or None when there is no database yet."""
    lang = ledger.lang
    problems = []
    elsewhere = None if session is None else session.exec(select(LedgerImport).where(
        LedgerImport.sha256 == ledger.sha256, LedgerImport.active == True,  # noqa: E712
        LedgerImport.period != period).order_by(LedgerImport.period)).first()
    if elsewhere is not None:
        problems.append(Problem(None, None, None, _WORDS["file_expected"].pick(lang),
                                _WORDS["file_found"].format(lang, sha=ledger.sha256[:16],
                                                            other=elsewhere.period,
                                                            id=elsewhere.id),
                                lang=lang, kind="other_period"))
    months = Counter(f"{r['date'].year:04d}-{r['date'].month:02d}"
                     for r in ledger.rows.get("Behaviours", ()) if r.get("date") is not None)
    n = sum(months.values())
    outside = n - months.get(period, 0)
    if n and outside * 2 > n:
        month, most = max(((m, k) for m, k in months.items() if m != period),
                          key=lambda mk: (mk[1], mk[0]))
        sheet = ledger.sheet_names.get("Behaviours", "Behaviours")
        problems.append(Problem(sheet, None, "date",
                                _WORDS["dates_expected"].format(lang, period=period),
                                _WORDS["dates_found"].format(lang, n=n, outside=outside,
                                                             period=period, month=month,
                                                             most=most),
                                lang=lang, kind="dates_outside_period",
                                column_label=SHEET_BY_NAME["Behaviours"].column("date").zh
                                if lang == "zh" else "date"))
    return problems


def forced_warning(problem: Problem) -> str:
    """What the import record keeps when an import was forced past `problem`."""
    return _WORDS["forced"].format(problem.lang, problem=str(problem))

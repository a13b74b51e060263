"""Closing and reopening a period (SPEC §11.1).

A month's results are provisional while HR works on them and final once HR closes the period:
a closed period refuses every change — import, evaluate, decisions — with a message saying since
when, by whom and how to reopen. Closing and reopening are chained records (who, when, why), so
an auditor sees every time a month's figures were reopened. Closing while reviews are still
open must be asked for explicitly, and lists them.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlmodel import Session, select

from evaluator import chain
from evaluator.db import ExceptionItem, PeriodEvent, Run, utcnow
from importers.lang import Text

_WORDS = {
    "closed": Text(
        zh="{period} 已于 {at} UTC 由 {by} 关闭{why}：不能再导入、评估或记录复核结论。如需更正，请先运行 "
           "`xietong reopen --period {period} --reason 原因`",
        en="{period} was closed at {at} UTC by {by}{why}: it takes no import, evaluation or "
           "decision any more. To correct it, first run `xietong reopen --period {period} "
           "--reason TEXT`"),
    "why": Text(zh="（原因：{reason}）", en=" ({reason})"),
    "already_closed": Text(zh="{period} 已经是关闭状态（{at} UTC，{by}）",
                           en="{period} is already closed (at {at} UTC by {by})"),
    "not_closed": Text(zh="{period} 没有关闭，无需重新开放", en="{period} is not closed: nothing to reopen"),
    "no_run": Text(zh="{period} 尚未评估：关闭前请先运行 `xietong evaluate --period {period}`",
                   en="{period} has no run yet: evaluate it before closing "
                      "(`xietong evaluate --period {period}`)"),
    "open_reviews": Text(
        zh="{period} 还有 {n} 项待复核事项；确认要关闭请加 --with-open-reviews：",
        en="{period} still has {n} open review item(s); to close it anyway add "
           "--with-open-reviews:"),
    "open_item": Text(zh="  {rid}  {kind}  {subject}  复核人 {assignee}",
                      en="  {rid}  {kind}  {subject}  assignee {assignee}"),
}


class PeriodRefused(Exception):
    """The period's state refuses the request; `.lines` in the user's language."""

    def __init__(self, lines: list[str]):
        super().__init__("\n".join(lines))
        self.lines = lines


@dataclass
class PeriodState:
    period: str
    closed: bool
    since: datetime | None         # when the latest close or reopen happened
    by: str | None
    reason: str | None


def state(session: Session, period: str) -> PeriodState:
    last = session.exec(select(PeriodEvent).where(PeriodEvent.period == period)
                        .order_by(PeriodEvent.id.desc()).limit(1)).first()
    if last is None:
        return PeriodState(period, False, None, None, None)
    return PeriodState(period, last.action == "close", _aware(last.at), last.by, last.reason)


def refuse_if_closed(session: Session, period: str, lang: str | None) -> None:
    """Raise PeriodRefused when `period` is closed: called by every command that changes a
    period, inside its own transaction."""
    st = state(session, period)
    if st.closed:
        raise PeriodRefused([_closed_message(st, lang)])


def _closed_message(st: PeriodState, lang: str | None) -> str:
    why = _WORDS["why"].format(lang, reason=st.reason) if st.reason else ""
    return _WORDS["closed"].format(lang, period=st.period, at=_minute(st.since), by=st.by,
                                   why=why)


def open_reviews(session: Session, period: str) -> list[ExceptionItem]:
    """The latest run's review items still open."""
    run = session.exec(select(Run).where(Run.period == period, Run.finished_at != None)  # noqa: E711
                       .order_by(Run.id.desc()).limit(1)).first()
    if run is None:
        return []
    return list(session.exec(select(ExceptionItem).where(
        ExceptionItem.run_id == run.id, ExceptionItem.type == "review",
        ExceptionItem.status == "open").order_by(ExceptionItem.ord)))


def close(engine, period: str, by: str, reason: str | None, *, with_open_reviews: bool = False,
          lang: str | None = None) -> PeriodEvent:
    """Close `period`: its latest run's figures become final. Refused when it is closed
    already, has no run, or has open reviews (unless `with_open_reviews`)."""
    with Session(engine) as session, session.begin():
        st = state(session, period)
        if st.closed:
            raise PeriodRefused([_WORDS["already_closed"].format(
                lang, period=period, at=_minute(st.since), by=st.by)])
        has_run = session.exec(select(sa.func.count()).select_from(Run).where(
            Run.period == period, Run.finished_at != None)).one()  # noqa: E711
        if not has_run:
            raise PeriodRefused([_WORDS["no_run"].format(lang, period=period)])
        pending = open_reviews(session, period)
        if pending and not with_open_reviews:
            raise PeriodRefused(
                [_WORDS["open_reviews"].format(lang, period=period, n=len(pending))]
                + [_WORDS["open_item"].format(lang, rid=e.review_id, kind=e.kind,
                                              subject=e.subject_id, assignee=e.assignee_id)
                   for e in pending])
        return _record(session, PeriodEvent(period=period, action="close", reason=reason, by=by,
                                            open_reviews=len(pending)))


def reopen(engine, period: str, by: str, reason: str, *, lang: str | None = None) -> PeriodEvent:
    """Reopen a closed period, saying why (the reason is required: a final month's figures
    change only for a reason an auditor can read)."""
    with Session(engine) as session, session.begin():
        if not state(session, period).closed:
            raise PeriodRefused([_WORDS["not_closed"].format(lang, period=period)])
        return _record(session, PeriodEvent(period=period, action="reopen", reason=reason, by=by))


def _record(session: Session, event: PeriodEvent) -> PeriodEvent:
    writer = chain.ChainWriter(session)
    event.id = writer.next_id(PeriodEvent)
    event.at = utcnow()
    writer.insert(PeriodEvent, [event], "period_event")
    writer.flush()
    session.expunge_all()
    return event


def _aware(t: datetime | None) -> datetime | None:
    """SQLite hands timestamps back naive (they are stored in UTC)."""
    if t is None:
        return None
    return t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t


def _minute(t: datetime | None) -> str:
    return t.strftime("%Y-%m-%d %H:%M") if t is not None else "?"

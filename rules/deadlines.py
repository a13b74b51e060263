"""复核期限 Deadlines of review items (SPEC §11.4): an item still open at an evaluation more
than `review.deadline_days` after it was first raised moves one level up the manager chain —
the assignee's manager, then HR — once per elapsed deadline.

The article:
    「可以设置“异常评分复核机制”——出现极端高低分时,由HR或上级复核实际情况。」 (三.1)
    An extreme rating is reviewed by HR or a superior; an item nobody decides would otherwise
    keep a rating out of the average for ever (hold_pending): the deadline hands it upwards.

Readings (docs/decisions.md, "Deadlines"):
* **First raised** is the start of the earliest run of the period that held the item's review
  id; **the clock** is the start of the evaluation. Both come from the evaluator (the runs
  stored so far): the rules read no clock of their own, so the same inputs give the same moves.
* The number of moves is the number of whole deadlines the item has been open: open_seconds >
  k × deadline_days × 86,400 for k = 1, 2, … (whole seconds; "more than", so an item raised
  exactly 14 days before stays).
* **One level up** is the walk of SPEC §5 from the assignee's manager, passing over the same
  people the item's first assignee passed over (a member of the rated department, the employee
  who got the points), with HR at the top; HR does not move.
* An item **decided** since (its decision in force) does not move any more: it stays where it
  stood at the earlier evaluation (its moves then are replayed, so that this run's trace shows
  why it is there), and the decision stays — the item is decided. An item that was moved
  before never moves back down (say the deadline was lengthened in between).

Each move is a firing of `review.escalate` on a `deadline` fact fed per step, citing the item's
own sources; the step that does not move fires `review.stays` (the book's fallback), which says
why (not yet due, decided, already with HR). A move's note is one of the book's sentences
(rules/wording.py): its English text, and under "says" what renders it in Chinese. Items first raised by this very evaluation get no
fact: nothing can be due yet.

Example: an INTERLOCK_MISSED item for E04 (whose manager is E01, whose manager is the CEO E00)
raised on 2026-11-02 09:00 and still open at an evaluation on 2026-11-30 10:00 (28 days and one
hour): step 1 (> 14 days) moves it to E01, step 2 (> 28 days) to E00, step 3 (> 42 days) stays.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Iterable, Mapping, NamedTuple

from engine import RuleBook, m
from rules.assignees import HR, assignee
from rules.outcomes import note
from rules.wording import Wording

if TYPE_CHECKING:       # the context imports the kinds' catalog
    from rules.context import Context

BOOK = RuleBook("deadlines", zh="复核期限", en="Review deadlines")
WORDS = Wording(BOOK.name)
MOVED_SAYS = WORDS.template(
    "review.escalate",
    zh="{rid}：{from_id} → {to_id}（{raised} 首次提出，至 {clock} 仍未决定：超过 {step} × {days} 天）",
    en="{rid}: {from_id} → {to_id} (raised {raised}, still open at {clock}: more than "
       "{step} × {days} days)")
MOVED_BEFORE_SAYS = WORDS.template(
    "review.escalate.earlier",
    zh="{rid}：{from_id} → {to_id}（本期此前的评估已上移）",
    en="{rid}: {from_id} → {to_id} (moved at an earlier evaluation of the period)")
WITH_HR = WORDS.note(en="with HR: there is no level above", zh="已在 HR：没有更高一级")
DECIDED = WORDS.note(en="decided: it stays where it stood", zh="已有结论：留在原复核人处")
NOT_DUE = WORDS.note(en="open, not past the next deadline", zh="未决定，尚未超过下一个期限")

DAY_SECONDS = 86_400
MOVED = "moved"          # the outcome item that says which item moved from whom to whom


class Standing(NamedTuple):
    """Where a review item stood before this evaluation, from the runs of its period stored so
    far (evaluator/runs.py): when it was first raised, and its assignee in the latest of them."""
    first_raised: datetime
    last_assignee: str | None


@BOOK.rule("review.escalate",
           (m.t == "deadline") & (m.at_top == False)                            # noqa: E712
           & (((m.open == True) & (m.open_seconds > m.due_seconds))             # noqa: E712
              | (m.moved_before == True)),                                      # noqa: E712
           zh="复核事项超过期限仍未决定，上移一级", en="An item left open past its deadline moves one level up")
def escalate(f):
    if f["open"] and f["open_seconds"] > f["due_seconds"]:
        said = MOVED_SAYS(rid=f["review_id"], from_id=f["from_id"], to_id=f["to_id"],
                          raised=f["raised_at"], clock=f["clock"], step=str(f["step"]),
                          days=str(f["deadline_days"]))
    else:
        said = MOVED_BEFORE_SAYS(rid=f["review_id"], from_id=f["from_id"], to_id=f["to_id"])
    return [{**note(said.text), "says": said.says},
            {MOVED: {"review_id": f["review_id"], "from": f["from_id"], "to": f["to_id"],
                     "step": f["step"]}}]


@BOOK.fallback("review.stays", m.t == "deadline",
               zh="复核事项留在当前复核人处", en="The item stays with its assignee")
def stays(f):
    if f["at_top"]:
        return [note(WITH_HR)]
    if not f["open"]:
        return [note(DECIDED)]
    return [note(NOT_DUE)]


def run(ev, ctx: Context, exceptions: Iterable[dict], standing: Mapping[str, Standing] | None,
        clock: datetime | None) -> None:
    """Move the period's open review items whose deadlines passed. `exceptions`: every item
    this evaluation raised, in order (Context.ordered_exceptions, read with
    rules.context.results_of(…, changing=True): held, or on a file), changed here when moved,
    and read to the end (a file's chunk is written back once read past).
    `standing`: review id → Standing of the items raised by earlier runs of the period;
    `clock`: this evaluation's start. Without them (an evaluation outside the stored history)
    nothing is fed."""
    if not standing or clock is None:
        return
    deadline = ctx.policy.review.deadline_days
    now = _utc(clock)
    employees = ctx.company.employees
    for exc in exceptions:
        if exc["type"] != "review":
            continue
        was = standing.get(exc["review_id"])
        if was is None:
            continue                    # raised by this evaluation: nothing can be due yet
        is_open = exc["status"] == "open"
        path = _path(employees, exc, ctx.kinds[exc["kind"]])
        moved_before = path.index(was.last_assignee) if was.last_assignee in path else 0
        if not is_open and moved_before == 0:
            continue                    # decided where the rules put it
        raised = _utc(was.first_raised)
        open_seconds = max(0, int((now - raised).total_seconds()))
        step = 1
        while True:
            here = path[step - 1]
            fact = {"t": "deadline", "review_id": exc["review_id"], "kind": exc["kind"],
                    "step": step, "from_id": here,
                    "to_id": path[step] if step < len(path) else HR,
                    "at_top": here == HR, "open": is_open, "open_seconds": open_seconds,
                    "due_seconds": step * deadline * DAY_SECONDS, "deadline_days": deadline,
                    "moved_before": step <= moved_before,
                    "raised_at": _stamp(raised), "clock": _stamp(now)}
            moved = False
            for firing in ctx.feed(ev, BOOK.name, fact, ("deadline", exc["review_id"], step)):
                ctx.record(firing, exc["subject_id"], exc["sources"])
                for o in firing.outcomes:
                    if MOVED in o:
                        exc["assignee_id"] = o[MOVED]["to"]
                        exc.setdefault("moved_from", []).append(o[MOVED]["from"])
                        moved = True
            if not moved:
                break
            step += 1


def _path(employees: Mapping[str, Mapping], exc: dict, kind) -> list[str]:
    """The item's assignee and every level above it, up to HR: [E04, E01, E00, HR]. Each level
    is SPEC §5's walk from the manager of the one below, passing over whom the first assignee's
    walk passed over: a member of the rated department (rating reviews), the employee who got
    the points (behaviour reviews)."""
    excluded_ids, excluded_dept = (), None
    if kind.mechanism == "behaviour":
        excluded_ids = (exc["subject_id"],)
    elif kind.mechanism in ("peripheral", "raci"):
        excluded_dept = exc["subject_id"]
    path = [exc["assignee_id"]]
    while path[-1] != HR:
        person = employees.get(path[-1])
        up = assignee(employees, person.get("manager_id") if person else None,
                      excluded_ids=excluded_ids, excluded_dept=excluded_dept)
        if up in path:                  # a manager cycle (the import refuses them): stop at HR
            up = HR
        path.append(up)
    return path


def _utc(t: datetime) -> datetime:
    """Stored timestamps come back naive from SQLite (they are UTC)."""
    return t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t.astimezone(timezone.utc)


def _stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S UTC")

"""Review items that moved up past their deadline (SPEC §11.4), as a stored run's trace records
them — for the review workbooks, where a move shows in both people's files: the item is listed
for its assignee now ("moved up from E04") and for everyone it moved from ("moved up to E01"),
who may still decide it (a decision made by the earlier assignee stays: evaluator/runs.py).

A move is a `review.escalate` firing whose outcome holds {"moved": {"review_id", "from", "to",
"step"}} (rules/deadlines.py). The deadline book fires last in an evaluation, so its firings
end the trace: they are read from the end, and a run without any costs nothing.
"""
from __future__ import annotations

ESCALATE = "review.escalate"
DEADLINE_RULES = (ESCALATE, "review.stays")

_WORDS = {
    "to": ("期限已过，已上移至 {who}（您仍可作出结论）",
           "moved up to {who} past its deadline (you may still decide it)"),
    "from": ("期限已过，由 {who} 上移至此", "moved up from {who} past its deadline"),
}


def by_item(firings: list[dict]) -> dict[str, list[tuple[str, str]]]:
    """review_id -> its moves [(from, to), …] in order, from a run's firings (a list: load_run's,
    or the escalations that end them, reports/facts.py's deadline_tail)."""
    out: dict[str, list[tuple[str, str]]] = {}
    for f in reversed(firings):
        if f["rule"] not in DEADLINE_RULES:
            break
        if f["rule"] != ESCALATE:
            continue
        for o in f["outcome"].get("outcomes", ()):
            moved = o.get("moved") if isinstance(o, dict) else None
            if moved:
                out.setdefault(moved["review_id"], []).append((moved["from"], moved["to"]))
    for steps in out.values():
        steps.reverse()
    return out


def earlier_assignees(moves: list[tuple[str, str]]) -> list[str]:
    """Everyone an item moved from, first assignee first."""
    return [a for a, _ in moves]


def note(lang: str, direction: str, who: str) -> str:
    """"moved up to E01 …" (direction "to", for an earlier assignee) or "moved up from E04 …"
    ("from", for the assignee now)."""
    zh, en = _WORDS[direction]
    return (zh if lang == "zh" else en).format(who=who)

"""Review items as people read them in the desk (SPEC §10.7, §12): each item of a period's
latest run with the names beside its ids, what was found (the message), why (the kind's
description), the cited ledger values with their column names, and its current decision.

An item's current status counts the decisions recorded since the run: the latest decision of
the period for its review id, while the item's source rows still hash to what they were when
it was decided (SPEC §6) — so a manager sees the decision just made before HR evaluates again.

Only what a page shows is read: the items of the latest runs (by run id, an index), the
period's decisions, and for names and cited values just the ledger rows the page's items
name — never a whole 100,000-employee ledger.
"""
from __future__ import annotations

import json

import sqlalchemy as sa
from sqlmodel import Session, select

from evaluator.canonical import parse_sources
from evaluator.db import ROW_TABLES, Decision, ExceptionItem, Firing, LedgerImport, Run
from importers.schema import SHEET_BY_NAME
from reports.json_files import source_entries
from reports.labels import cited_values, ref
from rules.books import describe
from rules.exceptions import HR, KIND_BY_NAME
from rules.sentences import message, says_of

STATUS_OF = {"confirm": "confirmed", "overturn": "overturned"}


def kind_text(kind: str, lang: str) -> str:
    """Why an item was raised: its rule's (or kind's) one-line description."""
    try:
        zh, en = describe(kind)
    except KeyError:
        info = KIND_BY_NAME.get(kind)
        zh, en = (info.zh, info.en) if info else ("", "")
    return zh if lang == "zh" else en


def latest_runs(session: Session, period: str | None = None) -> dict[int, tuple[str, int]]:
    """run id -> (period, import id) of each period's latest finished run (or the one period's)."""
    q = select(sa.func.max(Run.id)).where(Run.finished_at != None)  # noqa: E711
    if period is not None:
        q = q.where(Run.period == period)
    ids = [i for i in session.exec(q.group_by(Run.period)).all() if i is not None]
    if not ids:
        return {}
    return {r.id: (r.period, r.import_id) for r in session.exec(select(Run).where(Run.id.in_(ids)))}


def in_force(session: Session, periods) -> dict[tuple[str, str], Decision]:
    """(period, review id) -> the latest decision recorded for it."""
    latest: dict[tuple[str, str], Decision] = {}
    periods = list(periods)
    if not periods:
        return latest
    for d in session.exec(select(Decision).where(Decision.period.in_(periods)).order_by(Decision.id)):
        latest[(d.period, d.review_id)] = d
    return latest


def decision_dict(d: Decision | None) -> dict | None:
    if d is None:
        return None
    at = d.decided_at
    return {"value": d.decision, "comment": d.comment, "by": d.reviewer_id,
            "account": d.account, "at": _iso(at)}


def _iso(t) -> str | None:
    from datetime import timezone
    if t is None:
        return None
    return (t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t).isoformat()


def items(session: Session, *, period: str | None = None, assignee: str | None = None,
          kind: str | None = None, status: str | None = None, type_: str | None = None,
          review_id: str | None = None, offset: int = 0,
          limit: int | None = None) -> tuple[int, list[dict]]:
    """(how many match, the page `offset`/`limit` of them): the exceptions of the latest run of
    `period` (or of every period, newest first), filtered; each as exceptions.json has it plus
    "period", "run_id", "import_id", the current "decision" ({"value", "comment", "by",
    "account", "at"} or None) and "status". `status`: "open", "decided", or a status word
    (confirmed, overturned). Only the page's items are built into dicts."""
    runs = latest_runs(session, period)
    if not runs:
        return 0, []
    e = ExceptionItem.__table__.c
    # first the few columns that decide what matches, then the page's rows whole: a big month
    # has 30,000 items, and their messages and sources are most of their bytes
    paged = limit is not None and limit <= 1000
    deciding = (e.id, e.run_id, e.review_id, e.type, e.status, e.source_hash)
    details = (e.kind, e.subject_id, e.assignee_id, e.sources, e.message, e.firing_seq)
    q = sa.select(*(deciding if paged else deciding + details)).where(e.run_id.in_(list(runs)))
    if assignee:
        q = q.where(e.assignee_id == assignee)
    if kind:
        q = q.where(e.kind == kind)
    if type_:
        q = q.where(e.type == type_)
    if review_id:
        q = q.where(e.review_id == review_id)
    q = q.order_by(e.run_id.desc(), e.ord)
    decided = in_force(session, {p for p, _ in runs.values()})
    matched = []
    for r in session.connection().execute(q):
        current, state = None, r.status
        if r.type == "review":
            d = decided.get((runs[r.run_id][0], r.review_id))
            if d is not None and d.source_hash == r.source_hash:
                current, state = d, STATUS_OF.get(d.decision, r.status)
            else:
                state = "open"
        if status == "open" and state != "open":
            continue
        if status == "decided" and (state == "open" or r.type != "review"):
            continue
        if status not in (None, "", "open", "decided") and state != status:
            continue
        matched.append((r, current, state))
    page = matched[offset:] if limit is None else matched[offset:offset + limit]
    whole = {} if paged else {r.id: r for r, _, _ in page}
    ids = [r.id for r, _, _ in page] if paged else []
    for i in range(0, len(ids), 5000):
        for r in session.connection().execute(
                sa.select(e.id, e.kind, e.subject_id, e.assignee_id, e.sources, e.message,
                          e.firing_seq).where(e.id.in_(ids[i:i + 5000]))):
            whole[r.id] = r
    out = []
    for m, current, state in page:
        r = whole[m.id]
        p, import_id = runs[m.run_id]
        out.append({"review_id": m.review_id, "kind": r.kind, "type": m.type,
                    "subject_id": r.subject_id, "assignee_id": r.assignee_id, "status": state,
                    "decision": decision_dict(current), "message": r.message,
                    "sources": source_entries(parse_sources(r.sources)),
                    "period": p, "run_id": m.run_id, "import_id": import_id,
                    "firing_seq": r.firing_seq})
    return len(matched), out


def with_context(session: Session, found: list[dict], lang: str) -> list[dict]:
    """`found` (items of `items`) with "kind_text", "message_text" (the message in `lang`),
    "subject_name", "assignee_name" and, per
    source, "ref" (the ledger's own sheet name and row) and "cited" (column=value; …), read
    from just the ledger rows they name."""
    by_import: dict[int, list[dict]] = {}
    for it in found:
        by_import.setdefault(it["import_id"], []).append(it)
    conn = session.connection()
    for import_id, group in by_import.items():
        imp = session.get(LedgerImport, import_id)
        sheet_lang = imp.lang if imp is not None and imp.lang in ("zh", "en") else "en"
        ids = {it["subject_id"] for it in group} | {it["assignee_id"] for it in group}
        names = _names(conn, import_id, ids)
        # a source of another month (its "period", SPEC §11.5–§11.9) is a row of the import
        # its run read for that month (Run.other_imports)
        months = _other_imports(session, {it["run_id"] for it in group})
        wanted: dict[tuple[int | None, str], set[int]] = {}
        for it in group:
            for s in it["sources"]:
                imp_id = (import_id if "period" not in s
                          else months.get(it["run_id"], {}).get(s["period"]))
                s["_import"] = imp_id
                wanted.setdefault((imp_id, s["sheet"]), set()).add(s["row"])
        rows = {(imp_id, sheet): _rows(conn, imp_id, sheet, numbers) if imp_id else {}
                for (imp_id, sheet), numbers in wanted.items()}
        says = _sentences(session, group)
        for it in group:
            it["kind_text"] = kind_text(it["kind"], lang)
            # what was found, worded in `lang` ("message" stays the stored text)
            it["message_text"] = message({"message": it["message"],
                                          "says": says.get((it["run_id"], it["firing_seq"]))},
                                         lang)
            it["subject_name"] = names.get(it["subject_id"], "")
            it["assignee_name"] = names.get(it["assignee_id"], "HR" if it["assignee_id"] == HR else "")
            for s in it["sources"]:
                name = s["sheet"] if "period" not in s else f"{s['sheet']}@{s['period']}"
                s["ref"] = ref(sheet_lang, name, s["row"])
                s["cited"] = cited_values(sheet_lang, s["sheet"],
                                          rows[(s.pop("_import"), s["sheet"])].get(s["row"]))
    return found


def _other_imports(session: Session, run_ids: set[int]) -> dict[int, dict[str, int]]:
    """run id -> {period: import id} of the other months' imports the run read."""
    out = {}
    for run_id in run_ids:
        run = session.get(Run, run_id)
        text = getattr(run, "other_imports", None) if run is not None else None
        out[run_id] = {m: x["import_id"] for m, x in json.loads(text).items()} if text else {}
    return out


def _sentences(session: Session, items: list[dict]) -> dict[tuple[int, int], list | None]:
    """(run id, firing seq) -> the sentence stored for the item its firing raised
    (rules.sentences), read from just the firings the items name."""
    by_run: dict[int, dict[int, str]] = {}
    for it in items:
        by_run.setdefault(it["run_id"], {})[it["firing_seq"]] = it["kind"]
    out = {}
    f = Firing.__table__.c
    for run_id, kinds in by_run.items():
        seqs = sorted(kinds)
        for i in range(0, len(seqs), 500):
            for seq, outcome in session.connection().execute(
                    sa.select(f.seq, f.outcome).where(f.run_id == run_id,
                                                      f.seq.in_(seqs[i:i + 500]))):
                out[(run_id, seq)] = says_of(json.loads(outcome), kinds[seq])
    return out


def _names(conn, import_id: int, ids: set[str]) -> dict[str, str]:
    """id -> name, for the employees and departments among `ids`."""
    out: dict[str, str] = {}
    ids = [i for i in ids if i]
    for sheet, key in (("Departments", "dept_id"), ("Employees", "employee_id")):
        table = ROW_TABLES[sheet]
        for i in range(0, len(ids), 500):
            for k, name in conn.execute(sa.select(table.c[key], table.c.name).where(
                    table.c.import_id == import_id, table.c[key].in_(ids[i:i + 500]))):
                out.setdefault(k, name)
    return out


def _rows(conn, import_id: int, sheet: str, numbers: set[int]) -> dict[int, dict]:
    """Excel row -> the typed row, for the rows `numbers` of one sheet of an import."""
    table = ROW_TABLES[sheet]
    names = [c.name for c in SHEET_BY_NAME[sheet].columns]
    out = {}
    numbers = sorted(numbers)
    for i in range(0, len(numbers), 500):
        q = sa.select(table.c.row, *(table.c[n] for n in names)).where(
            table.c.import_id == import_id, table.c.row.in_(numbers[i:i + 500]))
        for rec in conn.execute(q):
            out[rec[0]] = dict(zip(names, rec[1:]))
    return out


def load_sheets(session: Session, import_id: int, sheets) -> dict[str, list[dict]]:
    """Some sheets of an import, typed, in Excel-row order (evaluator.store.load_rows for all)."""
    conn = session.connection()
    out = {}
    for sheet in sheets:
        table = ROW_TABLES[sheet]
        names = [c.name for c in SHEET_BY_NAME[sheet].columns]
        q = sa.select(table.c.row, *(table.c[n] for n in names)).where(
            table.c.import_id == import_id).order_by(table.c.row)
        out[sheet] = [dict(zip(("row", *names), rec)) for rec in conn.execute(q)]
    return out


# --------------------------------------------------------------------------- moved items (SPEC §11.4)

def period_moves(session: Session, period: str) -> dict[str, list[dict]]:
    """review_id -> the moves of the item past its deadlines, as the period's latest run holds
    them, in order: [{"from", "to", "at", "run_id"}], "at" being the start of the evaluation
    that first moved it so (a later run replays earlier moves: rules/deadlines.py).

    A move is a `review.escalate` firing; the deadline book fires last, so each run's moves are
    read from the end of its trace (its firings have consecutive ids in seq order,
    evaluator/runs.py) until the first firing of another book; a run whose stored counts say it
    fired no `review.escalate` is not read at all."""
    from reports.moves import DEADLINE_RULES, ESCALATE, by_item
    runs = session.exec(select(Run.id, Run.started_at, Run.counts).where(
        Run.period == period, Run.finished_at != None).order_by(Run.id)).all()  # noqa: E711
    first_at: dict[tuple[str, str, str], tuple] = {}
    latest: list[tuple[str, str, str]] = []
    f = Firing.__table__.c
    conn = session.connection()
    for run_id, started, counts in runs:
        found: list[tuple[str, str, str]] = []      # (review_id, from, to)
        try:
            by_rule = json.loads(counts or "{}").get("by_rule")
        except (ValueError, AttributeError):
            by_rule = None
        if by_rule is not None and not by_rule.get(ESCALATE):
            latest = found                # the run's counts say it moved nothing: no read
            continue
        lo, hi = conn.execute(sa.select(sa.func.min(f.id), sa.func.max(f.id)).where(
            f.run_id == run_id)).one()
        tail: list[dict] = []           # the run's escalations, newest first
        while lo is not None and hi >= lo:
            chunk = conn.execute(sa.select(f.run_id, f.rule, f.outcome).where(
                f.id.between(max(lo, hi - 499), hi)).order_by(f.id.desc())).all()
            hi -= 500
            done = False
            for rid, rule, outcome in chunk:
                if rid != run_id:
                    continue
                if rule not in DEADLINE_RULES:
                    done = True
                    break
                if rule == ESCALATE:
                    tail.append({"rule": rule, "outcome": json.loads(outcome)})
            if done:
                break
        # what the review workbooks read from a loaded run (reports.moves), in firing order
        found = [(rid, a, b) for rid, steps in by_item(tail[::-1]).items() for a, b in steps]
        for key in found:
            first_at.setdefault(key, (_iso(started), run_id))
        latest = found
    out: dict[str, list[dict]] = {}
    for key in latest:
        at, run_id = first_at[key]
        out.setdefault(key[0], []).append({"from": key[1], "to": key[2], "at": at,
                                           "run_id": run_id})
    return out


def with_moves(session: Session, found: list[dict]) -> list[dict]:
    """`found` (items of `items`) with "moves" (period_moves') and "moved_from" (everyone the
    item moved from: who may still read and decide it, as its returned workbook may)."""
    by_period: dict[str, dict] = {}
    for it in found:
        if it["period"] not in by_period:
            by_period[it["period"]] = period_moves(session, it["period"])
        moves = by_period[it["period"]].get(it["review_id"], [])
        it["moves"] = moves
        it["moved_from"] = [m["from"] for m in moves]
    return found


def moved_away(session: Session, assignee: str, period: str | None = None) -> list[dict]:
    """The items of the latest runs (of `period`, or of every period) that moved up from
    `assignee` past their deadlines and are someone else's now — what that person still sees
    (and may still decide) in the desk — each as `items` gives it with "moves", "moved_from", and
    "moved_to"/"moved_at" (the move away from `assignee`)."""
    out = []
    for p, _ in sorted(set(latest_runs(session, period).values()), reverse=True):
        moves = period_moves(session, p)
        for rid in sorted(moves):
            away = next((m for m in moves[rid] if m["from"] == assignee), None)
            if away is None:
                continue
            _, found = items(session, period=p, review_id=rid)
            for it in found:
                if it["assignee_id"] == assignee:
                    continue               # it came back (a moved item never does: defensive)
                it["moves"] = moves[rid]
                it["moved_from"] = [m["from"] for m in moves[rid]]
                it["moved_to"], it["moved_at"] = it["assignee_id"], away["at"]
                out.append(it)
    return out

"""What the reports show of a stored run, whatever file shows it.

- `run_info` / `run_table`: the run's identity — period, run, ledger file and the hashes of
  ledger, policy, rules and program, times, counts, the audit chain's status — on the Run sheet
  of statement.xlsx and trace.xlsx and at the top of trace.html.
- `FiringView`: a firing as the trace shows it (SPEC §8): its rule and description, mechanism,
  subject, sources, and what it produced — result, points, exception kinds, review ids,
  statuses, assignees, and the explanation (its adjustments' explanations, its exceptions'
  messages and its notes, in the report's language: rules/sentences.py); a firing that raised a
  decided review item shows the decision record it applied (value, by whom, when, its chain
  link, the comment: SPEC §10.3). Made once per firing by one function; trace.xlsx's rows and
  trace.html's data are two renderings of it.
- `CitedRows`: each ledger row a firing or an exception cites, as its reference (`周边评价!17`)
  and its line (`周边评价!17: 评价编号=R1; …`), shown alike by trace.xlsx, trace.html and the
  review workbooks (the rows a run's firings cite: reports/facts.py).

Sheet names in references are the ledger's own (its header language, SPEC §7); words are in the
report's language. Nothing here is recomputed from the ledger: these are the stored firings,
adjustments and exceptions, joined.
"""
from __future__ import annotations

from datetime import timezone
from decimal import Decimal
from itertools import islice
from typing import NamedTuple

from importers.schema import ENUM_ZH
from importers.spooled import SpooledRows
from reports.labels import cited_values, firing_mechanism, label, sheet_name
from rules.books import describe
from rules.sentences import explanation, message, note_text, render
from rules.sources import NumberMarks, cited_rows

# ----------------------------------------------------------------------------- the run


def run_info(period: str, stored: dict, extra: dict | None = None) -> dict:
    """The run's identity as the reports show it (keys are label keys). `extra`: more facts
    (ledger_file, chain_status, ...)."""
    run = stored["run"]
    info = {"period": period, "run_id": run.get("id"), "ledger_file": (extra or {}).get("ledger_file"),
            "file_sha256": run.get("file_sha256"), "policy_sha256": run.get("policy_sha256"),
            "rules_version": run.get("rules_version"), "program_version": run.get("program_version"),
            "decisions_digest": run.get("decisions_digest"),
            "started_at": _time(run.get("started_at")), "finished_at": _time(run.get("finished_at")),
            "firings_n": len(stored["firings"]), "adjustments_n": len(stored["adjustments"]),
            "exceptions_n": len(stored["exceptions"])}
    for k, v in (extra or {}).items():
        if k != "ledger_file":
            info[k] = v
    return info


def _time(v):
    return v.isoformat(timespec="seconds") if hasattr(v, "isoformat") else v


def chain_text(lang: str, chain: dict | None) -> str:
    """The audit chain's status in words. chain: {"ok", "checked", "problem", ...} or None;
    "since_seq" and "since_at" when the verification was incremental (SPEC §10.8): a full
    verify passed up to that link at that time, and the links after it were checked now;
    "since_run" when that checkpoint was written by the check of that run's report, not by a
    full verify (the words must not claim one)."""
    if not chain:
        return label(lang, "chain_unchecked")
    if chain["ok"] and chain.get("since_seq"):
        if chain.get("since_run") is not None:
            return label(lang, "chain_ok_since_run", seq=chain["since_seq"], n=chain["checked"],
                         at=_time(chain.get("since_at")), run=chain["since_run"])
        return label(lang, "chain_ok_since", seq=chain["since_seq"], n=chain["checked"],
                     at=_time(chain.get("since_at")))
    if chain["ok"]:
        return label(lang, "chain_ok", n=chain["checked"])
    return label(lang, "chain_bad", problem=chain["problem"])


def run_table(lang: str, info: dict) -> tuple[list[str], list[tuple[str, str]]]:
    """(titles, rows) of the run's identity shown as a table of items and values."""
    return ([label(lang, "item"), label(lang, "value")],
            [(label(lang, k), "" if v is None else str(v)) for k, v in info.items()])


# ----------------------------------------------------------------------------- the firings

RESULTS = ("adjustment", "exception", "note", "none")


class Firing(NamedTuple):
    """A firing as the trace shows it. `mechanism` and `result` are label keys; `description`
    and `status` are words in the report's language; `points` is the sum of its adjustments."""
    seq: int
    rule: str
    description: str
    mechanism: str
    subject: str
    sources: list                    # [(sheet, Excel row)], as stored
    result: str                      # one of RESULTS
    points: Decimal | None
    kind: str
    review_id: str
    status: str
    assignee: str
    explanation: str


def rule_text(rule: str, lang: str) -> str:
    """A rule's one-line description in `lang` ("" for a rule no book describes)."""
    try:
        zh, en = describe(rule)
    except KeyError:
        return ""
    return zh if lang == "zh" else en


class ItemsBySeq:
    """A run's adjustments or exceptions by the seq of the firing that produced them:
    `get(seq)`, its items in stored order. For a reader that goes through the firings in seq
    order (the trace), the items are read beside them, in the same order, and none is held
    but those of the seq asked for last: `items` is a SpooledRows (on a file) in that order
    (load_run's "…_by_seq"), or a list (sorted here: its items are held anyway). A SpooledRows
    in another order is read into a sorted list. Asked for an earlier seq than the last, it
    starts again from the first item: right in any order, fast in seq order. `marks`: the
    seqs that produced one."""

    def __init__(self, items):
        self.marks = NumberMarks()
        seqs = (items.column("firing_seq") if isinstance(items, SpooledRows)
                else (i["firing_seq"] for i in items))
        in_order, last = True, None
        for seq in seqs:
            self.marks.add(seq)
            in_order = in_order and (last is None or last <= seq)
            last = seq
        # sorted() keeps the stored order of one seq's items
        self.items = items if in_order else sorted(items, key=lambda i: i["firing_seq"])
        self._start()

    def _start(self) -> None:
        self._rest = iter(self.items)
        self._next = next(self._rest, None)
        self._asked, self._found = None, []

    def get(self, seq) -> list[dict]:
        if seq not in self.marks:
            return []
        if seq == self._asked:
            return self._found
        if self._asked is not None and seq < self._asked:
            self._start()
        found, nxt, rest = [], self._next, self._rest
        while nxt is not None and nxt["firing_seq"] <= seq:
            if nxt["firing_seq"] == seq:
                found.append(nxt)
            nxt = next(rest, None)
        self._next = nxt
        self._asked, self._found = seq, found
        return found


class FiringView:
    """`view(f)`: the Firing of stored firing `f`, joined with the adjustments and exceptions it
    produced (by firing seq). Built once per report; what repeats (a rule's description and
    mechanism, status words) is worked out once.

    The adjustments and exceptions are not held: a report may hand them over on files (load_run
    with a stream), and holding them by seq — even only what a Firing shows of them, its
    explanations and messages — was 31 MB at 100,000 employees. Each is read beside the
    firings (ItemsBySeq), which the trace views in seq order; `produced` says which firings
    produced one."""

    def __init__(self, stored: dict, lang: str):
        self.lang = lang
        self._to_fix = label(lang, "to_fix")
        self._statuses: dict[str, str] = {}
        self.adjustments, self.exceptions = (
            ItemsBySeq(stored.get(f"{key}_by_seq") or stored[key])
            for key in ("adjustments", "exceptions"))
        self.produced = NumberMarks(self.adjustments.marks, self.exceptions.marks)
        # (rule, first source's sheet) -> description, mechanism: the sheet decides the
        # mechanism of the rating rules, shared by both rating sheets
        self._by_rule: dict[tuple, tuple[str, str]] = {}
        self._descriptions: dict[str, str] = {}
        self._notes: dict[str, str] = {}
        # review_id -> the decision record the run applied (evaluator.runs.run_decisions)
        self.decisions: dict[str, dict] = stored.get("decisions") or {}

    def description(self, rule: str) -> str:
        text = self._descriptions.get(rule)
        if text is None:
            text = self._descriptions[rule] = rule_text(rule, self.lang)
        return text

    def __call__(self, f: dict) -> Firing:
        seq, rule, sources = f["seq"], f["rule"], f["sources"]
        first = sources[0][0] if sources else None
        described = self._by_rule.get((rule, first))
        if described is None:
            described = self._by_rule[(rule, first)] = (self.description(rule),
                                                        firing_mechanism(rule, sources))
        outcomes = f["outcome"].get("outcomes")
        notes = [o["note"] if "says" not in o else o for o in outcomes if "note" in o] \
            if outcomes else []
        adjs, excs = self.adjustments.get(seq), self.exceptions.get(seq)
        points = None
        kind = review_id = status = assignee = ""
        texts = []
        lang = self.lang
        if adjs:
            result = "adjustment"
            points = sum((a["points"] for a in adjs), Decimal("0.00"))
            texts += [explanation(a, lang) for a in adjs]
        else:
            result = "exception" if excs else "note" if notes else "none"
        if excs:
            kind = ", ".join(e["kind"] for e in excs)
            review_id = ", ".join(e["review_id"] for e in excs)
            status = ", ".join(self._status(e) for e in excs)
            assignee = ", ".join(e["assignee_id"] for e in excs)
            texts += [message(e, lang) for e in excs]
            if self.decisions:
                texts += [self.decision_text(self.decisions[e["review_id"]]) for e in excs
                          if e["review_id"] in self.decisions]
        texts += map(self._note, notes)
        return Firing(seq, rule, described[0], described[1], f["subject_id"] or "", sources,
                      result, points, kind, review_id, status, assignee, " | ".join(texts))

    def _note(self, note) -> str:
        if type(note) is dict:          # a note with values (rules/deadlines.py's moves)
            return render(note["says"], self.lang) or note_text(note["note"], self.lang)
        text = self._notes.get(note)
        if text is None:
            text = self._notes[note] = note_text(note, self.lang)
        return text

    def decision_text(self, d: dict) -> str:
        """`复核结论：维持，E1，2026-12-04 10:00 UTC（审计链 #812）：核实属实` — a decision record
        as the trace shows it beside the firing that applied it."""
        words = ENUM_ZH["decision"] if self.lang == "zh" else {}
        comment = d.get("comment")
        return label(self.lang, "trace_decision", value=words.get(d["value"], d["value"]),
                     by=d["by"], at=d["at"].astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M"),
                     seq=d["seq"], comment=(("：" if self.lang == "zh" else ": ") + comment)
                     if comment else "")

    def _status(self, e: dict) -> str:
        if e["type"] == "rejection":
            return self._to_fix
        word = self._statuses.get(e["status"])
        if word is None:
            word = self._statuses[e["status"]] = label(self.lang, e["status"])
        return word


# ----------------------------------------------------------------------------- cited rows

class RowIndex:
    """(sheet, Excel row) → that ledger row. The rows come in Excel-row order
    (evaluator/store.load_rows), so a row is found by its position and checked; a sheet whose
    rows are not where their numbers say is indexed by a dict instead. (A dict of every row was
    0.1 s at 10,000 employees, 1 s at 100,000.) A sheet kept in a file (SpooledRows: the
    transaction sheets) finds the row in its file, a chunk at a time."""

    def __init__(self, rows: dict[str, list[dict] | SpooledRows]):
        self.rows = rows
        self.by_number: dict[str, dict[int, dict]] = {}
        self.fetched: dict[tuple[str, int], dict] = {}       # prefetch's

    def prefetch(self, keys) -> None:
        """Reads the rows among `keys`, (sheet, Excel row), that are kept in files into
        memory, each sheet in one pass (rules.sources.cited_rows): for a writer that knows
        which rows it will look up, and would look them up all over the sheet (the review
        workbooks, one assignee's items after another: 9.9 instead of 2.9 s at 100,000
        employees, row by row)."""
        rows = self.rows
        self.fetched.update(cited_rows(rows, (k for k in keys
                                              if isinstance(rows.get(k[0]), SpooledRows))))

    def forget(self) -> None:
        """Drops the rows prefetched so far (a writer that reads a group of rows at a time)."""
        self.fetched.clear()

    def get(self, key: tuple[str, int]) -> dict | None:
        sheet, number = key
        lst = self.rows.get(sheet)
        if not lst:
            return None
        if isinstance(lst, SpooledRows):
            row = self.fetched.get(key)
            return row if row is not None else lst.row(number)
        table = self.by_number.get(sheet)
        if table is None:
            if isinstance(number, int):
                i = number - lst[0]["row"]
                if 0 <= i < len(lst) and lst[i]["row"] == number:
                    return lst[i]
            table = self.by_number[sheet] = {r["row"]: r for r in lst}
        return table.get(number)


class CitedRows:
    """`cited(sheet, row)`: (reference, line) of a cited ledger row — `周边评价!17` and
    `周边评价!17: 评价编号=R1; …` (the reference and `cited_values`). `sheet_lang`: the
    language of the ledger's sheet and column names. A subclass may note more of each row in
    its entry (`_entry`), once.

    Entries are held (`lines`) because the firings of a row mostly come one after another (its
    rules fire as it is fed) — but at most HELD of them: the cache is emptied when full, since
    holding a line for every cited row cost 474 MB at 100,000 employees (and grows with the
    length of the ledger's texts). A rating row's count fires in a later pass, so its line is
    made twice (823k of 1.7M lines at 100,000 employees). The Sources sheet, which lists every
    cited row once, takes each row's `reference` and `values`, which hold nothing."""

    HELD = 65_536

    def __init__(self, rows: dict, sheet_lang: str):
        self.index = RowIndex(rows)
        self.lang = sheet_lang
        self.lines: dict[tuple, tuple] = {}
        self.names: dict[str, str] = {}

    def __call__(self, sheet: str, row: int) -> tuple:
        key = (sheet, row)
        entry = self.lines.get(key)
        if entry is None:
            lines = self.lines
            if len(lines) >= self.HELD:
                lines.clear()       # the same dict: renderers hold it (trace._FiringRows.xml)
            ref_text = self.reference(sheet, row)
            line = f"{ref_text}: {cited_values(self.lang, sheet, self.index.get(key))}"
            entry = lines[key] = self._entry(ref_text, line)
        return entry

    def reference(self, sheet: str, row: int) -> str:
        """`周边评价!17`: the reference alone."""
        name = self.names.get(sheet)
        if name is None:
            name = self.names[sheet] = sheet_name(self.lang, sheet)
        return f"{name}!{row}"

    @staticmethod
    def _entry(ref_text: str, line: str) -> tuple:
        return ref_text, line

    def values(self, sheet: str, row: int) -> str:
        """The cited values alone (what the line shows after the reference), not held."""
        entry = self.lines.get((sheet, row))
        if entry is not None:
            return entry[1][len(entry[0]) + 2:]
        return cited_values(self.lang, sheet, self.index.get((sheet, row)))

    def texts(self, sources, shown: int | None = None, limit: int | None = None
              ) -> tuple[str, str]:
        """(the references of `sources`, `; `-joined; the lines of the first `shown` of them,
        one a line; None: all). Only the rows whose lines are shown are made whole: a
        department's firing may cite hundreds. `limit`: the caller keeps no more than this
        many characters of the references (a workbook cell's: `clip`), so once they are
        longer the rest is not made — a department's blend cites 30,000 ratings, whose
        references were 2 MB of text to keep 32,000 characters of."""
        lines = self.lines
        if len(sources) == 1:
            (s, r), = sources
            entry = lines.get((s, r)) or self(s, r)
            return entry[0], entry[1]
        entries = [lines.get((s, r)) or self(s, r) for s, r in sources[:shown]]
        refs = [e[0] for e in entries]
        if shown is not None:
            if limit is None:
                refs += [self.reference(s, r) for s, r in sources[shown:]]
            else:
                size = sum(map(len, refs)) + 2 * (len(refs) - 1)
                reference = self.reference
                for s, r in islice(sources, shown, None):
                    if size > limit:
                        break           # what is kept of the whole is already here
                    ref = reference(s, r)
                    refs.append(ref)
                    size += 2 + len(ref)
        return ("; ".join(refs),
                "\n".join(e[1] for e in entries))

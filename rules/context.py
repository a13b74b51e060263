"""One evaluation's working state, shared by the five mechanisms: the ledger's rows, the company
index, the policy, the decisions in force, and what the firings produced.

Each mechanism module feeds facts through `feed()` and hands every firing back here with the
subject and sources of its outcomes; this module turns them into adjustments, exceptions and
trace entries. It is pure: no database (evaluator/ stores the result). The trace goes wherever
the evaluation says: a spool file (importers/spool.py: a big month's trace is never held whole) or
a list.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from heapq import merge
from itertools import islice
from operator import itemgetter
from typing import Iterable, Iterator, Mapping, NamedTuple

from importers.memory import give_back_free_memory
from importers.spool import Spool
from importers.schema import SHEETS
from rules.assignees import HR
from rules.company import Company
from rules.kinds import MECHANISMS, ExceptionKind
from rules.policy import Policy
from rules.sources import RowSources, SourceMarks, base, month_of, qualify
from rules.wording import Said

MECHANISM_ORDER = {m: i for i, m in enumerate(MECHANISMS)}
SHEET_ORDER = {s.name: i for i, s in enumerate(SHEETS)}
STATUS_OF_DECISION = {"confirm": "confirmed", "overturn": "overturned"}

Source = tuple[str, int]     # (sheet, Excel row); another month's sheet is qualified (rules.sources)
# Facts per batch of Evaluation.feed_batches: its workers start with the evaluation's pages, and
# it holds two batches (the one the rules work on, the next being fed). Measured at 100,000
# employees, evaluation alone: 65,536 — 44.5 s, the child's peak RSS 283 MB, the workers' 304;
# 32,768 — 40.4 and 42.8 s, 250 MB, 211–220; 16,384 — 41.9 s, 251 MB, 172 MB.
FEED_BATCH = 16_384


class TraceEntry(NamedTuple):
    """One firing as recorded. A tuple: a big month has millions, and they are sent back from
    the evaluation's child process (engine.isolation), where a dataclass unpickles at half
    the speed."""
    seq: int
    rule: str
    subject_id: str | None
    sources: list[Source]
    outcome: dict


class Keyed(NamedTuple):
    """An adjustment or an exception as made, with the key it sorts by (SPEC §5.7)."""
    key: tuple
    item: dict


class SharedOutcomes:
    """One evaluation's common trace outcomes. Most firings' outcome is nothing, or one note or
    flag ({"note": "accepted"}): one object per distinct outcome instead of a dict and a list
    per firing. A 100,000-employee month records 2.6 million firings: this is gigabytes, and it
    is what the evaluation's child process (engine.isolation) pickles back, where a shared
    object is sent once. Each Context owns one, so an outcome object is shared by the trace
    entries of one evaluation only, whose readers (the store) only read it."""

    __slots__ = ("_by_note",)

    LIMIT = 1000            # distinct outcomes shared; the common ones are a few hundred

    def __init__(self):
        self._by_note: dict[tuple, dict] = {(): {}}      # () or (name, text) -> the outcome

    def shared(self, outcomes: tuple) -> dict | None:
        """The shared outcome of a firing that recorded `outcomes`; None when it is not a
        common one (not nothing, nor one note or flag)."""
        if not outcomes:
            return self._by_note[()]
        if len(outcomes) != 1 or type(outcomes[0]) is not dict or len(outcomes[0]) != 1:
            return None
        ((k, v),) = outcomes[0].items()
        if type(k) is not str or type(v) is not str:
            return None
        got = self._by_note.get((k, v))
        if got is None and len(self._by_note) < self.LIMIT:
            got = self._by_note[(k, v)] = {"outcomes": [{k: v}]}
        return got


@dataclass
class Context:
    period: str
    policy: Policy
    # sheet -> its rows: a list, or any sized iterable in Excel-row order read anew on each
    # pass (the evaluator's SpooledRows: the transaction sheets, read from files)
    rows: Mapping[str, Iterable[dict]]
    # the catalog of exception kinds in SPEC order (rules.exceptions.KIND_BY_NAME), given by the
    # evaluation: the books declare the kinds, so the context cannot import them
    kinds: Mapping[str, ExceptionKind]
    decisions: dict[str, str] = field(default_factory=dict)     # review_id -> confirm|overturn
    company: Company = None
    # the results as made, each with its sort key (SPEC §5.7): a list, or a spool of (key, item)
    # records (evaluator.evaluate: on files until the end); read in order once, at the end
    adjustments: list[tuple[tuple, dict]] | Spool = field(default_factory=list)
    exceptions: list[tuple[tuple, dict]] | Spool = field(default_factory=list)
    # every firing's entry, in order: anything with append() and len() (evaluator.evaluate
    # gives an importers.spool.Spool, which keeps all but its last chunk on a file)
    trace: list[TraceEntry] | Spool = field(default_factory=list)
    # rule id -> how its firing ends the row of its first source ("applied", "carried"), and
    # the rows so ended, per how (rules.sources.SourceMarks: a byte per Excel row). The
    # evaluation's reconciliation reads them (evaluator.evaluate): kept per ledger row as the
    # rules fire, so that nobody reads the trace back for it.
    endings: Mapping[str, str] = field(default_factory=dict)
    ended: dict[str, SourceMarks] = field(default_factory=dict)
    fed: int = 0
    progress: object = None      # progress(phase, done, total, unit), e.g. xietong.cli.Progress
    # other months' active rows the policy reads (rules.months.other_months): period -> sheet
    # -> rows; a month without an import is absent
    history: Mapping[str, Mapping[str, Iterable[dict]]] = field(default_factory=dict)
    _sheets: dict = field(default_factory=dict, repr=False)    # sheet -> rows in row order
    _companies: dict = field(default_factory=dict, repr=False)  # period -> its Company
    _outcomes: SharedOutcomes = field(default_factory=SharedOutcomes, repr=False)

    def __post_init__(self):
        self._kind_order = {kind: i for i, kind in enumerate(self.kinds)}
        if self.company is None:
            self.company = Company.from_rows(self.rows)
        year, month = self.period.split("-")
        self.year, self.month = int(year), int(month)

    def sheet(self, name: str) -> Iterable[dict]:
        """The sheet's rows in Excel-row order (a list is sorted once: several mechanisms ask
        for it). A sheet that is not a list — the evaluator's SpooledRows, read from the
        database in Excel-row order and kept on a file — is given as it is: iterable as often
        as needed, and sized, but not indexable; a mechanism reads it in order, as it comes."""
        rows = self._sheets.get(name)
        if rows is None:
            rows = self._sheets[name] = _in_row_order(self.rows.get(name, []))
        return rows

    def month_sheet(self, period: str, name: str) -> Iterable[dict]:
        """Another month's rows of a sheet in Excel-row order ([] when that month has no
        import), as `sheet` gives them; their sources name the sheet qualified with the month
        (rules.sources)."""
        key = qualify(name, period)
        rows = self._sheets.get(key)
        if rows is None:
            rows = self._sheets[key] = _in_row_order(self.history.get(period, {}).get(name, []))
        return rows

    def has_month(self, period: str) -> bool:
        """Whether the evaluation holds `period`'s active import (some of its sheets)."""
        return period in self.history

    def company_of(self, period: str) -> Company:
        """The master data of another month's import, as the rules see it."""
        company = self._companies.get(period)
        if company is None:
            company = self._companies[period] = Company.from_rows(self.history.get(period, {}))
        return company

    def _source_key(self, source: Source) -> tuple:
        """Where a source sorts (SPEC §5.7): by sheet, then month (an earlier month's row
        before the period's own), then Excel row."""
        sheet, row = source
        order = SHEET_ORDER.get(sheet)
        if order is not None:                   # the period's own row: the usual case
            return order, self.period, row
        return SHEET_ORDER[base(sheet)], month_of(sheet, self.period), row

    # -- feeding ---------------------------------------------------------------------------

    def feed(self, ev, book: str, fact: dict, key: Source | tuple) -> list:
        self.fed += 1
        if self.progress is not None and not self.fed & 4095:
            self.progress("evaluate", self.fed, None, "facts")
        return ev.feed(book, fact, key=key)

    def feed_each(self, ev, book: str, items: Iterable, fact_of) -> Iterator[tuple]:
        """(item, its firings) for each item, in order: `fact_of(item)` is the item's (fact,
        key). The items are read once (a sheet on a file is not read twice), FEED_BATCH at a
        time, so a million-row sheet is never all in memory at once; the batches go to
        Evaluation.feed_batches, which may feed each on several cores, each process making the
        facts of its own part (`fact_of` is a function of its item alone: the rules' fact
        makers read the company and the policy, and change nothing), and the next batch while
        the caller works on this one: so the items are read a batch ahead of the caller, and
        none may depend on what the caller did with those before it."""
        it = iter(items)
        batches = iter(lambda: list(islice(it, FEED_BATCH)), [])
        for batch, got in ev.feed_batches(book, batches, fact_of):
            self.fed += len(batch)
            if self.progress is not None:
                self.progress("evaluate", self.fed, None, "facts")
            # each item and its firings let go of as they are handed on: kept until the batch's
            # end, a batch's firings were still held while the next batch was read and fed (the
            # InternalRatings step's peak at 100,000 employees 35 MB higher, tracemalloc)
            got.reverse()
            batch.reverse()
            full = len(batch) == FEED_BATCH
            while got:
                yield batch.pop(), got.pop()
            if full:
                # what the batch took is free again, but the C library's heap keeps those
                # pages, scattered between what stays (each rating's figures, the spools'
                # chunks): handed back after each full batch, a 100,000-employee month's
                # evaluation peaked 10 MB lower (146 → 136 MB), a 10,000-employee one's the same
                give_back_free_memory()

    def record(self, firing, subject_id: str | None, sources: list[Source]) -> TraceEntry:
        """Every firing becomes a trace entry, outcome or not: no rule fires unseen."""
        outcome = self._outcomes.shared(firing.outcomes)
        if outcome is None:
            outcome = {"outcomes": list(firing.outcomes)}
        entry = TraceEntry(firing.seq, firing.rule_id, subject_id, _kept(sources), outcome)
        self.trace.append(entry)
        how = self.endings.get(firing.rule_id)
        if how is not None:
            self._end_row(how, sources[0])
        return entry

    def _end_row(self, how: str, source: Source) -> None:
        marks = self.ended.get(how)
        if marks is None:
            marks = self.ended[how] = SourceMarks()
        marks.add(*source)

    def row_ended(self, how: str, sheet: str, row: int) -> bool:
        """Whether a firing of a rule ending rows `how` (see `endings`) named this row first."""
        marks = self.ended.get(how)
        return marks is not None and (sheet, row) in marks

    # -- outcomes --------------------------------------------------------------------------

    def adjust(self, entry: TraceEntry, subject_type: str, subject_id: str, mechanism: str,
               outcome: dict, sources: list[Source], after_credits: bool = False) -> dict:
        adj = {"subject_type": subject_type, "subject_id": subject_id, "mechanism": mechanism,
               "rule": entry.rule, "points": Decimal(outcome["points"]),
               "sources": _kept(sources), "explanation": outcome["explanation"],
               "says": outcome.get("says"), "firing_seq": entry.seq}
        key = (MECHANISM_ORDER[mechanism], subject_id, after_credits,
               *self._source_key(sources[0]))
        self.adjustments.append(Keyed(key, adj))
        return adj

    def exception(self, entry: TraceEntry, kind: str, mechanism: str, subject_id: str,
                  key_parts, sources: list[Source], assignee: str | None,
                  message: Said) -> dict:
        """`message`: the book's sentence about this case; its English text is the exception's
        message, its `says` goes with it (stored in the firing's outcome, evaluator/runs.py)."""
        info = self.kinds[kind]
        rid = info.review_id(self.period, key_parts)
        status = self._status(info, rid)
        exc = {"review_id": rid, "kind": kind, "type": info.type, "subject_id": subject_id,
               "assignee_id": assignee if info.type == "review" else HR, "status": status,
               "sources": _kept(sources), "message": message.text, "says": message.says,
               "firing_seq": entry.seq}
        key = (MECHANISM_ORDER[mechanism], subject_id, *self._source_key(sources[0]),
               self._kind_order[kind], rid)
        self.exceptions.append(Keyed(key, exc))
        return exc

    def review_status(self, kind: str, key_parts) -> str:
        """The status an exception of `kind` with this review key has (or would have) in this
        evaluation: "open", or "confirmed"/"overturned" by the decision in force for its review
        id (rejections are always open)."""
        info = self.kinds[kind]
        return self._status(info, info.review_id(self.period, key_parts))

    def _status(self, info: ExceptionKind, rid: str) -> str:
        if info.type == "review" and rid in self.decisions:
            return STATUS_OF_DECISION[self.decisions[rid]]
        return "open"

    # -- results in SPEC §5.7 order --------------------------------------------------------

    def ordered_adjustments(self, into: Spool | None = None) -> list[dict] | Spool:
        """The adjustments in order. Called once, when none is to come: their sort keys are let
        go, and an adjustment made afterwards fails (there is nowhere left to keep it).
        `into`: a spool (emptied first) that receives them, a record (adjustment,) each, in
        order, and is returned — from a spool of them as made, by a merge that holds a few
        hundred per chunk of the making (merged_in_key_order), never all: at 100,000
        employees the list of 50,590 adjustments was 56 MB of the evaluation's peak."""
        keyed, self.adjustments = self.adjustments, None
        return _ordered(keyed, into)

    def ordered_exceptions(self, into: Spool | None = None) -> list[dict] | Spool:
        """The exceptions in order, as ordered_adjustments: `into` receives them, a record
        (exception,) each (at 100,000 employees the list of 30,052 exceptions was 38 MB of
        objects, held from here to the end of the evaluation's child). Read them, held or on
        a file, with `results_of`."""
        keyed, self.exceptions = self.exceptions, None
        return _ordered(keyed, into)


def results_of(results: list[dict] | Spool, changing: bool = False) -> Iterator[dict]:
    """Each adjustment or exception of an evaluation in order, whether held (a list) or on a
    file (a spool of records (item,): Context.ordered_adjustments and ordered_exceptions with
    `into`). A reader that changes the items says so (`changing`): then an item changed stays
    changed (Spool.__iter__ writes its chunk back once the reading has gone past it: read to
    the end); any other reads each chunk as stored (Spool.fields), never pickling it again to
    see whether it changed."""
    if type(results) is list:
        return iter(results)
    return (item for (item,) in (results if changing else results.fields()))


def _ordered(keyed: list[tuple] | Spool, into: Spool | None) -> list[dict] | Spool:
    """The items of (key, item) pairs in key order: a list, or `into` (emptied first), a record
    (item,) each."""
    if into is None:
        return _in_key_order(keyed)
    into.clear()
    for item in merged_in_key_order(keyed):
        into.append((item,))
    into.flush()
    return into


def _in_key_order(keyed: list[tuple] | Spool) -> list:
    """The items of (key, item) pairs in key order; a list of them is sorted in place and
    emptied (a key per result: ≈ 16 MB at 100,000 employees, held no longer than the sort), a
    spool read back."""
    if type(keyed) is not list:         # read only: chunks(), not iteration (which checks
        keyed = [kv for chunk in keyed.chunks() for kv in chunk]    # for changes to write back)
    keyed.sort(key=lambda kv: kv[0])
    out = [item for _, item in keyed]
    keyed.clear()
    return out


# records per block of a sorted run (merged_in_key_order): what the merge holds of each run
MERGE_BLOCK = 256


def merged_in_key_order(keyed: list[tuple] | Spool) -> Iterator:
    """The items of (key, item) pairs in key order, as _in_key_order, read from a spool without
    holding them: each chunk of `keyed`, sorted, is a run written to a spool of its own in
    blocks of MERGE_BLOCK records, and the runs are merged a block of each at a time (an
    external merge sort). Equal keys keep the order they were made in (each sort is stable,
    and the merge takes from the earlier run first)."""
    if type(keyed) is list:
        yield from _in_key_order(keyed)
        return
    key = itemgetter(0)
    runs_file = Spool(chunk=MERGE_BLOCK)
    try:
        bounds = []                         # (first record, stop) of each run on runs_file
        for chunk in keyed.chunks():
            start = len(runs_file)
            runs_file.extend(sorted(chunk, key=key))
            runs_file.flush()               # the next run starts a block of its own
            bounds.append((start, len(runs_file)))
        yield from (item for _, item in merge(*(_run(runs_file, *b) for b in bounds), key=key))
    finally:
        runs_file.close()


def _run(runs_file: Spool, start: int, stop: int) -> Iterator[tuple]:
    """One sorted run of merged_in_key_order: its (key, item) pairs, a block at a time."""
    at = start
    while at < stop:
        block = runs_file.chunk_rows(at)
        yield from block
        at += len(block)


def _kept(sources) -> list[Source] | RowSources:
    """The sources a trace entry, an adjustment or an exception keeps: a copy of a list, a
    RowSources as it is (its maker does not change it afterwards: a blend's cite every
    counted rating, and one copy is enough)."""
    return sources if type(sources) is RowSources else list(sources)


def _in_row_order(rows):
    """A list sorted by Excel row; any other iterable of rows as it is (in row order already)."""
    return sorted(rows, key=lambda r: r["row"]) if isinstance(rows, (list, tuple)) else rows

"""Feeding many rows on several cores: `Evaluation.feed_many`, and the forked copies of the
evaluation that feed its chunks.

`feed_many(ev, book, rows)` gives exactly what `[ev.feed(book, row, key=key) for row, key in
rows]` gives: the same firings in the same order, with the same seq numbers, counts and unfired
rows. With `ev.workers` > 1, the rows are cut into at most that many consecutive chunks of at
least `ev.min_parallel_rows` rows each: this process feeds the first while forked copies of the
evaluation (engine state included: fork copies it) feed the others, on other cores.

`feed_many(ev, book, items, make)` feeds `make(item)` — a (row, key) pair — of each item: each
process makes the rows of its own chunk, so that making them (the rules' facts from ledger
rows: a sixth of a big month's evaluation) is shared between the cores too. `make` must be a
function of its item alone (what it changes elsewhere is lost in a worker).

That is sound because a fed row sees no other row (each is retracted before the next is
asserted), so which process feeds it does not change what fires. Each copy proves its engine
clean afterwards (reconcile: nothing pending, nothing stored) and sends back each row's
(rule id, outcomes) pairs; the parent numbers them to follow the firings before them
(Evaluation._adopt). A copy that fails or crashes (SIGSEGV, docs/engine.md §5) makes the
evaluation unusable; the other copies are stopped. The durable_rules C code never releases the
GIL (§g): processes, not threads.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from engine.errors import ERRORS_BY_NAME, EngineError, ReconciliationError
from engine.isolation import ChildError, EvaluationCrashed, Forked

if TYPE_CHECKING:
    from engine.rulebook import RuleBook

# `ev` below is the engine.evaluation.Evaluation that calls in here (and only it): not imported,
# even for type hints, so that the two modules do not import each other.

MIN_PARALLEL_ROWS = 4096       # a forked worker is given this many rows or more: below, a fork
                               # and the firings' trip back cost more than they save


def feed_many(ev, book: str | RuleBook, rows: Sequence, make=None) -> list[list]:
    """`[ev.feed(book, row, key=key) for row, key in rows]` — with `make`, `rows` are items and
    `map(make, rows)` the (row, key) pairs — on up to `ev.workers` processes (see the module
    docstring)."""
    rows = list(rows)
    parts = min(ev.workers, len(rows) // ev.min_parallel_rows or 1)
    if parts <= 1:
        return _feed(ev, book, rows, make)
    ev._check_usable()
    ev._book(book)                   # an unknown book fails here, not in every worker
    size = -(-len(rows) // parts)
    chunks = [rows[i:i + size] for i in range(0, len(rows), size)]
    workers: list[Forked] = []
    try:
        for chunk in chunks[1:]:
            workers.append(Forked(_feed_chunk, ev, book, chunk, make))
        out = _feed(ev, book, chunks[0], make)
        for worker, chunk in zip(workers, chunks[1:]):
            try:
                got, counts, keys = worker.result()
            except ChildError as err:
                cls = ERRORS_BY_NAME.get(err.kind, EngineError)
                text = f'a feed_many worker failed: {err}'
                ev._fail(cls([text]) if cls is ReconciliationError else cls(text), cause=err)
            except EvaluationCrashed as err:
                first = (chunk[0] if make is None else make(chunk[0]))[1]
                ev._fail(EngineError(f'a feed_many worker died ({err}) while feeding '
                                     f'{len(chunk)} row(s) from {first!r}'), cause=err)
            ev._adopt([key for _, key in chunk] if keys is None else keys, got, counts, out)
    except BaseException as err:
        for worker in workers:
            worker.cancel()
        if ev._failure is None:
            ev._failure = err
        raise
    return out


def _feed(ev, book: str | RuleBook, rows: Sequence, make) -> list[list]:
    return [ev.feed(book, row, key=key)
            for row, key in (rows if make is None else map(make, rows))]


def _feed_chunk(ev, book: str | RuleBook, chunk: list, make=None) -> tuple:
    """In a forked worker: feeds the chunk, proves the engine clean, returns each row's
    (rule id, outcomes) pairs, their number by rule, and (with `make`) the rows' keys — None
    without: the parent has them. Plain tuples, and no seq: the parent numbers the firings,
    and pickle would write a named tuple with its class, per firing."""
    ev.keep_firings = False          # this copy's list is never read
    before = ev.reconcile().by_rule
    pairs = chunk if make is None else list(map(make, chunk))
    got = [[(f.rule_id, f.outcomes) for f in ev.feed(book, row, key=key)] for row, key in pairs]
    after = ev.reconcile().by_rule
    return (got, {r: n - before[r] for r, n in after.items() if n != before[r]},
            None if make is None else [key for _, key in pairs])

"""Feeding many rows on several cores: `Evaluation.feed_many`, and the forked copies of the
evaluation that feed its chunks.

`feed_many(ev, book, rows)` gives exactly what `[ev.feed(book, row, key=key) for row, key in
rows]` gives: the same firings in the same order, with the same seq numbers, counts and unfired
rows. With `ev.workers` > 1, the rows are cut into at most that many consecutive chunks of at
least `ev.min_parallel_rows` rows each: this process feeds the first while forked copies of the
evaluation (engine state included: fork copies it) feed the others, on other cores.

That is sound because a fed row sees no other row (each is retracted before the next is
asserted), so which process feeds it does not change what fires. Each copy proves its engine
clean afterwards (reconcile: nothing pending, nothing stored) and sends back each row's
(rule id, outcomes) pairs; the parent numbers them to follow the firings before them
(Evaluation._adopt). A copy that fails or crashes (SIGSEGV, docs/engine.md §5) makes the
evaluation unusable; the other copies are stopped. The durable_rules C code never releases the
GIL (§g): processes, not threads.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Hashable, Mapping, Sequence

from engine.errors import ERRORS_BY_NAME, EngineError, ReconciliationError
from engine.isolation import ChildError, EvaluationCrashed, Forked

if TYPE_CHECKING:
    from engine.rulebook import RuleBook

# `ev` below is the engine.evaluation.Evaluation that calls in here (and only it): not imported,
# even for type hints, so that the two modules do not import each other.

MIN_PARALLEL_ROWS = 4096       # a forked worker is given this many rows or more: below, a fork
                               # and the firings' trip back cost more than they save


def feed_many(ev, book: str | RuleBook,
              rows: Sequence[tuple[Mapping[str, Any], Hashable]]) -> list[list]:
    """`[ev.feed(book, row, key=key) for row, key in rows]`, on up to `ev.workers` processes
    (see the module docstring)."""
    rows = list(rows)
    parts = min(ev.workers, len(rows) // ev.min_parallel_rows or 1)
    if parts <= 1:
        return [ev.feed(book, row, key=key) for row, key in rows]
    ev._check_usable()
    ev._book(book)                   # an unknown book fails here, not in every worker
    size = -(-len(rows) // parts)
    chunks = [rows[i:i + size] for i in range(0, len(rows), size)]
    workers: list[Forked] = []
    try:
        for chunk in chunks[1:]:
            workers.append(Forked(_feed_chunk, ev, book, chunk))
        out = [ev.feed(book, row, key=key) for row, key in chunks[0]]
        for worker, chunk in zip(workers, chunks[1:]):
            try:
                got, counts = worker.result()
            except ChildError as err:
                cls = ERRORS_BY_NAME.get(err.kind, EngineError)
                text = f'a feed_many worker failed: {err}'
                ev._fail(cls([text]) if cls is ReconciliationError else cls(text), cause=err)
            except EvaluationCrashed as err:
                ev._fail(EngineError(f'a feed_many worker died ({err}) while feeding '
                                     f'{len(chunk)} row(s) from {chunk[0][1]!r}'), cause=err)
            ev._adopt(chunk, got, counts, out)
    except BaseException as err:
        for worker in workers:
            worker.cancel()
        if ev._failure is None:
            ev._failure = err
        raise
    return out


def _feed_chunk(ev, book: str | RuleBook, chunk: list) -> tuple:
    """In a forked worker: feeds the chunk, proves the engine clean, returns each row's
    (rule id, outcomes) pairs and their number by rule. Plain tuples, and no seq or key: the
    parent knows those, and pickle would write a named tuple with its class, per firing."""
    ev.keep_firings = False          # this copy's list is never read
    before = ev.reconcile().by_rule
    got = [[(f.rule_id, f.outcomes) for f in ev.feed(book, row, key=key)] for row, key in chunk]
    after = ev.reconcile().by_rule
    return got, {r: n - before[r] for r, n in after.items() if n != before[r]}

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

from typing import TYPE_CHECKING, Iterable, Iterator, Sequence

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
    if ev.workers <= 1 or len(rows) < 2 * ev.min_parallel_rows:     # no second chunk
        return _feed(ev, book, rows, make)
    chunks = _cut(ev, book, rows)
    workers = _Workers(ev, book, chunks[1:], make)
    try:
        out = _feed(ev, book, chunks[0], make)
    except BaseException as err:
        workers.cancel(err)
        raise
    workers.adopt(out)
    return out


def feed_batches(ev, book: str | RuleBook, batches: Iterable[list], make=None
                 ) -> Iterator[tuple[list, list[list]]]:
    """(batch, feed_many(ev, book, batch, make)) for each batch of `batches`, in order — the
    same firings with the same seq numbers as feeding them one after the other, each batch
    numbered when it is handed on, after whatever the caller fed meanwhile.

    With `ev.workers` > 1, a batch of at least `ev.min_parallel_rows` rows is fed by forked
    workers only (cut as feed_many cuts it), and the next batch is taken from `batches` and its
    workers forked before this one is handed on: they feed it while the caller works on this
    one (what a rule's Python makes of each firing: a big month's evaluation was as long again
    as its feeding, one core idle). So `batches` is read a batch ahead of the caller: no batch
    may depend on what the caller does with the ones before it. A smaller batch, or one on a
    single core, is fed here when its turn comes. Whatever stops the iteration (the caller
    closing it, an error) stops the workers still feeding."""
    it = iter(batches)
    current = following = None
    try:
        current = _ahead(ev, book, next(it, None), make)
        while current is not None:
            following = _ahead(ev, book, next(it, None), make)
            batch, workers = current
            if workers is None:
                got = _feed(ev, book, batch, make)
            else:
                got = []
                workers.adopt(got)
            current, following = following, None
            yield batch, got
    finally:
        for pending in (current, following):
            if pending is not None and pending[1] is not None:
                pending[1].cancel()


def _ahead(ev, book, batch: list | None, make) -> tuple[list, _Workers | None] | None:
    """A batch of feed_batches with the workers feeding it (None: fed when its turn comes)."""
    if batch is None:
        return None
    if ev.workers <= 1 or len(batch) < ev.min_parallel_rows:
        return batch, None
    return batch, _Workers(ev, book, _cut(ev, book, batch), make)


def _cut(ev, book, rows: list) -> list[list]:
    """`rows` in consecutive chunks of at least `ev.min_parallel_rows` rows (one, if fewer), one
    per process at most; the evaluation and the book checked first (an unknown book fails
    here, not in every worker)."""
    ev._check_usable()
    ev._book(book)
    parts = min(ev.workers, len(rows) // ev.min_parallel_rows) or 1
    size = -(-len(rows) // parts)
    return [rows[i:i + size] for i in range(0, len(rows), size)]


class _Workers:
    """Forked copies of the evaluation, one per chunk, each feeding its chunk now; `adopt(out)`
    waits for them in order and appends each chunk's rows' firings to `out`, numbered to
    follow the evaluation's firings so far (Evaluation._adopt); `cancel()` stops them. A worker
    that fails or dies makes the evaluation unusable, the others stopped."""

    def __init__(self, ev, book, chunks: list[list], make):
        self.ev, self.chunks, self.make = ev, chunks, make
        self.workers: list[Forked] = []
        try:
            for chunk in chunks:
                self.workers.append(Forked(_feed_chunk, ev, book, chunk, make))
        except BaseException as err:
            self.cancel(err)
            raise

    def adopt(self, out: list) -> None:
        ev, make = self.ev, self.make
        try:
            for worker, chunk in zip(self.workers, self.chunks):
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
            self.cancel(err)
            raise

    def cancel(self, err: BaseException | None = None) -> None:
        for worker in self.workers:
            worker.cancel()
        if err is not None and self.ev._failure is None:
            self.ev._failure = err


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

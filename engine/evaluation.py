"""The run loop: one isolated, synchronous evaluation of some rule books in durable_rules.

`Evaluation.feed` asserts a row as a fact in its book's engine ruleset (so that every rule it
meets fires: a posted event would fire one rule only, docs/engine.md §8), runs the engine's
agenda itself (`_drain`: the engine's own dispatch swallows errors, §7, drops agendas after 10 s,
§9, and races a background thread, §1), records each firing as an `Activation`, then retracts
the row, so the engine holds nothing between two feeds (a stored fact costs ~8 KB, §11).
`reconcile` proves that nothing is left pending or stored; `close` frees the engine's memory.
`feed_many` is `feed` of many rows, possibly on several cores (engine/parallel.py).
"""
from __future__ import annotations

import json
import time
import weakref
from collections import abc as _abc
from dataclasses import dataclass
from typing import Any, Callable, Hashable, Iterable, Iterator, Mapping, NamedTuple, Sequence

import durable_rules_engine as _dre
from durable import engine as _engine

from engine import parallel
from engine.errors import (EngineError, EvaluationUnusable, FactNotHandled, FactObserved,
                           ReconciliationError, RuleActionError, RuleDefinitionError)
from engine.facts import FactChecker, FactEncoder
from engine.ids import HashSpace, message_id_base
from engine.rulebook import PATTERN, Rule, RuleBook

MIN_PARALLEL_ROWS = parallel.MIN_PARALLEL_ROWS
SID = 's0'                  # the one engine state of each book: rows are never stored together
ENGINE_ACTION_LIMIT = 10.0  # seconds after which the engine gives up on an action (§9)


class Activation(NamedTuple):
    """One firing: a rule's action run on a fact. `fact_keys` is `(the caller's key of the
    fact,)`; `outcomes` is what the action returned."""
    seq: int
    rule_id: str
    fact_keys: tuple
    outcomes: tuple


@dataclass(frozen=True)
class Reconciliation:
    fed: int              # rows passed to feed()
    firings: int
    by_rule: dict         # rule id -> number of firings; every rule listed
    unfired: tuple        # keys of fed rows on which no rule fired, in feed order


# ---------------------------------------------------------------------------------------------
# The host

class _SyncHost(_engine.Host):
    """engine.Host without its dispatcher and timer threads (docs/engine.md §1): they steal
    pending actions and run them later on another thread. Here nothing runs unless this layer
    runs it. Timers (c.start_timer) therefore never fire; the layer does not offer them."""

    def _run(self) -> None:
        pass

    def get_action(self, action_name: str) -> Callable:
        raise EngineError(f'named actions are not used by this layer ({action_name})')

    def load_ruleset(self, ruleset_name: str) -> Any:
        raise EngineError(f'no ruleset {ruleset_name!r} in this evaluation')


def _engine_must_not_dispatch(c: Any) -> None:
    """Registered as every rule's engine-side action. The layer runs actions itself; the engine's
    own dispatch path (which swallows errors, docs/engine.md §7) must never reach one."""
    raise EngineError('durable_rules dispatched an action outside the safe layer')


class _Book:
    """Per-evaluation state of one rule book."""

    __slots__ = ('book', 'name', 'handle', 'rules', 'clean', 'encode', 'space', 'offset',
                 'state')

    def __init__(self, book: RuleBook, handle: int):
        self.book = book
        self.name = book.name
        self.handle = handle                  # the C ruleset
        self.rules = {r.rule_id: r for r in book.rules}
        self.clean = FactChecker(book.field_types)
        self.encode = FactEncoder()
        # The engine stores the state's own message, id 'sid-<sid>', among the messages.
        self.space = HashSpace(reserved=(f'sid-{SID}',))
        self.offset = 0                       # the engine's offset of the state (to drain it)
        self.state = [False]                  # the engine state exists (shared with _release)


def _release(resources: list) -> None:
    """Frees an evaluation's engine memory: the state first (delete_ruleset does not free it),
    then the ruleset handle (131,071 live handles per process at most; freed handles are reused
    once the table has cycled), docs/engine.md §10. Runs once: from close(), or when the
    Evaluation is garbage-collected."""
    while resources:
        handle, state = resources.pop()
        if state[0]:
            try:
                _dre.delete_state(handle, SID)
            except Exception:       # never created after all: nothing to free
                pass
        try:
            _dre.delete_ruleset(handle)
        except Exception:
            pass


# ---------------------------------------------------------------------------------------------
# The evaluation

class Evaluation:
    """One isolated, synchronous run of some rule books (see the package docstring, engine/).
    A context manager: `close()` frees the engine's memory."""

    def __init__(self, rulebooks: Iterable[RuleBook], *, action_budget: float = 5.0,
                 keep_firings: bool = True, workers: int = 1,
                 min_parallel_rows: int = MIN_PARALLEL_ROWS):
        books = list(rulebooks)
        names = [b.name for b in books]
        if len(set(names)) != len(names):
            raise RuleDefinitionError(f'rule book names repeat: {names}')
        owner: dict[str, str] = {}
        for b in books:
            if not len(b):
                raise RuleDefinitionError(f'book {b.name} has no rules')
            for r in b.rules:
                if r.rule_id in owner:
                    raise RuleDefinitionError(f'rule id {r.rule_id} is in books {owner[r.rule_id]} '
                                              f'and {b.name}: firings name rules by id alone')
                owner[r.rule_id] = b.name
        if not 0 < action_budget < ENGINE_ACTION_LIMIT:
            raise ValueError("action_budget must be below the engine's 10 s (docs/engine.md §9)")
        if workers < 1:
            raise ValueError('workers must be at least 1')
        self.action_budget = float(action_budget)
        self.keep_firings = keep_firings
        self.workers = int(workers)
        self.min_parallel_rows = max(1, int(min_parallel_rows))
        self.rulebooks = tuple(books)
        self.firings: list[Activation] = []   # every firing in order, when keep_firings
        self._seq = 0
        self._by_rule = {r.rule_id: 0 for b in books for r in b.rules}
        self._books: dict[str, _Book] = {}
        self._resources: list = []            # [(handle, state)], for _release
        self._finalizer = weakref.finalize(self, _release, self._resources)
        self._counter = 0                     # messages asserted: their engine ids
        self._fed = 0
        self._unfired: list[Hashable] = []
        self._failure: BaseException | None = None
        self._busy = False
        self._closed = False
        self._host: _SyncHost | None = _SyncHost()    # one isolated host per evaluation
        try:
            for b in books:
                definition = b.definition()
                for rule_def in definition.values():
                    rule_def['run'] = _engine_must_not_dispatch
                self._host.register_rulesets({b.name: definition})
                handle = self._host.get_ruleset(b.name)._handle
                bk = _Book(b, handle)
                self._books[b.name] = bk
                self._resources.append((handle, bk.state))
        except BaseException:
            self.close()
            raise

    # -- public calls --------------------------------------------------------------------------

    def feed(self, book: str | RuleBook, row: Mapping[str, Any], *, key: Hashable
             ) -> list[Activation]:
        """Asserts a row, runs every rule it meets (then the book's fallback, if no rule fired
        and the row meets it), retracts the row. Returns the firings, in order."""
        bk = self._enter(book)
        try:
            fact = bk.clean(row, key)
            self._counter += 1
            space = bk.space
            mid, h = space.claim(message_id_base(self._counter))
            handle = bk.handle
            code, offset = _dre.assert_fact(handle, bk.encode(fact, mid, SID))
            if code:
                space.release(h)
                self._refused(bk, code, key, mid)
            # Only now: delete_state crashes the process (glibc "free(): invalid pointer") on a
            # state whose first fact was refused (tests/test_engine.py).
            bk.state[0] = True
            bk.offset = offset
            self._fed += 1
            out: list[Activation] = []
            self._drain(bk, mid, (key,), fact, out)
            if not out:
                self._unfired.append(key)
            # The engine finds a fact to retract by id alone (events.c, ACTION_RETRACT_FACT).
            code, _ = _dre.retract_fact(handle, '{"id":"%s","sid":"%s"}' % (mid, SID))
            if code:
                self._fail(EngineError(f'book {bk.name}: retracting row {key!r} returned engine '
                                       f'code {code}'))
            space.release(h)
            # A retraction cannot complete a match (negation is refused), but prove it: nothing
            # may be left pending when the call returns (docs/engine.md §1).
            if _dre.start_action_for_state(handle, offset) is not None:
                _dre.abandon_action(handle, offset)
                self._fail(EngineError(f'book {bk.name}: an action became pending after '
                                       f'retracting row {key!r}'))
            return out
        finally:
            self._busy = False

    def feed_many(self, book: str | RuleBook, rows: Sequence, make=None
                  ) -> list[list[Activation]]:
        """`[feed(book, row, key=key) for row, key in rows]`: the same firings, in the same
        order, with the same seq numbers; with `workers` > 1, fed on several cores
        (engine/parallel.py). With `make`, `rows` are items and `make(item)` is each one's
        (row, key), made by the process that feeds it."""
        return parallel.feed_many(self, book, rows, make)

    def feed_batches(self, book: str | RuleBook, batches: Iterable[list], make=None
                     ) -> Iterator[tuple[list, list[list[Activation]]]]:
        """(batch, feed_many(book, batch, make)) for each batch, in order; with `workers` > 1
        the next batch is fed by forked workers while the caller works on this one, so
        `batches` is read a batch ahead (engine/parallel.py)."""
        return parallel.feed_batches(self, book, batches, make)

    def reconcile(self, *, require_fired: bool = False) -> Reconciliation:
        """Proves that nothing is pending (no action, no event) and nothing stored in any book;
        with `require_fired`, that every fed row fired at least one rule (a fed row met some
        condition, else FactNotHandled, so one that fired nothing means its agenda was lost).
        Raises ReconciliationError listing every problem."""
        self._check_usable()
        problems = []
        for bk in self._books.values():
            pending = _dre.start_action(bk.handle)
            if pending is not None:
                _dre.abandon_action(bk.handle, pending[2])
                problems.append(f'book {bk.name}: an action is pending: {pending[1][:200]}')
            if bk.state[0]:
                events = json.loads(_dre.get_events(bk.handle, SID))
                if events:
                    problems.append(f'book {bk.name}: {len(events)} pending event(s)')
                facts = json.loads(_dre.get_facts(bk.handle, SID))
                if facts:
                    problems.append(f'book {bk.name}: {len(facts)} fact(s) stored, none '
                                    'expected')
        if require_fired and self._unfired:
            shown = ', '.join(repr(k) for k in self._unfired[:20])
            more = f' and {len(self._unfired) - 20} more' if len(self._unfired) > 20 else ''
            problems.append(f'{len(self._unfired)} fed row(s) fired no rule: {shown}{more}')
        if problems:
            raise ReconciliationError(problems)
        return Reconciliation(fed=self._fed, firings=self._seq, by_rule=dict(self._by_rule),
                              unfired=tuple(self._unfired))

    @property
    def failed(self) -> BaseException | None:
        """The error that made this evaluation unusable, or None."""
        return self._failure

    def close(self) -> None:
        """Frees every engine state and ruleset handle of this evaluation. Idempotent."""
        self._closed = True
        self._finalizer()
        self._host = None

    def __enter__(self) -> Evaluation:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- internals -----------------------------------------------------------------------------

    def _check_usable(self) -> None:
        if self._closed:
            raise EngineError('this evaluation is closed')
        if self._failure is not None:
            raise EvaluationUnusable(f'the evaluation failed earlier: {self._failure}') \
                from self._failure
        if self._busy:
            raise EngineError('re-entrant call from inside an action: an action returns '
                              'outcomes and calls nothing back')

    def _enter(self, book: str | RuleBook) -> _Book:
        self._check_usable()
        bk = self._book(book)
        self._busy = True
        return bk

    def _book(self, book: str | RuleBook) -> _Book:
        name = book.name if isinstance(book, RuleBook) else book
        bk = self._books.get(name)
        if bk is None:
            raise EngineError(f'no rule book {name!r} in this evaluation')
        if isinstance(book, RuleBook) and book is not bk.book:
            raise EngineError(f'a different rule book named {name!r} is registered')
        return bk

    def _fail(self, err: BaseException, cause: BaseException | None = None) -> None:
        """Makes the evaluation unusable and raises `err`."""
        if self._failure is None:
            self._failure = err
        if cause is not None:
            raise err from cause
        raise err

    def _refused(self, bk: _Book, code: int, key: Hashable, mid: str) -> None:
        """Raises for the engine's refusal of a fed row (assert_fact's result `code`)."""
        where = f'book {bk.name}: fact {key!r}'
        if code == 1:              # nothing was stored or queued: the evaluation is intact
            raise FactNotHandled(f'{where} met no condition of any rule (MessageNotHandled); '
                                 'check its t field, or add a rule for it')
        if code == 2:
            self._fail(FactObserved(f'{where} was rejected as already observed although its id '
                                    f'{mid!r} is hash-unique in its state (docs/engine.md §3)'))
        self._fail(EngineError(f'{where}: unexpected engine result {code}'))

    def _drain(self, bk: _Book, mid: str, keys: tuple, fact: dict, out: list[Activation]
               ) -> None:
        """Runs the engine's agenda for the fact just asserted (engine id `mid`), synchronously,
        and records each firing in `out` (and in self.firings); then the fallback the agenda
        held, if nothing else fired (or, for a fallback with `unless`, none of those rules)."""
        handle = bk.handle
        offset = bk.offset
        res = _dre.start_action_for_state(handle, offset)
        if res is None:
            return
        msg = res[1]
        rules = bk.rules
        # The engine echoes the matched fact verbatim, as asserted: {"<rule id>":{"m":{...,
        # "id":"<mid>","sid":"s0"}}}. The rule id is read off the front (rule ids need no JSON
        # escapes) and the fact is checked by the end; the action gets a copy of the fact as
        # checked (the values parsing the echo would give).
        tail = '"id":"%s","sid":"%s"}}}' % (mid, SID)
        # A rule fires once per fact: the engine compiles `a | b` into one path per side, and a
        # fact meeting both comes back twice (tests/test_engine.py, test_or_condition_fires_once)
        fired: set[str] = set()
        fallback = None
        while True:
            if msg.endswith(tail):
                rule_id = msg[2:msg.index('"', 2)]
            else:
                rule_id = self._parse_echo(bk, msg, mid, offset)
            rule = rules[rule_id]
            if rule_id in fired:
                pass
            elif rule.fallback:
                if fallback is not None and fallback is not rule:
                    _dre.abandon_action(handle, offset)
                    self._fail(EngineError(
                        f'book {bk.name}: fact {keys[0]!r} meets the conditions of two '
                        f'fallbacks, {fallback.rule_id} and {rule_id}: which one applies is '
                        'undecided'))
                fallback = rule          # decided when the agenda is done
            else:
                fired.add(rule_id)
                try:
                    self._record(bk, rule, keys, fact, out)
                except BaseException:
                    _dre.abandon_action(handle, offset)
                    raise
            msg = _dre.complete_and_start_action(handle, offset)
            if msg is None:
                break
        if fallback is not None and (fallback.unless.isdisjoint(fired) if fallback.unless
                                     is not None else not fired):
            self._record(bk, fallback, keys, fact, out)

    def _parse_echo(self, bk: _Book, msg: str, mid: str, offset: int) -> str:
        """The rule id of an agenda item whose text does not end as expected: parsed in full;
        it must still be the fact just asserted."""
        try:
            ((rule_id, match),) = json.loads(msg).items()
            echoed = match[PATTERN]['id']
        except (ValueError, KeyError, TypeError, AttributeError):
            rule_id, echoed = None, None
        if rule_id not in bk.rules or echoed != mid:
            _dre.abandon_action(bk.handle, offset)
            self._fail(EngineError(f'book {bk.name}: the engine returned an agenda item for '
                                   f'another fact than the one fed ({mid}): {msg[:200]}'))
        return rule_id

    def _record(self, bk: _Book, rule: Rule, keys: tuple, fact: dict, out: list[Activation]
                ) -> None:
        """Runs `rule`'s action on a copy of `fact` under the action budget; records the
        firing. Any failure makes the evaluation unusable."""
        self._seq += 1
        start = time.perf_counter()
        try:
            result = rule.action(dict(fact))
            if result is None:
                outcomes: tuple = ()
            elif type(result) is list or type(result) is tuple:
                outcomes = tuple(result)
            elif isinstance(result, (str, bytes, _abc.Mapping)) \
                    or not isinstance(result, _abc.Iterable):
                raise TypeError(f'it returned {type(result).__name__}; an action returns None '
                                'or a list of outcomes')
            else:
                outcomes = tuple(result)      # a generator runs here, inside the guard
        except KeyboardInterrupt as err:
            self._failure = self._failure or err
            raise
        except BaseException as err:          # SystemExit too: the engine would swallow it (§7)
            self._fail(RuleActionError(
                f'rule {rule.rule_id} failed: {type(err).__name__}: {err} '
                f'(book {bk.name}, facts {list(keys)!r})'), cause=err)
        elapsed = time.perf_counter() - start
        if elapsed > self.action_budget:
            self._fail(RuleActionError(
                f'rule {rule.rule_id} ran {elapsed:.2f} s, over the {self.action_budget} s action '
                f'budget (the engine drops agendas after 10 s, docs/engine.md §9); facts '
                f'{list(keys)!r}'))
        firing = Activation(self._seq, rule.rule_id, keys, outcomes)
        out.append(firing)
        if self.keep_firings:
            self.firings.append(firing)
        self._by_rule[rule.rule_id] += 1

    def _adopt(self, keys: Sequence[Hashable], got: Sequence[Sequence[tuple]],
               counts: Mapping[str, int], out: list[list[Activation]]) -> None:
        """Records the firings of the rows with these `keys` fed in a forked copy of this
        evaluation (engine/parallel.py): `got` holds each row's (rule id, outcomes) pairs in
        order, numbered here to follow the firings before them; `counts` their number by rule."""
        if len(got) != len(keys):
            self._fail(EngineError(f'a feed_many worker returned {len(got)} rows for '
                                   f'{len(keys)}'))
        seq = self._seq
        keep = self.firings.append if self.keep_firings else None
        unfired = self._unfired
        for key, row_firings in zip(keys, got):
            fact_keys = (key,)
            mine = []
            for rule_id, outcomes in row_firings:
                seq += 1
                firing = Activation(seq, rule_id, fact_keys, outcomes)
                mine.append(firing)
                if keep is not None:
                    keep(firing)
            if not mine:
                unfired.append(key)
            out.append(mine)
        self._seq = seq
        for rule_id, n in counts.items():
            self._by_rule[rule_id] += n
        self._fed += len(keys)

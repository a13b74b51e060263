"""The safe durable_rules layer: every rule of xietong runs through this package, and nothing else
touches the engine.

durable_rules 2.0.28 is unmaintained and has measured traps that lose or corrupt results
silently (docs/engine.md, cited below as "docs/engine.md §N"). This layer keeps the engine's
Rete matching of conditions and removes the traps: it refuses what cannot be made safe, and
makes every other failure loud.

A rule book of this product (a shortened rules/behaviour.py)
-----------------------------------------------------------
A **rule** is a stable id, a one-line description in Chinese and English, a condition on one
fact written with `durable.lang`'s `m` expressions, an optional priority, and a Python action.
The rules of one mechanism live in a **RuleBook**. Screening a Behaviours row: each failed check
is a rejection, and a row that no check rejected is accepted::

    from engine import Evaluation, RuleBook, m

    BOOK = RuleBook('behaviour', zh='协同行为加减分', en='Collaboration behaviour bonus/penalty')

    @BOOK.rule('BEH_NO_EVIDENCE', (m.t == 'beh') & (m.evidence_blank == True),
               zh='缺少事实依据', en='No factual evidence')
    def no_evidence(row):                   # the fact, as a plain dict
        return [{'exception': 'BEH_NO_EVIDENCE'}]

    @BOOK.rule('BEH_POINTS_RANGE',
               (m.t == 'beh') & ((m.points < m.min_points) | (m.points > m.max_points)),
               zh='分值超出该行为的分值区间', en="Points outside the behaviour's range")
    def points_range(row):
        return [{'exception': 'BEH_POINTS_RANGE'}]

    @BOOK.fallback('behaviour.accept', m.t == 'beh',
                   zh='行为记录通过全部检查，予以采纳', en='The row passed every check')
    def accept(row):                        # fires on a row that no other rule fired on
        return [{'note': 'accepted'}]

    def beh(points, evidence_blank=False):  # a fact as rules/behaviour.py builds it from a row
        return {'t': 'beh', 'employee_id': 'E7', 'points': points, 'min_points': 1,
                'max_points': 5, 'evidence_blank': evidence_blank}

    with Evaluation([BOOK]) as ev:
        (a,) = ev.feed('behaviour', beh(3), key=('Behaviours', 2))     # one firing
        print(a.seq, a.rule_id, a.fact_keys, a.outcomes)
        rows = [(beh(9, evidence_blank=True), ('Behaviours', 3)), (beh(0), ('Behaviours', 4))]
        for firings in ev.feed_many('behaviour', rows):                  # a list per row
            print([(a.seq, a.rule_id) for a in firings])
        rec = ev.reconcile(require_fired=True)
        print(rec.fed, rec.firings, rec.by_rule)

prints::

    1 behaviour.accept (('Behaviours', 2),) ({'note': 'accepted'},)
    [(2, 'BEH_NO_EVIDENCE'), (3, 'BEH_POINTS_RANGE')]
    [(4, 'BEH_POINTS_RANGE')]
    3 4 {'BEH_NO_EVIDENCE': 1, 'BEH_POINTS_RANGE': 2, 'behaviour.accept': 1}

(tests/test_engine.py runs this example and checks what it prints.) A firing is an
`Activation(seq, rule_id, fact_keys, outcomes)`: `seq` numbers the firings of the evaluation
from 1, in order; `fact_keys` is `(key,)`, the key the row was fed with (the evaluator's source
of the outcomes); `outcomes` is what the action returned. `ev.firings` holds them all, unless
`keep_firings=False` (then keep what `feed` returns).

API
---
* `RuleBook(name, zh='', en='')`: `.rule(rule_id, when, *, zh, en, pri=0)` and
  `.fallback(rule_id, when, *, zh, en, unless=None)` decorators (they return the function unchanged, so an
  action can be unit-tested with a plain dict), `.add(Rule(...))`, `.rules` (sorted by pri, then
  id), `book[rule_id]`, `rule_id in book`, `.name/.zh/.en`.
* `Rule(rule_id, zh, en, when, action, pri=0, fallback=False, unless=None)`: checked when created, so a bad
  rule fails when its module is imported (engine/rulebook.py lists what is refused).
* `rules_version(rulebooks) -> str`: SHA-256 of each rule's engine JSON and of its action's
  source from `def` on (descriptions and declaration order are not part of it).
* `Evaluation(rulebooks, *, action_budget=5.0, keep_firings=True, workers=1,
  min_parallel_rows=MIN_PARALLEL_ROWS)`, a context manager (one isolated engine; `close()` frees
  it):
  - `feed(book, row, *, key) -> list[Activation]`: asserts the row as a fact (so that *every*
    rule it meets fires: a posted event would fire one rule only, docs/engine.md §8), runs
    them to completion, then retracts it: the engine holds nothing between feeds;
  - `feed_many(book, [(row, key), ...]) -> list[list[Activation]]`: feed() of each row, the
    same results; with workers > 1 the rows are fed in forked copies of the evaluation on
    several cores, and their firings merged back in order (engine/parallel.py);
    `feed_many(book, items, make)`: the same of `make(item)`'s (row, key) pairs, each made by
    the process that feeds it;
  - `reconcile(*, require_fired=False) -> Reconciliation(fed, firings, by_rule, unfired)`:
    raises ReconciliationError if anything is pending or stored in the engine, or (asked) a
    fed row fired no rule; `by_rule` counts every rule's firings, the fallback's too;
  - `firings`, `failed` (the error that made the evaluation unusable, or None).
* Errors, all `EngineError`: `RuleDefinitionError` (a refused rule), `FactError` (a refused
  fact), `FactNotHandled` (a fact met no condition of its book: a typo in `t` or a missing
  rule), `FactObserved` (the engine's duplicate check fired: a layer bug), `RuleActionError`
  (an action raised, ran over budget, or returned something else than a list),
  `ReconciliationError`, `EvaluationUnusable` (any call after a failure: the evaluation's
  results must not be used).

What a rules author must know
-----------------------------
* A rule matches one fact. Its condition compares the fact's fields with constants or with
  other fields of the same fact (`m.points > m.max_points`), joined by `&` and `|`. Refused when
  the rule is declared: several patterns or `c.x` references to another fact (joins: cross-fact
  comparisons crash the engine with SIGSEGV, docs/engine.md §5), `none()` (§6), nested
  `all()`/`any()`, `count`/`cap`/`distinct`, the state `s`, timers, conditions on `id`/`sid`
  (§4), `None` or non-finite constants (§e). What a rule needs of other rows or of reference
  data goes on the fact: the fact builder looks it up in Python.
* A fed row sees no other row. Logic across rows (sums, caps, outliers, "no rows for X") is
  Python between feeds, fed back as facts of its own (a `beh_total` per employee) (§d).
* An action receives a copy of the fact as a plain dict (without the engine's `id`/`sid`) and
  returns None or a list (or a generator) of outcomes. It must be fast and pure: no I/O, no
  call back into the Evaluation. One that runs longer than `action_budget` makes the
  evaluation unusable (the engine itself would silently drop the rest of the agenda after
  10 s, §9); so does any exception it raises (the engine would swallow it, §7). Actions are
  `def` functions: lambdas and callables have no source to hash.
* The firings of one fact come in `pri` order (0..65535, lower first), then by rule id. A rule
  fires at most once per fact, even when both sides of its `|` hold.
* A book's fallback (`@BOOK.fallback`, at most one) fires on a fact that meets its condition
  exactly when no other rule of the book fired on that fact, and its firing is then the fact's
  only one. It makes "accepted" the absence of every rejection: a new rejection rule needs no
  change to the accept rule. A fallback may instead name the rules it stands in for
  (`unless=("rating.hold",)`): it fires exactly when none of those fired on the fact, after
  whatever else did ("counted" is "not held", by construction). Two fallbacks must never meet
  one fact (the evaluation fails when they do).
* Every fed fact must meet the condition of at least one rule of its book (the fallback's
  counts), else `FactNotHandled`, and nothing of it is recorded: give every kind of fact a rule
  that always applies to it, e.g. a fallback, or a catch-all with `pri=65535` that records the
  fact was seen.
* Types (§e: the engine compares `'10' <= 2` as text, `True` as 1, never matches None or a
  missing field): a field that rules compare with a constant must hold that constant's type in
  every fact of the book (checked on every fact). Facts are flat dicts of str / bool / int
  (|n| <= 2**53) / finite float / Decimal (converted to float, deliberately: the engine
  compares doubles). `None` is refused: fact builders pass explicit booleans
  (`evidence_blank=True`) and numbers. Field names `id` and `sid` are reserved (§4).
* An Evaluation belongs to one thread: the engine never releases the GIL and its handle table
  is process-global (§g). For several cores, `workers=` (processes, forked).
* Only an action's own source is hashed into the rules version, not the values it closes over:
  policy values are covered by the effective-policy hash (SPEC §6).
"""
from durable.lang import m  # rules modules import everything from here

from engine.errors import (EngineError, EvaluationUnusable, FactError, FactNotHandled,
                           FactObserved, ReconciliationError, RuleActionError,
                           RuleDefinitionError)
from engine.evaluation import MIN_PARALLEL_ROWS, Activation, Evaluation, Reconciliation
from engine.rulebook import Rule, RuleBook, rules_version

__all__ = [
    'RuleBook', 'Rule', 'rules_version', 'm',
    'Evaluation', 'Activation', 'Reconciliation', 'MIN_PARALLEL_ROWS',
    'EngineError', 'RuleDefinitionError', 'FactError', 'FactNotHandled', 'FactObserved',
    'RuleActionError', 'ReconciliationError', 'EvaluationUnusable',
]

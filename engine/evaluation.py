"""The safe durable_rules layer: every rule of xietong runs through this module, and nothing else
touches the engine.

durable_rules 2.0.28 is unmaintained and has measured traps that lose or corrupt results silently
(`/work/shared/notes/durable-rules.md`, cited below as "notes §N"). This layer keeps the engine's
Rete matching and removes the traps: it refuses what cannot be made safe, and makes every other
failure loud.

A rules module, in full
-----------------------
A **rule** is: a stable id, a one-line description in Chinese and English, a condition written
with `durable.lang`'s `m`/`c` expressions (one pattern, or several joined by equality), an
optional priority, and a Python action. The rules of one mechanism live in a **RuleBook**::

    from engine import RuleBook, Derive, Evaluation, m, c, rules_version

    behaviour = RuleBook('behaviour')

    @behaviour.rule('BEH_NO_EVIDENCE', (m.t == 'beh') & (m.evidence_blank == True),
                    zh='事实依据为空', en='Evidence is blank')
    def no_evidence(row):                       # one plain dict per pattern, in pattern order
        return [{'kind': 'BEH_NO_EVIDENCE', 'employee_id': row['employee_id']}]

    @behaviour.rule('behaviour.credit',
                    [c.emp << (m.t == 'emp'),                       # a reference fact
                     (m.t == 'beh') & (m.accepted == True)
                     & (m.employee_id == c.emp.employee_id)],       # equality join only
                    zh='采纳的行为记录计分', en='An accepted row credits its points',
                    pri=10)
    def credit(emp, row):
        return [{'points': row['points']},
                Derive({'t': 'credited', 'employee_id': emp['employee_id']})]   # chained

    @behaviour.rule('behaviour.credited', m.t == 'credited', zh='已计分', en='Credited')
    def credited(fact):
        return None                             # a firing with no outcome is still recorded

    with Evaluation([behaviour]) as ev:
        ev.add_reference('behaviour', {'t': 'emp', 'employee_id': 'E1'}, key=('Employees', 2))
        ev.feed('behaviour', {'t': 'beh', 'employee_id': 'E1', 'points': 2, 'accepted': True,
                              'evidence_blank': False}, key=('Behaviours', 2))
        ev.reconcile(require_fired=True)        # nothing pending; every fed row fired a rule
        for f in ev.firings:                    # Firing(seq, rule_id, fact_keys, outcomes, derived)
            print(f)
        # Firing(1, 'behaviour.credit', (('Employees', 2), ('Behaviours', 2)), ({'points': 2},),
        #        (('behaviour.credit', 1, 0),))
        # Firing(2, 'behaviour.credited', (('behaviour.credit', 1, 0),), (), ())
    version = rules_version([behaviour])        # SHA-256 of conditions and action sources

API
---
* `Rule(rule_id, zh, en, when, action, pri=0)`: validated when created (so a bad rule fails at
  import time). `RuleBook(name)`: `.rule(rule_id, when, *, zh, en, pri=0)` decorator (returns
  the function unchanged, so it can be unit-tested with plain dicts), `.add(rule)`, `.rules`,
  `book[rule_id]`, `.definition()`.
* `rules_version(rulebooks) -> str`: SHA-256 of each rule's engine JSON and of its action's
  source from `def` on (descriptions and declaration order are not part of it).
* `Evaluation(rulebooks, *, action_budget=5.0, max_firings_per_call=100_000, keep_firings=True,
  workers=1, min_parallel_rows=4096)`, a context manager (one isolated engine per evaluation):
  - `add_reference(book, fact, *, key, partition=None) -> list[Firing]`: a fact that stays until
    `close()` (employees, departments, thresholds...);
  - `feed(book, row, *, key, partition=None) -> list[Firing]`: a ledger row, asserted as a fact
    so that *every* matching rule fires (a posted event would fire one rule only, notes §8), run
    to completion, then retracted with the facts its firings derived, so memory stays flat however
    many rows are fed (a stored fact costs ~8 KB, notes §11);
  - `feed_many(book, [(row, key), ...], partition=None) -> list[list[Firing]]`: feed() of each
    row, same results; with workers > 1 the rows are fed in forked copies of the evaluation on
    several cores, and their firings merged back in order (a fed row never sees another);
  - `firings` (every Firing in order; empty when `keep_firings=False`, then store what `feed`
    returns), `rules_version`, `rule(rule_id)`, `failed`;
  - `reconcile(*, require_fired=False) -> Reconciliation(fed, references, firings, by_rule,
    unfired)`: raises ReconciliationError if anything is pending, the stored facts are not
    exactly the references, or (asked) a fed row fired no rule;
  - `close()`: frees the engine's states and ruleset handles (also done at garbage collection).
* Errors, all `EngineError`: `RuleDefinitionError` (refused rule), `FactError` (refused fact),
  `FactNotHandled` (a fact matched no pattern: a typo in `t` or a missing rule), `FactObserved`
  (the engine's duplicate check fired: a layer bug), `RuleActionError` (an action raised, ran over
  budget, returned something else than a list, or chaining ran away), `ReconciliationError`,
  `EvaluationFailed` (any call after a failure). After a RuleActionError the evaluation is failed:
  its results must not be used.

What a rules author must know
-----------------------------
* An action receives one plain dict per pattern, in pattern order, without the engine's `id`/`sid`.
  It returns None or a list (or a generator): each item is an outcome recorded in the `Firing`,
  except `Derive(fact, key=None)` items, which are asserted in the same book and partition and
  matched before the call that caused them returns (forward chaining). Facts derived while
  feeding a row are retracted with it; facts derived from a reference stay.
* Actions must be fast and pure (no I/O, no calls back into the Evaluation): one that runs longer
  than `action_budget` fails the evaluation (the engine itself would silently drop the rest of
  the agenda after 10 s, notes §9). Actions must be `def` functions: lambdas and callables have
  no stable source to hash.
* Among the firings caused by one fact, lower `pri` runs first (0..65535), then rule id. Several
  firings of one rule (a row joining several references) come in the engine's order, which is the
  same for the same inputs fed in the same order (engine ids come from a counter, not from data).
* A fed row sees the references present when it is fed, never another row: add references first.
  Logic across rows (sums, caps, outliers, "no rows for X") belongs in Python after the run, or in
  reference facts (notes §d).
* Refused when a rule is declared: a comparison across patterns other than equality (`!=`, `<`,
  `>`, `<=`, `>=`, arithmetic on another pattern's field, a join inside `|`): these crash the
  engine with SIGSEGV (notes §5), so put the threshold on the fact and compare fields of one fact
  (`m.points > m.max_points` is fine). Also refused: `none()` (notes §6), nested `all()`/`any()`,
  `count`/`cap`/`distinct`, the state `s`, timers, conditions on `id`/`sid` (notes §4), `None` or
  non-finite constants.
* Types (notes §e: the engine compares `'10' <= 2` as text, `True` as 1, never matches None or a
  missing field): a field that rules compare with a constant must hold that constant's type in
  every fact of the book (checked on every fact); join fields must be text. Facts are flat dicts of
  str / bool / int (|n| <= 2**53) / finite float / Decimal (converted to float, deliberately: the
  engine compares doubles). `None` is refused: fact builders pass explicit booleans
  (`evidence_blank=True`) and numbers. Field names `id` and `sid` are reserved (notes §4).
* Every fact must pass the own tests of at least one pattern of its book (joins aside), else
  `FactNotHandled`: e.g. with only `(m.t == 'ev') & (m.pts > m.cap)`, a row with pts <= cap is
  refused. Give every kind of row a rule that always applies to it (`behaviour.credit` for
  accepted rows and a check for each rejection), or a catch-all (`m.t == 'beh'`, `pri=65535`).
* Partitions (engine sids) only split reference data that is never joined across (e.g. per
  department): at most 1024 per evaluation (notes §10); by default there is one.
* Build condition expressions inline: `c.x << expr` *mutates* `expr`, so a shared module-level
  expression would carry its alias into other rules.
* An Evaluation belongs to one thread. For parallel evaluations use processes: the engine never
  releases the GIL and its handle table is process-global (notes §g).
* Only an action's own source is hashed, not the values it closes over: policy values are covered
  by the effective-policy hash (SPEC §6).
"""
from __future__ import annotations

import ast
import hashlib
import inspect
import json
import json.encoder
import math
import re
import textwrap
import time
import weakref
from collections import abc as _abc
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, Hashable, Iterable, Mapping, NamedTuple, Sequence

import durable_rules_engine as _dre
from durable import engine as _engine
from durable import lang as _lang
from durable.lang import c, m  # re-exported: rules modules import everything from here

__all__ = [
    'Rule', 'RuleBook', 'Derive', 'Firing', 'Evaluation', 'Reconciliation', 'rules_version',
    'EngineError', 'RuleDefinitionError', 'FactError', 'FactNotHandled', 'FactObserved',
    'RuleActionError', 'ReconciliationError', 'EvaluationFailed', 'fnv1a32', 'm', 'c',
]

MAX_PARTITIONS = 1024          # the 1025th sid of a ruleset raises MemoryError (notes §10)
MAX_RULES = 4096               # MAX_ACTIONS per ruleset in rete.c
MAX_FIELDS = 250               # 255 properties per message in the engine, minus id, sid, margin
MAX_EXACT_INT = 2 ** 53        # the engine compares numbers as doubles
MAX_PRI = 65535                # pri is an unsigned short in the engine (notes §c)
MIN_PARALLEL_ROWS = 4096       # feed_many gives a forked worker this many rows or more: below,
                               # a fork and the firings' trip back cost more than they save
RESERVED_FIELDS = frozenset(('id', 'sid'))


# ---------------------------------------------------------------------------------------------
# Errors. They signal bugs in rules, fact builders or this layer; problems in the user's ledger
# are outcomes of rules (exception records, SPEC §5), never exceptions.

class EngineError(RuntimeError):
    """Base class of every error of this layer."""


class RuleDefinitionError(EngineError, ValueError):
    """A rule or rule book was refused when it was declared."""


class FactError(EngineError, ValueError):
    """A fact was refused before it reached the engine (reserved field, None, inf, wrong type)."""


class FactNotHandled(EngineError):
    """MessageNotHandled: the fact matched no pattern of its book (notes §8)."""


class FactObserved(EngineError):
    """MessageObserved: the engine took a fact for one it already holds (notes §3, §4). The layer
    gives every message a hash-unique id, so this means the layer is wrong."""


class RuleActionError(EngineError):
    """An action raised, ran longer than the budget, returned something other than a list, or a
    chain of derived facts ran away. The evaluation is failed."""


class ReconciliationError(EngineError):
    """`Evaluation.reconcile` found pending work or unmatched counts; `.problems` lists them."""

    def __init__(self, problems: Sequence[str]):
        super().__init__('reconciliation failed:\n  ' + '\n  '.join(problems))
        self.problems = list(problems)


class EvaluationFailed(EngineError):
    """A call on an evaluation that already failed: its results cannot be trusted."""


# A worker's error comes back by class name (engine.isolation.ChildError) and is raised again
# as the same class.
_ERRORS = {cls.__name__: cls for cls in (
    EngineError, RuleDefinitionError, FactError, FactNotHandled, FactObserved, RuleActionError,
    ReconciliationError, EvaluationFailed)}


# ---------------------------------------------------------------------------------------------
# Message identity (notes §3): the engine stores messages, and finds sids, by a 32-bit FNV-1a hash
# of their id only; a second message whose id hash is taken is rejected as already observed.

def fnv1a32(s: str) -> int:
    """The engine's 32-bit hash of message ids and sids, for ASCII strings (the C code XORs
    *signed* chars, so bytes >= 0x80 hash differently there: engine ids are kept ASCII)."""
    h = 0x811c9dc5
    for b in s.encode('ascii'):
        h = ((h ^ b) * 16777619) & 0xffffffff
    return h


_fnv_prefix: list = ['', 0x811c9dc5]      # the last prefix hashed and its FNV state


def _fnv1a32_counted(s: str) -> int:
    """fnv1a32(s), fast for a run of ids that differ in their last character (the counter ids
    f1, f2, ... of one evaluation): the state after all but the last character is kept, so most
    calls take one step instead of one per character (tests/test_engine.py checks it equals
    fnv1a32)."""
    prefix = s[:-1]
    if prefix != _fnv_prefix[0]:
        _fnv_prefix[0], _fnv_prefix[1] = prefix, fnv1a32(prefix)
    return ((_fnv_prefix[1] ^ ord(s[-1])) * 16777619) & 0xffffffff if s else 0x811c9dc5


class _HashSpace:
    """Names that must be unique by `fnv1a32`: the live message ids of one sid, or the sids of an
    evaluation. A colliding candidate is re-keyed deterministically (`base~1`, `base~2`...)."""

    __slots__ = ('live',)

    def __init__(self, reserved: Iterable[str] = ()):
        self.live = {fnv1a32(r) for r in reserved}

    def claim(self, base: str) -> str:
        return self.claim_hashed(base)[0]

    def claim_hashed(self, base: str) -> tuple[str, int]:
        """Claims `base` or its first free re-keying; returns it with its hash."""
        if not base.isascii():
            raise ValueError(f'engine ids must be ASCII, got {base!r}')
        cand, n = base, 0
        h = _fnv1a32_counted(cand)
        while h in self.live:
            n += 1
            cand = f'{base}~{n}'
            h = fnv1a32(cand)
        self.live.add(h)
        return cand, h

    def release(self, name: str) -> None:
        self.live.discard(fnv1a32(name))

    def release_hash(self, h: int) -> None:
        self.live.discard(h)


def _message_id_base(counter: int) -> str:
    """The engine id proposed for the counter-th message of an evaluation: short ASCII, never
    derived from user data (identical rows must both be processed, notes §4)."""
    return f'f{counter:x}'


# One encoder for every message (no per-call encoder construction); NaN/inf refused as a backstop.
_encode_json = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(',', ':')).encode


def _engine_float(v: float) -> str:
    """JSON text of a float that the engine's parser accepts. It refuses an exponent without a
    decimal point (`1e-05`, `1e+16`: error 204, measured in tests/test_engine.py) but reads
    `1.0e-05`; Python writes the short form for any float with one significant digit."""
    text = repr(v)
    if 'e' in text and '.' not in text:
        mantissa, _, exponent = text.partition('e')
        text = f'{mantissa}.0e{exponent}'
    return text


def _no_default(o: Any) -> Any:
    raise TypeError(f'{type(o).__name__} is not JSON serialisable')


# json's C encoder, made once: JSONEncoder.encode builds a new one per call, which cost more
# than the encoding of a small fact. Same output as _encode_json (no circular check: facts are
# flat).
_c_encoder = getattr(json.encoder, 'c_make_encoder', None)
_encode_fast = (_c_encoder(None, _no_default, json.encoder.encode_basestring, None, ':', ',',
                           False, False, False) if _c_encoder is not None else None)
# A number with an exponent and no decimal point right after a separator: a float the engine
# would refuse, or (rarely) text inside a string that looks like one; either way, the slow path.
_EXPONENT = re.compile(r'[:,\[]-?[0-9]+[eE]')


def _encode(fact: dict) -> str:
    """A flat fact as JSON for the engine (see _engine_float)."""
    if _encode_fast is not None:
        text = ''.join(_encode_fast(fact, 0))
        if _EXPONENT.search(text) is None:
            return text
    odd = [k for k, v in fact.items() if type(v) is float and 'e' in repr(v) and '.' not in repr(v)]
    if not odd:
        return _encode_json(fact)
    marked = dict(fact)
    for i, k in enumerate(odd):
        marked[k] = f'\x00{i}\x00'
    text = _encode_json(marked)
    for i, k in enumerate(odd):
        text = text.replace(f'"\\u0000{i}\\u0000"', _engine_float(fact[k]), 1)
    return text


# ---------------------------------------------------------------------------------------------
# Rule declaration and the checks made when a rule is declared

_ID_CHARS = frozenset('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-')
_ALIAS_CHARS = frozenset('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_')
_BOOK_CHARS = frozenset('abcdefghijklmnopqrstuvwxyz0123456789_')
_ORDERING = frozenset(('$lt', '$gt', '$lte', '$gte'))
_COMPARISONS = _ORDERING | {'$neq'}
_ARITHMETIC = frozenset(('$add', '$sub', '$mul', '$div'))
_REFUSED = {
    '$iall': 'list items (allItems/anyItem): facts are flat',
    '$iany': 'list items (allItems/anyItem): facts are flat',
    '$s': 'the engine state s: rules see facts only',
}


def _category(v: Any) -> str | None:
    if isinstance(v, bool):
        return 'bool'
    if isinstance(v, (int, float)):
        return 'number'
    if isinstance(v, str):
        return 'str'
    return None


class _RuleChecker:
    """Walks one rule's JSON definition, refuses the unsafe shapes, and collects the type each
    field compared with a constant must have in facts.

    JSON shapes (what `durable.lang` emits): `{field: operand}` is equality; `{'$gt': {field:
    operand}}` etc.; `{'$and'|'$or': [...]}`; `{'$ex'|'$nex': {field: 1}}`; `{'$mt': {field:
    regex}}`. An operand is a constant, `{'$m': field}` (same fact), `{alias: field}` (another
    pattern's field: a cross-fact test), or `{'$add': {'$l': x, '$r': y}}` etc."""

    def __init__(self, rule_id: str):
        self.rule_id = rule_id
        self.types: dict[str, str] = {}

    def fail(self, msg: str) -> None:
        raise RuleDefinitionError(f'rule {self.rule_id}: {msg}')

    def field_name(self, name: Any) -> str:
        if not isinstance(name, str) or not name:
            self.fail(f'bad field name {name!r}')
        if name.startswith('$'):
            self.fail(f'engine-internal field {name!r} (timers, state) is not supported')
        if '.' in name:
            self.fail(f'nested field {name!r}: facts are flat dicts, so it would never match')
        top = name
        if top in RESERVED_FIELDS:
            self.fail(f'a condition on {name!r}: id and sid are engine fields, not domain data '
                      '(a join on id crashed the engine, notes §4); use a field such as emp_id')
        return top

    def want(self, name: str, cat: str) -> None:
        old = self.types.setdefault(name, cat)
        if old != cat:
            self.fail(f'field {name!r} is compared both as {old} and as {cat}')

    def constant(self, v: Any) -> str:
        if v is None:
            self.fail('a comparison with None never matches in the engine (notes §e); '
                      'give facts an explicit boolean instead')
        if isinstance(v, float) and not math.isfinite(v):
            self.fail(f'non-finite constant {v!r} (the engine refuses inf; NaN matches nothing)')
        if isinstance(v, int) and not isinstance(v, bool) and abs(v) > MAX_EXACT_INT:
            self.fail(f'integer constant {v} is beyond 2**53')
        cat = _category(v)
        if cat is None:
            self.fail(f'unsupported constant {v!r} (only str, bool, int, float)')
        return cat

    def pattern(self, expr: Any, earlier: Sequence[str], in_or: bool = False) -> None:
        if not isinstance(expr, dict) or not expr:
            self.fail(f'unexpected condition {expr!r}')
        for op, arg in expr.items():
            if op in ('$and', '$or'):
                for sub in arg:
                    self.pattern(sub, earlier, in_or or op == '$or')
            elif op in _COMPARISONS:
                ((name, right),) = arg.items()
                top = self.field_name(name)
                cat = self.operand(right, earlier, op, join_ok=False)
                if cat is not None:
                    self.want(top, cat)
                elif op in _ORDERING and self.is_arithmetic(right):
                    self.want(top, 'number')
            elif op in ('$ex', '$nex'):
                ((name, _),) = arg.items()
                self.field_name(name)
            elif op in ('$mt', '$imt'):
                ((name, regex),) = arg.items()
                self.want(self.field_name(name), 'str')
                if not isinstance(regex, str):
                    self.fail(f'a regex must be a string, got {regex!r}')
            elif op in _REFUSED:
                self.fail(f'{op} refused: {_REFUSED[op]}')
            elif op.startswith('$'):
                self.fail(f'operator {op} is not supported by this layer')
            else:                                   # {field: operand}: an equality test
                top = self.field_name(op)
                if self.is_reference(arg):
                    if in_or:
                        self.fail(f'the join on {op!r} is inside | (or): only plain equality '
                                  'joins are allowed across facts (notes §5); split the rule')
                    self.operand(arg, earlier, '==', join_ok=True)
                    self.want(top, 'str')
                else:
                    cat = self.operand(arg, earlier, '==', join_ok=False)
                    if cat is not None:
                        self.want(top, cat)

    @staticmethod
    def is_reference(arg: Any) -> bool:
        return isinstance(arg, dict) and len(arg) == 1 and not next(iter(arg)).startswith('$')

    @staticmethod
    def is_arithmetic(arg: Any) -> bool:
        return isinstance(arg, dict) and len(arg) == 1 and next(iter(arg)) in _ARITHMETIC

    def operand(self, v: Any, earlier: Sequence[str], op: str, join_ok: bool) -> str | None:
        """Checks the right-hand side of a comparison; returns the category of a constant."""
        if not isinstance(v, dict):
            if isinstance(v, list):
                self.fail(f'list constant {v!r} is not supported')
            return self.constant(v)
        if len(v) != 1:
            self.fail(f'unexpected operand {v!r}')
        ((k, arg),) = v.items()
        if k == '$m':                         # another field of the same fact: safe (notes §5)
            self.field_name(arg)
            return None
        if k in _ARITHMETIC:
            self.operand(arg['$l'], earlier, op, join_ok=False)
            self.operand(arg['$r'], earlier, op, join_ok=False)
            return None
        if k.startswith('$'):
            self.fail(f'{k} refused: {_REFUSED.get(k, "unsupported operand")}')
        # {alias: field}: a test against another pattern's fact (a beta test).
        if not join_ok:
            self.fail(f'cross-fact comparison ({op} against c.{k}.{arg}): only plain equality '
                      'joins are allowed across facts, other forms crash the engine with SIGSEGV '
                      '(notes §5); put the threshold on the fact and compare fields of one fact')
        if not isinstance(arg, str):
            self.fail(f'the cross-partition reference c.{k} is not supported')
        if k not in earlier:
            self.fail(f'c.{k} names no earlier pattern (earlier: {", ".join(earlier) or "none"})')
        self.want(self.field_name(arg), 'str')
        return None


def _define_patterns(rule_id: str, when: Any) -> tuple[tuple[str, dict], ...]:
    """DSL expression(s) -> ((pattern name, JSON condition), ...). Names as durable.lang gives
    them: the alias, else `m` for a single pattern, else `m_0`, `m_1`... (notes §7)."""
    exprs = list(when) if isinstance(when, (list, tuple)) else [when]
    if not exprs:
        raise RuleDefinitionError(f'rule {rule_id}: no pattern')
    out: list[tuple[str, dict]] = []
    for i, e in enumerate(exprs):
        if isinstance(e, _lang.none):
            raise RuleDefinitionError(
                f'rule {rule_id}: none() is refused: a none() rule can hide matches of a positive '
                'rule sharing its alias, and it is not retracted later (notes §6); decide absence '
                'in Python after the run, or with an explicit boolean on the fact')
        if isinstance(e, _lang.rule):
            raise RuleDefinitionError(
                f'rule {rule_id}: nested all()/any() and when_* are refused; give a list of '
                'patterns (joined by equality), or use | inside one pattern')
        if isinstance(e, dict):
            raise RuleDefinitionError(f'rule {rule_id}: {e!r} in the condition: pass pri= to the '
                                      'rule; count/cap/distinct are refused (lists of matches)')
        if not isinstance(e, _lang.value):
            raise RuleDefinitionError(f'rule {rule_id}: pattern {i} is {e!r}, expected an m '
                                      "expression such as (m.t == 'beh')")
        name = e.alias or ('m' if len(exprs) == 1 else f'm_{i}')
        if not isinstance(name, str) or not set(name) <= _ALIAS_CHARS or not name[0].isalpha():
            raise RuleDefinitionError(f'rule {rule_id}: bad pattern alias {name!r}')
        if any(n == name for n, _ in out):
            raise RuleDefinitionError(f'rule {rule_id}: alias {name!r} used twice')
        try:
            d = e.define()
        except Exception as err:              # durable.lang raises bare Exception
            raise RuleDefinitionError(f'rule {rule_id}: pattern {name}: {err}') from err
        out.append((name, json.loads(json.dumps(d))))     # a private plain-JSON copy
    return tuple(out)


def _action_source(rule_id: str, action: Any) -> str:
    """The action's source from its `def` line on: decorator lines (which hold the condition,
    hashed separately, and the descriptions, not hashed) are left out."""
    if not inspect.isfunction(action) or action.__name__ == '<lambda>':
        raise RuleDefinitionError(f'rule {rule_id}: the action must be a def function (its source '
                                  'is hashed into the rules version)')
    try:
        source = textwrap.dedent(inspect.getsource(action))
    except (OSError, TypeError) as err:
        raise RuleDefinitionError(f'rule {rule_id}: the action source is unavailable ({err}); '
                                  'it is needed for the rules version') from err
    node = ast.parse(source).body[0]
    if not isinstance(node, ast.FunctionDef):
        raise RuleDefinitionError(f'rule {rule_id}: the action must be a plain def function')
    return '\n'.join(source.splitlines()[node.lineno - 1:]) + '\n'


@dataclass(frozen=True, eq=False)
class Rule:
    """One rule. `when` is a `durable.lang` expression or a list of them (patterns joined by
    equality); `action(*facts)` gets one plain dict per pattern and returns None or a list of
    outcomes and `Derive` items. Every check runs here, when the rule is declared."""

    rule_id: str
    zh: str
    en: str
    when: Any = field(repr=False)
    action: Callable[..., Iterable[Any] | None] = field(repr=False)
    pri: int = 0
    patterns: tuple = field(init=False, repr=False)        # ((name, JSON condition), ...)
    pattern_names: tuple = field(init=False, repr=False)
    field_types: dict = field(init=False, repr=False)      # field -> 'bool' | 'number' | 'str'
    action_sha256: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        rid = self.rule_id
        if not isinstance(rid, str) or not 0 < len(rid) <= 128 or not set(rid) <= _ID_CHARS \
                or not rid[0].isalpha():
            raise RuleDefinitionError(f'bad rule id {rid!r}: ASCII letters, digits, _ . -')
        for lang_, text in (('zh', self.zh), ('en', self.en)):
            if not isinstance(text, str) or not text.strip() or '\n' in text:
                raise RuleDefinitionError(f'rule {rid}: the {lang_} description must be one line')
        if type(self.pri) is not int or not 0 <= self.pri <= MAX_PRI:
            raise RuleDefinitionError(f'rule {rid}: pri must be an int 0..{MAX_PRI} (an unsigned '
                                      'short in the engine: -1 would run last, notes §c)')
        source = _action_source(rid, self.action)
        patterns = _define_patterns(rid, self.when)
        checker = _RuleChecker(rid)
        earlier: list[str] = []
        for name, expr in patterns:
            checker.pattern(expr, earlier)
            earlier.append(name)
        try:
            inspect.signature(self.action).bind(*[{}] * len(patterns))
        except TypeError as err:
            raise RuleDefinitionError(f'rule {rid}: the action must take {len(patterns)} '
                                      f'positional argument(s), one per pattern ({err})') from err
        set_ = object.__setattr__
        set_(self, 'patterns', patterns)
        set_(self, 'pattern_names', tuple(n for n, _ in patterns))
        set_(self, 'field_types', dict(checker.types))
        set_(self, 'action_sha256', hashlib.sha256(source.encode('utf-8')).hexdigest())

    def definition(self) -> dict:
        """The engine's JSON for this rule, without the action (a fresh copy)."""
        return {'all': [{n: json.loads(json.dumps(e))} for n, e in self.patterns], 'pri': self.pri}


class RuleBook:
    """The rules of one mechanism; one engine ruleset per evaluation. Rules are registered under
    their ids, sorted by (pri, rule id): the engine definition, and so the order of firings, does
    not depend on declaration order."""

    def __init__(self, name: str, zh: str = '', en: str = ''):
        if not isinstance(name, str) or not name or not set(name) <= _BOOK_CHARS \
                or not name[0].isalpha():
            raise RuleDefinitionError(f'bad rule book name {name!r}: lower-case ASCII, digits, _')
        self.name, self.zh, self.en = name, zh, en
        self._rules: dict[str, Rule] = {}
        self.field_types: dict[str, str] = {}

    def add(self, rule: Rule) -> Rule:
        if rule.rule_id in self._rules:
            raise RuleDefinitionError(f'book {self.name}: rule id {rule.rule_id} declared twice')
        if len(self._rules) >= MAX_RULES:
            raise RuleDefinitionError(f'book {self.name}: more than {MAX_RULES} rules')
        for f, cat in rule.field_types.items():
            old = self.field_types.get(f, cat)
            if old != cat:
                raise RuleDefinitionError(f'book {self.name}: rule {rule.rule_id} compares field '
                                          f'{f!r} as {cat}, another rule as {old}')
        self.field_types.update(rule.field_types)
        self._rules[rule.rule_id] = rule
        return rule

    def rule(self, rule_id: str, when: Any, *, zh: str, en: str, pri: int = 0
             ) -> Callable[[Callable], Callable]:
        """Decorator: declares `Rule(rule_id, zh, en, when, fn, pri)`; returns `fn` unchanged."""
        def register(fn: Callable) -> Callable:
            self.add(Rule(rule_id, zh, en, when, fn, pri))
            return fn
        return register

    @property
    def rules(self) -> tuple[Rule, ...]:
        return tuple(sorted(self._rules.values(), key=lambda r: (r.pri, r.rule_id)))

    def __getitem__(self, rule_id: str) -> Rule:
        return self._rules[rule_id]

    def __contains__(self, rule_id: object) -> bool:
        return rule_id in self._rules

    def __len__(self) -> int:
        return len(self._rules)

    def definition(self) -> dict:
        """The engine's JSON for the whole book, in registration order."""
        return {r.rule_id: r.definition() for r in self.rules}


def rules_version(rulebooks: Iterable[RuleBook]) -> str:
    """SHA-256 over the books' engine definitions (conditions, priorities, rule ids, book names)
    and each action's source from `def` on (notes §f). Descriptions and declaration order are not
    part of it."""
    payload = {
        'format': 1,
        'books': {b.name: {r.rule_id: {'when': r.definition(), 'action': r.action_sha256}
                           for r in b.rules}
                  for b in rulebooks},
    }
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(',', ':'))
    return hashlib.sha256(text.encode('utf-8')).hexdigest()


# ---------------------------------------------------------------------------------------------
# What actions return and what the layer records

@dataclass(frozen=True)
class Derive:
    """An item of an action's result: assert `fact` in the same book and partition, and run what
    it matches before the current call returns. `key` labels it in firings; default
    `(rule_id, seq, index)`."""
    fact: Mapping[str, Any]
    key: Hashable = None


class Firing(NamedTuple):
    """One action run. `fact_keys`: the caller's keys of the matched facts, in pattern order;
    `outcomes`: what the action returned, Derive items left out; `derived`: their keys."""
    seq: int
    rule_id: str
    fact_keys: tuple
    outcomes: tuple
    derived: tuple = ()


@dataclass(frozen=True)
class Reconciliation:
    fed: int              # rows passed to feed()
    references: int       # facts stored at the end (references and facts derived from them)
    firings: int
    by_rule: dict         # rule id -> number of firings; every rule listed
    unfired: tuple        # keys of fed rows on which no rule fired, in feed order


# ---------------------------------------------------------------------------------------------
# Fact checking: runs on every fed row, so the common cases are tested first.

_TYPES_OF = {'bool': frozenset((bool,)), 'number': frozenset((int, float)),
             'str': frozenset((str,))}
_PLAIN = frozenset((str, bool, int, float))    # value types a fact holds as they are
_MISSING = object()


def _check_field_name(name: Any, key: Hashable) -> None:
    if type(name) is not str or not name or name[0] == '$' or '.' in name:
        raise FactError(f'fact {key!r}: bad field name {name!r}')
    if name in RESERVED_FIELDS:
        raise FactError(f'fact {key!r}: field {name!r} is reserved by the engine (message '
                        'identity and partition, notes §4); rename it, e.g. emp_id, row_no')


class _FactChecker:
    """Validates and copies facts for one book. `types` maps the fields the book's rules compare
    with constants to 'bool' / 'number' / 'str'. This runs on every fed row, so the common case
    (a known set of field names, plain values) takes the fewest steps."""

    __slots__ = ('checks', 'known_shapes', 'passed', 'plans')

    def __init__(self, types: Mapping[str, str]):
        self.checks = tuple((f, want, _TYPES_OF[want]) for f, want in sorted(types.items()))
        self.known_shapes: set[tuple] = set()     # field-name tuples already checked
        self.passed: set[tuple] = set()           # (field names, value types) that passed checks
        # (field names, value types) of plain facts (Decimals allowed) that passed every
        # check -> the positions of their int and float values and the names of their Decimals:
        # the only checks and conversions left for the next fact of that signature
        self.plans: dict[tuple, tuple[tuple[int, ...], tuple[int, ...]]] = {}

    def __call__(self, fact: Any, key: Hashable) -> dict:
        if type(fact) is not dict and not isinstance(fact, _abc.Mapping):
            raise FactError(f'fact {key!r}: expected a dict, got {type(fact).__name__}')
        out = dict(fact)
        plan = self.plans.get((tuple(out), tuple(map(type, out.values()))))
        if plan is not None:                      # the common case: a fact like the last ones
            ints, floats, decimals = plan
            if ints or floats:
                values = tuple(out.values())
                for i in ints:
                    if not -MAX_EXACT_INT <= values[i] <= MAX_EXACT_INT:
                        return self._checked(out, key)      # raises with the full message
                for i in floats:
                    if not math.isfinite(values[i]):
                        return self._checked(out, key)
            for name in decimals:                 # deliberate: the engine compares doubles
                f = float(out[name])
                if not math.isfinite(f):
                    return self._checked(out, key)
                out[name] = f
            return out
        return self._checked(out, key)

    def _checked(self, out: dict, key: Hashable) -> dict:
        """Every check, field by field; remembers a plan for plain facts that pass."""
        shape = tuple(out)
        given = tuple(map(type, out.values()))    # before Decimals become floats
        plain = all(t in _PLAIN or t is Decimal for t in given)
        if shape not in self.known_shapes:
            if len(out) > MAX_FIELDS:
                raise FactError(f'fact {key!r}: {len(out)} fields; the engine takes at most '
                                f'{MAX_FIELDS}')
            for name in shape:
                _check_field_name(name, key)
            if len(self.known_shapes) < 10_000:
                self.known_shapes.add(shape)
        for name, v in out.items():
            t = type(v)
            if t is str or t is bool:
                continue
            if t is int:
                if not -MAX_EXACT_INT <= v <= MAX_EXACT_INT:
                    raise FactError(f'fact {key!r}: {name}={v} is beyond 2**53')
            elif t is float:
                if not math.isfinite(v):
                    raise FactError(f'fact {key!r}: {name}={v!r} is not finite (the engine '
                                    'refuses inf, and NaN matches nothing, notes §e)')
            else:
                out[name] = _convert(name, v, key)      # same key: allowed while iterating
        types = tuple(map(type, out.values()))
        signature = (shape, types)
        if signature not in self.passed:
            for name, want, allowed in self.checks:
                v = out.get(name, _MISSING)
                if v is not _MISSING and type(v) not in allowed:
                    raise FactError(f'fact {key!r}: {name}={v!r} must be {want}: the rules '
                                    f'compare it with a {want}, and the engine would compare '
                                    'mixed types silently (notes §e)')
            if len(self.passed) < 10_000:
                self.passed.add(signature)
        if plain and len(self.plans) < 10_000:
            self.plans[(shape, given)] = (
                tuple(i for i, t in enumerate(given) if t is int),
                tuple(i for i, t in enumerate(given) if t is float),
                tuple(name for name, t in zip(shape, given) if t is Decimal))
        return out


def _convert(name: str, v: Any, key: Hashable) -> Any:
    """The uncommon value types: refused, or converted to a plain type deliberately."""
    if v is None:
        raise FactError(f'fact {key!r}: {name} is None; the engine never matches None or a '
                        'missing field (notes §e): pass an explicit boolean, number or text')
    if isinstance(v, Decimal):
        f = float(v)               # deliberate: the engine parses every number as a double
        if not math.isfinite(f):
            raise FactError(f'fact {key!r}: {name}={v} is not finite as a float')
        return f
    if isinstance(v, int):         # subclasses of the plain types (IntEnum, StrEnum...)
        if not -MAX_EXACT_INT <= v <= MAX_EXACT_INT:
            raise FactError(f'fact {key!r}: {name}={v} is beyond 2**53')
        return int(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise FactError(f'fact {key!r}: {name}={v!r} is not finite')
        return float(v)
    if isinstance(v, str):
        return str(v)
    raise FactError(f'fact {key!r}: {name} has type {type(v).__name__}; facts hold str, bool, '
                    'int, float or Decimal only (dates as ISO text)')


# ---------------------------------------------------------------------------------------------
# The host

class _SyncHost(_engine.Host):
    """engine.Host without its dispatcher and timer threads (notes §1): they steal pending actions
    and run them later on another thread. Here nothing runs unless this layer runs it. Timers
    (c.start_timer) therefore never fire; the layer does not offer them."""

    def _run(self) -> None:
        pass

    def get_action(self, action_name: str) -> Callable:
        raise EngineError(f'named actions are not used by this layer ({action_name})')

    def load_ruleset(self, ruleset_name: str) -> Any:
        raise EngineError(f'no ruleset {ruleset_name!r} in this evaluation')


def _engine_must_not_dispatch(c: Any) -> None:
    """Registered as every rule's engine-side action. The layer runs actions itself; the engine's
    own dispatch path (which swallows errors, notes §7) must never reach one."""
    raise EngineError('durable_rules dispatched an action outside the safe layer')


class _Book:
    """Per-evaluation state of one rule book."""

    __slots__ = ('book', 'name', 'handle', 'rules', 'clean', 'sids', 'keys', 'spaces',
                 'offsets', 'references', 'ref_keys', 'facts')

    def __init__(self, book: RuleBook, handle: int):
        self.book = book
        self.name = book.name
        self.handle = handle                  # the C ruleset
        self.rules = {r.rule_id: r for r in book.rules}
        self.clean = _FactChecker(book.field_types)
        self.sids: set[str] = set()           # sids created in this ruleset (freed at close)
        self.keys: dict[str, Hashable] = {}   # live engine id -> caller's key
        self.facts: dict[str, dict] = {}      # live engine id -> the fact as asserted (no id/sid)
        self.spaces: dict[str, _HashSpace] = {}   # sid -> live id hashes
        self.offsets: dict[str, int] = {}     # sid -> engine state offset (to drain that sid)
        self.references: dict[str, int] = {}  # sid -> number of facts that stay stored
        self.ref_keys: set = set()


def _release(resources: list) -> None:
    """Frees an evaluation's engine memory: the states first (delete_ruleset does not free them,
    ~8 KB per stored fact), then the ruleset handle (131,071 live handles per process at most;
    freed handles are reused once the table has cycled), notes §10. Runs once: from close(), or
    when the Evaluation is garbage-collected.

    Not the states of a book with a join rule: delete_state crashes the process (SIGSEGV or
    "free(): invalid pointer", measured 5/5) once a fed row was retracted while its join had
    found no partner (tests/test_parallel_feed.py, test_closing_after_an_unmatched_join_...).
    Those states stay allocated until the process ends; evaluations of the product run in a
    forked child that ends with them (engine/isolation.py), and its rules have no join."""
    while resources:
        handle, sids, joins = resources.pop()
        for sid in sorted(sids) if not joins else ():
            try:
                _dre.delete_state(handle, sid)
            except Exception:       # a sid whose state was never created: nothing to free
                pass
        try:
            _dre.delete_ruleset(handle)
        except Exception:
            pass


# ---------------------------------------------------------------------------------------------
# The evaluation

class Evaluation:
    """One isolated, synchronous run of some rule books (see the module docstring)."""

    def __init__(self, rulebooks: Iterable[RuleBook], *, action_budget: float = 5.0,
                 max_firings_per_call: int = 100_000, keep_firings: bool = True,
                 workers: int = 1, min_parallel_rows: int = MIN_PARALLEL_ROWS):
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
        if not 0 < action_budget < 10:
            raise ValueError("action_budget must be below the engine's 10 s (notes §9)")
        self.action_budget = float(action_budget)
        self.max_firings_per_call = int(max_firings_per_call)
        self.keep_firings = keep_firings
        if workers < 1:
            raise ValueError('workers must be at least 1')
        self.workers = int(workers)
        self.min_parallel_rows = max(1, int(min_parallel_rows))
        self._auto_keys: set | None = None    # derived keys made up here, in a feed_many worker
        self.rulebooks = tuple(books)
        self.rules_version = rules_version(books)
        self.firings: list[Firing] = []       # every firing in order, when keep_firings
        self._seq = 0
        self._by_rule = {r.rule_id: 0 for b in books for r in b.rules}
        self._books: dict[str, _Book] = {}
        self._resources: list = []            # [(handle, sids, joins)], for _release
        self._finalizer = weakref.finalize(self, _release, self._resources)
        self._partitions: dict[Hashable, str] = {}
        self._sid_space = _HashSpace()        # sids are found by 32-bit hash too (notes §3)
        self._counter = 0
        self._fed = 0
        self._unfired: list[Hashable] = []
        self._root: str | None = None         # engine id of the row being fed
        self._root_seen = False
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
                joins = any(len(r.pattern_names) > 1 for r in b.rules)
                self._resources.append((handle, bk.sids, joins))
        except BaseException:
            self.close()
            raise

    # -- public calls --------------------------------------------------------------------------

    def add_reference(self, book: str | RuleBook, fact: Mapping[str, Any], *, key: Hashable,
                      partition: Hashable = None) -> list[Firing]:
        """Asserts a fact that stays until close(); runs what it completes; returns the firings.
        Keys of references must be unique within a book."""
        bk = self._enter(book)
        try:
            if key in bk.ref_keys:
                raise FactError(f'book {bk.name}: reference key {key!r} is already stored')
            clean = bk.clean(fact, key)
            sid = self._sid(bk, partition)
            self._root = None
            self._assert(bk, sid, clean, key, origin=None)
            bk.ref_keys.add(key)
            bk.references[sid] = bk.references.get(sid, 0) + 1
            out: list[Firing] = []
            self._drain(bk, sid, None, out)
            return out
        finally:
            self._busy = False

    def feed(self, book: str | RuleBook, row: Mapping[str, Any], *, key: Hashable,
             partition: Hashable = None) -> list[Firing]:
        """Asserts a ledger row, runs every rule it matches (and what their derived facts match),
        then retracts the row and those derived facts. Returns the firings."""
        bk = self._enter(book)
        try:
            clean = bk.clean(row, key)
            sid = self._sid(bk, partition)
            mid, h = self._assert(bk, sid, clean, key, origin=None)
            transient = [(mid, h)]
            self._fed += 1
            self._root, self._root_seen = mid, False
            out: list[Firing] = []
            self._drain(bk, sid, transient, out)
            if not self._root_seen:
                self._unfired.append(key)
            # Retract the derived facts, then the row. The engine finds a fact to retract by id
            # alone (events.c, ACTION_RETRACT_FACT), so the message is just id and sid.
            handle, space = bk.handle, bk.spaces[sid]
            for t_mid, t_hash in reversed(transient):
                code, _ = _dre.retract_fact(handle, '{"id":"%s","sid":"%s"}' % (t_mid, sid))
                if code:
                    self._fail(EngineError(f'book {bk.name}: retracting {bk.keys.get(t_mid)!r} '
                                           f'returned engine code {code}'))
                del bk.keys[t_mid]
                del bk.facts[t_mid]
                space.release_hash(t_hash)
            # A retraction cannot complete a match (negation is refused), but prove it: nothing of
            # this sid may be left pending when the call returns (notes §1).
            if _dre.start_action_for_state(handle, bk.offsets[sid]) is not None:
                _dre.abandon_action(handle, bk.offsets[sid])
                self._fail(EngineError(f'book {bk.name}: an action became pending after '
                                       f'retracting row {key!r}'))
            return out
        finally:
            self._busy = False

    def feed_many(self, book: str | RuleBook, rows: Sequence[tuple[Mapping[str, Any], Hashable]],
                  *, partition: Hashable = None) -> list[list[Firing]]:
        """`[feed(book, row, key=key, partition=partition) for row, key in rows]`: the same
        firings, in the same order, with the same seq numbers and derived keys. With
        `workers` > 1, the rows are cut into at most `workers` consecutive chunks of at least
        `min_parallel_rows` rows each: this process feeds the first while forked copies of the
        evaluation (engine state included: fork copies it) feed the others, on other cores.

        That is sound because a fed row sees the references and never another row (see the
        module docstring), so which process feeds it does not change what fires. Each copy
        proves its engine clean afterwards (reconcile: nothing pending, only the references
        stored) and sends its firings back; they are appended in chunk order with their seq
        numbers (and the `(rule_id, seq, i)` keys of facts they derived) renumbered to follow
        the firings before them. A copy that fails or crashes (SIGSEGV, notes §5) fails the
        evaluation; the other copies are stopped."""
        rows = list(rows)
        parts = min(self.workers, len(rows) // self.min_parallel_rows or 1)
        if parts <= 1:
            return [self.feed(book, row, key=key, partition=partition) for row, key in rows]
        from engine.isolation import ChildError, EvaluationCrashed, Forked
        self._check_usable()
        if self._busy:
            raise EngineError('re-entrant call from inside an action: return Derive(...) instead')
        size = -(-len(rows) // parts)
        chunks = [rows[i:i + size] for i in range(0, len(rows), size)]
        base_seq = self._seq
        workers: list = []
        try:
            for chunk in chunks[1:]:
                workers.append(Forked(self._feed_chunk, book, chunk, partition))
            out = [self.feed(book, row, key=key, partition=partition) for row, key in chunks[0]]
            for worker, chunk in zip(workers, chunks[1:]):
                try:
                    got = worker.result()
                except ChildError as err:
                    cls = _ERRORS.get(err.kind, EngineError)
                    text = f'a feed_many worker failed: {err}'
                    self._fail(cls([text]) if cls is ReconciliationError else cls(text), cause=err)
                except EvaluationCrashed as err:
                    self._fail(EngineError(f'a feed_many worker died ({err}) while feeding '
                                           f'{len(chunk)} row(s) from {chunk[0][1]!r}'), cause=err)
                self._merge_chunk(got, base_seq, len(chunk), out)
        except BaseException as err:
            for worker in workers:
                worker.cancel()
            if self._failure is None:
                self._failure = err
            raise
        return out

    def _feed_chunk(self, book: str | RuleBook, chunk: list, partition: Hashable) -> tuple:
        """In a forked worker: feeds the chunk, proves the engine clean, returns what the
        parent merges (see feed_many)."""
        self._auto_keys = set()
        by_rule = dict(self._by_rule)
        unfired = len(self._unfired)
        # plain tuples: pickle writes a named tuple with its class, per firing (3x slower)
        firings = [[tuple(f) for f in self.feed(book, row, key=key, partition=partition)]
                   for row, key in chunk]
        self.reconcile()
        counts = {r: n - by_rule[r] for r, n in self._by_rule.items() if n != by_rule[r]}
        return firings, counts, self._unfired[unfired:], self._auto_keys

    def _merge_chunk(self, got: tuple, base_seq: int, fed: int, out: list) -> None:
        firings, counts, unfired, auto_keys = got
        shift = self._seq - base_seq     # the worker numbered its firings from base_seq + 1
        renumbered = {k: (k[0], k[1] + shift, k[2]) for k in auto_keys}
        keep = self.firings.append if self.keep_firings else None
        n = 0
        for row_firings in firings:
            mine = []
            for seq, rule_id, fact_keys, outcomes, derived in row_firings:
                if renumbered:
                    fact_keys = tuple(renumbered.get(k, k) for k in fact_keys)
                    derived = tuple(renumbered.get(k, k) for k in derived)
                f = Firing(seq + shift, rule_id, fact_keys, outcomes, derived)
                mine.append(f)
                if keep is not None:
                    keep(f)
                n += 1
            out.append(mine)
        self._seq += n
        for rule_id, k in counts.items():
            self._by_rule[rule_id] += k
        self._fed += fed
        self._unfired.extend(unfired)

    def reconcile(self, *, require_fired: bool = False) -> Reconciliation:
        """Proves that nothing is pending in any sid (no action, no event) and that the stored
        facts are exactly the references; with `require_fired`, that every fed row fired at least
        one rule. Raises ReconciliationError listing every problem."""
        self._check_usable()
        problems = []
        stored = 0
        for bk in self._books.values():
            pending = _dre.start_action(bk.handle)
            if pending is not None:
                _dre.abandon_action(bk.handle, pending[2])
                problems.append(f'book {bk.name}: an action is pending: {pending[1][:200]}')
            for sid in sorted(bk.sids):
                where = f'book {bk.name} partition {self._partition_of(sid)!r}'
                events = json.loads(_dre.get_events(bk.handle, sid))
                if events:
                    problems.append(f'{where}: {len(events)} pending event(s)')
                facts = json.loads(_dre.get_facts(bk.handle, sid))
                want = bk.references.get(sid, 0)
                if len(facts) != want:
                    problems.append(f'{where}: {len(facts)} facts stored, {want} expected')
                stored += len(facts)
        if require_fired and self._unfired:
            shown = ', '.join(repr(k) for k in self._unfired[:20])
            more = f' and {len(self._unfired) - 20} more' if len(self._unfired) > 20 else ''
            problems.append(f'{len(self._unfired)} fed row(s) fired no rule: {shown}{more}')
        if problems:
            raise ReconciliationError(problems)
        return Reconciliation(fed=self._fed, references=stored, firings=self._seq,
                              by_rule=dict(self._by_rule), unfired=tuple(self._unfired))

    def rule(self, rule_id: str) -> Rule:
        """The Rule behind a firing (for its descriptions)."""
        for bk in self._books.values():
            if rule_id in bk.rules:
                return bk.rules[rule_id]
        raise KeyError(rule_id)

    @property
    def failed(self) -> BaseException | None:
        """The error that failed this evaluation, or None."""
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
            raise EvaluationFailed(f'the evaluation failed earlier: {self._failure}') \
                from self._failure

    def _enter(self, book: str | RuleBook) -> _Book:
        self._check_usable()
        if self._busy:
            raise EngineError('re-entrant call from inside an action: return Derive(...) instead')
        name = book.name if isinstance(book, RuleBook) else book
        bk = self._books.get(name)
        if bk is None:
            raise EngineError(f'no rule book {name!r} in this evaluation')
        if isinstance(book, RuleBook) and book is not bk.book:
            raise EngineError(f'a different rule book named {name!r} is registered')
        self._busy = True
        return bk

    def _fail(self, err: BaseException, cause: BaseException | None = None) -> None:
        """Marks the evaluation failed and raises `err`."""
        if self._failure is None:
            self._failure = err
        if cause is not None:
            raise err from cause
        raise err

    def _sid(self, bk: _Book, partition: Hashable) -> str:
        sid = self._partitions.get(partition)
        if sid is None:
            if len(self._partitions) >= MAX_PARTITIONS:
                raise EngineError(f'partition {partition!r} would be the {MAX_PARTITIONS + 1}th: '
                                  f'the engine holds at most {MAX_PARTITIONS} sids per ruleset '
                                  '(notes §10)')
            sid = self._sid_space.claim(f's{len(self._partitions):x}')
            self._partitions[partition] = sid
        if sid not in bk.sids:
            bk.sids.add(sid)
            # The engine stores the sid's state message, id 'sid-<sid>', among its messages.
            bk.spaces[sid] = _HashSpace(reserved=(f'sid-{sid}',))
        return sid

    def _partition_of(self, sid: str) -> Hashable:
        for p, s in self._partitions.items():
            if s == sid:
                return p
        return sid

    def _assert(self, bk: _Book, sid: str, fact: dict, key: Hashable, origin: str | None
                ) -> tuple[str, int]:
        """Asserts one clean fact under a fresh hash-unique id; returns the id and its hash."""
        self._counter += 1
        space = bk.spaces[sid]
        mid, h = space.claim_hashed(_message_id_base(self._counter))
        fact['id'] = mid
        fact['sid'] = sid
        code, offset = _dre.assert_fact(bk.handle, _encode(fact))
        del fact['id'], fact['sid']
        if code == 0:
            bk.keys[mid] = key
            bk.facts[mid] = fact
            bk.offsets[sid] = offset
            return mid, h
        space.release_hash(h)
        where = f'book {bk.name}: fact {key!r}' + (f' derived by {origin}' if origin else '')
        if code == 1:
            err: EngineError = FactNotHandled(
                f'{where} matched no pattern of any rule (MessageNotHandled); check its t field, '
                'or add a rule for it')
            if origin is None:
                raise err          # nothing was stored or queued: the evaluation is intact
            self._fail(err)
        if code == 2:
            self._fail(FactObserved(f'{where} was rejected as already observed although its id '
                                    f'{mid!r} is hash-unique in its sid (notes §3)'))
        self._fail(EngineError(f'{where}: unexpected engine result {code}'))
        raise AssertionError('unreachable')

    def _drain(self, bk: _Book, sid: str, transient: list[tuple[str, int]] | None,
               out: list[Firing]) -> None:
        """Runs every pending action of `sid`, synchronously, and records each firing in `out`
        (and in self.firings). Derived facts' ids go to `transient`, or, if it is None (feeding a
        reference), stay stored.

        This replaces the engine's Ruleset._flush_actions/Promise: those swallow every exception
        (notes §7) and give up on an action after 10 s (notes §9)."""
        handle = bk.handle
        offset = bk.offsets[sid]
        res = _dre.start_action_for_state(handle, offset)
        if res is None:
            return
        msg = res[1]
        budget = self.action_budget
        limit = self._seq + self.max_firings_per_call
        keys = bk.keys
        keep = self.firings.append if self.keep_firings else None
        # The engine compiles `a | b` into one beta path per disjunct, so a fact satisfying both
        # sides comes back twice for the same rule (measured: tests/test_engine.py,
        # test_or_condition_fires_once). A rule fires once per distinct set of matched facts.
        seen_matches: set[tuple] = set()
        live = bk.facts
        while True:
            # One agenda item: {rule id: {pattern name: the fact as asserted}} (count is 1).
            # The engine echoes each matched message verbatim (the JSON we asserted, then "id"
            # and "sid"): for a single-pattern rule the rule id and the message id are read off
            # the text and the action gets a copy of the fact we asserted (the same values as
            # parsing the echo would give); a join is parsed.
            rule_id = msg[2:msg.index('"', 2)]
            rule = bk.rules.get(rule_id)
            fmid = None
            if rule is not None and len(rule.pattern_names) == 1:
                tail = msg.rpartition('"id":"')[2]
                fmid = tail[:tail.index('"')]
                if tail[len(fmid):].startswith('","sid":"') and fmid in live:
                    if fmid == self._root:
                        self._root_seen = True
                    mids = (fmid,)
                    fact_keys = (keys[fmid],)
                    facts = [dict(live[fmid])]
                else:
                    fmid = None
            if fmid is None:
                ((rule_id, match),) = json.loads(msg).items()
                rule = bk.rules[rule_id]
                facts = []
                fact_keys = []
                mids = []
                for name in rule.pattern_names:
                    f = match[name]
                    fmid = f.pop('id')
                    if fmid == self._root:
                        self._root_seen = True
                    mids.append(fmid)
                    fact_keys.append(keys[fmid])
                    del f['sid']
                    facts.append(f)
                fact_keys = tuple(fact_keys)
                mids = tuple(mids)
            match_id = (rule_id, mids)
            if match_id in seen_matches:
                msg = _dre.complete_and_start_action(handle, offset)
                if msg is None:
                    return
                continue
            seen_matches.add(match_id)
            self._seq += 1
            seq = self._seq
            start = time.perf_counter()
            try:
                result = rule.action(*facts)
                if result is None:
                    items: Sequence[Any] = ()
                elif type(result) is list or type(result) is tuple:
                    items = result
                elif isinstance(result, (str, bytes, _abc.Mapping)) \
                        or not isinstance(result, _abc.Iterable):
                    raise TypeError(f'it returned {type(result).__name__}; an action returns None '
                                    'or a list of outcomes')
                else:
                    items = list(result)      # a generator runs here, inside the guard
            except KeyboardInterrupt as err:
                _dre.abandon_action(handle, offset)
                self._failure = self._failure or err
                raise
            except BaseException as err:      # SystemExit too: the engine would swallow it (§7)
                _dre.abandon_action(handle, offset)
                self._fail(RuleActionError(
                    f'rule {rule_id} failed: {type(err).__name__}: {err} '
                    f'(book {bk.name}, facts {list(fact_keys)!r})'), cause=err)
            elapsed = time.perf_counter() - start
            if elapsed > budget:
                _dre.abandon_action(handle, offset)
                self._fail(RuleActionError(
                    f'rule {rule_id} ran {elapsed:.2f} s, over the {budget} s action budget '
                    f'(the engine drops agendas after 10 s, notes §9); facts {list(fact_keys)!r}'))
            outcomes = []
            derived_keys = []
            for item in items:
                if type(item) is not Derive:
                    outcomes.append(item)
                    continue
                # Forward chaining: asserted now, during this action's lease, as the engine's own
                # c.assert_fact does; complete_and_start_action below picks up what it matches.
                if item.key is not None:
                    dkey = item.key
                else:
                    dkey = (rule_id, seq, len(derived_keys))
                    if self._auto_keys is not None:     # a feed_many worker: renumbered later
                        self._auto_keys.add(dkey)
                try:
                    derived = self._assert(bk, sid, bk.clean(item.fact, dkey), dkey,
                                           origin=f'rule {rule_id}')
                except EngineError as err:
                    _dre.abandon_action(handle, offset)
                    self._failure = self._failure or err
                    raise
                if transient is None:
                    bk.references[sid] = bk.references.get(sid, 0) + 1
                else:
                    transient.append(derived)
                derived_keys.append(dkey)
            firing = Firing(seq, rule_id, fact_keys, tuple(outcomes), tuple(derived_keys))
            out.append(firing)
            if keep is not None:
                keep(firing)
            self._by_rule[rule_id] += 1
            if self._seq >= limit:
                _dre.abandon_action(handle, offset)
                self._fail(RuleActionError(
                    f'{self.max_firings_per_call} firings in one call: derived facts keep '
                    f're-triggering rules (last: {rule_id})'))
            msg = _dre.complete_and_start_action(handle, offset)
            if msg is None:
                return

"""Declaring rules: `Rule`, `RuleBook` (its `rule` and `fallback` decorators) and
`rules_version`, with every check made when a rule is declared, so that a rule the engine would
run wrongly fails when its module is imported, not in the middle of an evaluation.

A rule matches one fact: one `durable.lang` expression over the fact's own fields (`==`, `!=`,
`<`, `<=`, `>`, `>=` against constants or against another field of the same fact, `&`, `|`).
Refused here: several patterns (joins: cross-fact inequalities crash the engine, docs/engine.md
§5), references to another fact (`c.x`), `none()` (§6), nested `all()`/`any()`,
`count`/`cap`/`distinct`, the engine state `s`, timers, conditions on `id`/`sid` (§4), `None`
or non-finite constants (§e), and a field compared as two different types.
"""
from __future__ import annotations

import ast
import hashlib
import inspect
import json
import math
import textwrap
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Iterable

from durable import lang as _lang

from engine.errors import RuleDefinitionError
from engine.facts import MAX_EXACT_INT, RESERVED_FIELDS

MAX_RULES = 4096               # MAX_ACTIONS per ruleset in rete.c
MAX_PRI = 65535                # pri is an unsigned short in the engine (docs/engine.md §c)
PATTERN = 'm'                  # the name durable.lang gives the pattern of a one-pattern rule

_ID_CHARS = frozenset('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-')
_BOOK_CHARS = frozenset('abcdefghijklmnopqrstuvwxyz0123456789_')
_ORDERING = frozenset(('$lt', '$gt', '$lte', '$gte'))
_COMPARISONS = _ORDERING | {'$neq'}
_ARITHMETIC = frozenset(('$add', '$sub', '$mul', '$div'))
_REFUSED = MappingProxyType({
    '$iall': 'list items (allItems/anyItem): facts are flat',
    '$iany': 'list items (allItems/anyItem): facts are flat',
    '$s': 'the engine state s: rules see facts only',
})


def _category(v: Any) -> str | None:
    if isinstance(v, bool):
        return 'bool'
    if isinstance(v, (int, float)):
        return 'number'
    if isinstance(v, str):
        return 'str'
    return None


class _ConditionChecker:
    """Walks one rule's JSON condition, refuses the unsafe shapes, and collects the type each
    field compared with a constant must have in facts.

    JSON shapes (what `durable.lang` emits): `{field: operand}` is equality; `{'$gt': {field:
    operand}}` etc.; `{'$and'|'$or': [...]}`; `{'$ex'|'$nex': {field: 1}}`; `{'$mt': {field:
    regex}}`. An operand is a constant, `{'$m': field}` (a field of the same fact),
    `{alias: field}` (a field of another fact: refused), or `{'$add': {'$l': x, '$r': y}}`
    etc."""

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
        if name in RESERVED_FIELDS:
            self.fail(f'a condition on {name!r}: id and sid are engine fields, not domain data '
                      '(docs/engine.md §4); use a field such as emp_id')
        return name

    def want(self, name: str, cat: str) -> None:
        old = self.types.setdefault(name, cat)
        if old != cat:
            self.fail(f'field {name!r} is compared both as {old} and as {cat}')

    def constant(self, v: Any) -> str:
        if v is None:
            self.fail('a comparison with None never matches in the engine (docs/engine.md §e); '
                      'give facts an explicit boolean instead')
        if isinstance(v, float) and not math.isfinite(v):
            self.fail(f'non-finite constant {v!r} (the engine refuses inf; NaN matches nothing)')
        if isinstance(v, int) and not isinstance(v, bool) and abs(v) > MAX_EXACT_INT:
            self.fail(f'integer constant {v} is beyond 2**53')
        cat = _category(v)
        if cat is None:
            self.fail(f'unsupported constant {v!r} (only str, bool, int, float)')
        return cat

    def condition(self, expr: Any) -> None:
        if not isinstance(expr, dict) or not expr:
            self.fail(f'unexpected condition {expr!r}')
        for op, arg in expr.items():
            if op in ('$and', '$or'):
                for sub in arg:
                    self.condition(sub)
            elif op in _COMPARISONS:
                ((name, right),) = arg.items()
                name = self.field_name(name)
                cat = self.operand(right, op)
                if cat is not None:
                    self.want(name, cat)
                elif op in _ORDERING and self.is_arithmetic(right):
                    self.want(name, 'number')
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
                name = self.field_name(op)
                cat = self.operand(arg, '==')
                if cat is not None:
                    self.want(name, cat)

    @staticmethod
    def is_arithmetic(arg: Any) -> bool:
        return isinstance(arg, dict) and len(arg) == 1 and next(iter(arg)) in _ARITHMETIC

    def operand(self, v: Any, op: str) -> str | None:
        """Checks the right-hand side of a comparison; returns the category of a constant."""
        if not isinstance(v, dict):
            if isinstance(v, list):
                self.fail(f'list constant {v!r} is not supported')
            return self.constant(v)
        if len(v) != 1:
            self.fail(f'unexpected operand {v!r}')
        ((k, arg),) = v.items()
        if k == '$m':                         # another field of the same fact: safe (§5)
            self.field_name(arg)
            return None
        if k in _ARITHMETIC:
            self.operand(arg['$l'], op)
            self.operand(arg['$r'], op)
            return None
        if k.startswith('$'):
            self.fail(f'{k} refused: {_REFUSED.get(k, "unsupported operand")}')
        # {alias: field}: a test against another fact (a join's beta test).
        self.fail(f'{op} against c.{k}.{arg}, a field of another fact: a rule matches one fact. '
                  'Joins are refused (cross-fact comparisons crash the engine with SIGSEGV, '
                  'docs/engine.md §5): put the value on the fact and compare fields of one fact '
                  '(m.points > m.max_points)')
        return None


def _define_condition(rule_id: str, when: Any) -> dict:
    """A `durable.lang` expression -> its JSON condition (a private plain-JSON copy)."""
    if isinstance(when, (list, tuple)):
        raise RuleDefinitionError(
            f'rule {rule_id}: a list of patterns is a join, and joins are refused (cross-fact '
            'comparisons crash the engine with SIGSEGV, docs/engine.md §5): a rule matches one '
            'fact, given as one m expression; put what it needs of other facts on the fact')
    if isinstance(when, _lang.none):
        raise RuleDefinitionError(
            f'rule {rule_id}: none() is refused: it can hide matches of a positive rule and is '
            'not retracted later (docs/engine.md §6); decide absence in Python, or with an '
            'explicit boolean on the fact')
    if isinstance(when, _lang.rule):
        raise RuleDefinitionError(
            f'rule {rule_id}: all()/any() and when_* are refused: a rule matches one fact, '
            'given as one m expression (use | inside it)')
    if isinstance(when, dict):
        raise RuleDefinitionError(f'rule {rule_id}: {when!r} in the condition: pass pri= to the '
                                  'rule; count/cap/distinct are refused (lists of matches)')
    if not isinstance(when, _lang.value):
        raise RuleDefinitionError(f'rule {rule_id}: the condition is {when!r}, expected an m '
                                  "expression such as (m.t == 'beh')")
    if when.alias is not None:
        raise RuleDefinitionError(
            f'rule {rule_id}: the pattern is named c.{when.alias}: names serve joins, and joins '
            'are refused (docs/engine.md §5); write the m expression alone')
    try:
        d = when.define()
    except Exception as err:              # durable.lang raises bare Exception
        raise RuleDefinitionError(f'rule {rule_id}: {err}') from err
    return json.loads(json.dumps(d))


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
    """One rule. `when` is a `durable.lang` expression over one fact; `action(fact)` gets the
    fact as a plain dict and returns None or a list of outcomes. A `fallback` rule fires on a
    fact that meets `when` only when no other rule of its book fired on that fact — or, with
    `unless`, none of the rules it names (see RuleBook.fallback). Every check runs here, when
    the rule is declared."""

    rule_id: str
    zh: str
    en: str
    when: Any = field(repr=False)
    action: Callable[[dict], Iterable[Any] | None] = field(repr=False)
    pri: int = 0
    fallback: bool = False
    unless: frozenset | None = None     # a fallback's rule ids; None: every other rule
    condition: dict = field(init=False, repr=False)        # the engine's JSON condition
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
                                      'short in the engine: -1 would run last, docs/engine.md §c)')
        if self.fallback and self.pri != MAX_PRI:
            raise RuleDefinitionError(f'rule {rid}: a fallback runs after every other rule: its '
                                      f'pri is {MAX_PRI}')
        if self.unless is not None:
            if not self.fallback:
                raise RuleDefinitionError(f'rule {rid}: only a fallback names rules it is the '
                                          'fallback of (unless)')
            if not self.unless or not all(isinstance(u, str) for u in self.unless) \
                    or rid in self.unless:
                raise RuleDefinitionError(f'rule {rid}: unless names other rules of its book, '
                                          f'by id (got {sorted(map(str, self.unless))})')
            object.__setattr__(self, 'unless', frozenset(self.unless))
        source = _action_source(rid, self.action)
        condition = _define_condition(rid, self.when)
        checker = _ConditionChecker(rid)
        checker.condition(condition)
        try:
            inspect.signature(self.action).bind({})
        except TypeError as err:
            raise RuleDefinitionError(f'rule {rid}: the action must take one positional '
                                      f'argument, the fact ({err})') from err
        set_ = object.__setattr__
        set_(self, 'condition', condition)
        set_(self, 'field_types', dict(checker.types))
        set_(self, 'action_sha256', hashlib.sha256(source.encode('utf-8')).hexdigest())

    def definition(self) -> dict:
        """The engine's JSON for this rule, without the action (a fresh copy)."""
        return {'all': [{PATTERN: json.loads(json.dumps(self.condition))}], 'pri': self.pri}


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
        self.fallback_rule: Rule | None = None      # the one fallback of every other rule

    def add(self, rule: Rule) -> Rule:
        if rule.rule_id in self._rules:
            raise RuleDefinitionError(f'book {self.name}: rule id {rule.rule_id} declared twice')
        if len(self._rules) >= MAX_RULES:
            raise RuleDefinitionError(f'book {self.name}: more than {MAX_RULES} rules')
        if rule.fallback and rule.unless is None and self.fallback_rule is not None:
            raise RuleDefinitionError(f'book {self.name}: a second fallback, {rule.rule_id} '
                                      f'(the first is {self.fallback_rule.rule_id}); a book has '
                                      'at most one fallback of every other rule: give it the '
                                      'condition that covers both')
        if rule.unless is not None:
            missing = sorted(u for u in rule.unless
                             if u not in self._rules or self._rules[u].fallback)
            if missing:
                raise RuleDefinitionError(f'book {self.name}: fallback {rule.rule_id} names '
                                          f'{missing}, which are not rules of the book declared '
                                          'before it (fallbacks excluded)')
        for f, cat in rule.field_types.items():
            old = self.field_types.get(f, cat)
            if old != cat:
                raise RuleDefinitionError(f'book {self.name}: rule {rule.rule_id} compares field '
                                          f'{f!r} as {cat}, another rule as {old}')
        self.field_types.update(rule.field_types)
        self._rules[rule.rule_id] = rule
        if rule.fallback and rule.unless is None:
            self.fallback_rule = rule
        return rule

    def rule(self, rule_id: str, when: Any, *, zh: str, en: str, pri: int = 0
             ) -> Callable[[Callable], Callable]:
        """Decorator: declares `Rule(rule_id, zh, en, when, fn, pri)`; returns `fn` unchanged
        (so an action can be unit-tested with a plain dict)."""
        def register(fn: Callable) -> Callable:
            self.add(Rule(rule_id, zh, en, when, fn, pri))
            return fn
        return register

    def fallback(self, rule_id: str, when: Any, *, zh: str, en: str,
                 unless: Iterable[str] | None = None) -> Callable[[Callable], Callable]:
        """Decorator: declares a fallback rule, which fires on a fed fact that meets `when`
        exactly when no other rule of the book fired on that fact; its firing is the fact's
        last. "Accepted" is then the absence of every rejection by construction, not a
        hand-written negation of each rejection's condition that a new rejection can miss.
        A fact meeting `when` is handled (no FactNotHandled) whether the fallback fires or not.

        `unless` (rule ids of this book, declared before): the fallback of those rules only —
        it fires exactly when none of them fired on the fact, whatever else did ("counted" is
        then "not held", by construction). A book has at most one fallback of every other rule;
        fallbacks with `unless` must not meet the same fact as another fallback (the layer
        fails the evaluation when they do). Returns `fn` unchanged."""
        def register(fn: Callable) -> Callable:
            self.add(Rule(rule_id, zh, en, when, fn, MAX_PRI, fallback=True,
                          unless=None if unless is None else frozenset(unless)))
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
    """SHA-256 over the books' engine definitions (conditions, priorities, rule ids, book names,
    which rule is a fallback, and of which rules) and each action's source from `def` on
    (docs/engine.md §f). Descriptions and declaration order are not part of it."""
    def entry(r: Rule) -> dict:
        e = {'when': r.definition(), 'action': r.action_sha256}
        if r.fallback:              # only then: the versions of books without one are unchanged
            e['fallback'] = True
        if r.unless is not None:
            e['unless'] = sorted(r.unless)
        return e

    payload = {
        'format': 1,
        'books': {b.name: {r.rule_id: entry(r) for r in b.rules} for b in rulebooks},
    }
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(',', ':'))
    return hashlib.sha256(text.encode('utf-8')).hexdigest()

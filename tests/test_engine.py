"""Tests of the engine layer (engine/): one test (or a few) per trap of durable_rules 2.0.28 written
up in docs/engine.md ("§N"), showing that the layer prevents or catches it, plus the contracts
the rule books rely on: firing records, the fallback rule, the rules version, the tutorial."""
from __future__ import annotations

import gc
import json
import runpy
import textwrap
import threading
import time
from decimal import Decimal

import durable_rules_engine as dre
import pytest
from durable import engine as dengine
from durable.lang import all as dall, any as dany, c, none, pri
from hypothesis import given, settings, strategies as st

import engine
import engine.evaluation as E
from engine import (Activation, EngineError, Evaluation, EvaluationUnusable, FactError,
                    FactNotHandled, FactObserved, ReconciliationError, Rule, RuleActionError,
                    RuleBook, RuleDefinitionError, m, rules_version)
from engine.ids import HashSpace, fnv1a32
from engine.isolation import Forked

# fnv1a32('f6df0w9r') == fnv1a32('sid-s0'), the id of the engine state's own message: found by
# a meet-in-the-middle search over [0-9a-z] ids, checked below against the hash and the engine.
COLLIDES_WITH_STATE = 'f6df0w9r'


# ------------------------------------------------------------------------------------------------
# Small books used by several tests

def kinds_book() -> RuleBook:
    """Three rules over 'x' facts; one row can meet several of them."""
    b = RuleBook('kinds')

    @b.rule('k.any', m.kind == 'x', zh='任何x', en='Any x', pri=5)
    def any_x(f):
        return [('any', f['n'])]

    @b.rule('k.even', (m.kind == 'x') & (m.even == True), zh='偶数', en='Even')
    def even(f):
        return [('even', f['n'])]

    @b.rule('k.big', (m.kind == 'x') & (m.n > 100), zh='大数', en='Big')
    def big(f):
        return [('big', f['n'])]

    return b


def xrow(n: int, **extra) -> dict:
    return {'kind': 'x', 'n': n, 'even': n % 2 == 0, **extra}


def one_arg(f):
    return None


def two_args(a, b):
    return None


# ------------------------------------------------------------------------------------------------
# §1: the background dispatcher thread

def test_no_dispatcher_threads_and_every_row_fires_before_feed_returns():
    before = threading.active_count()
    with Evaluation([kinds_book()]) as ev:
        assert isinstance(ev._host, dengine.Host)
        assert not any(isinstance(t, threading.Timer) for t in threading.enumerate())
        short = 0
        for i in range(20_000):
            fired = ev.feed('kinds', xrow(i % 100), key=i)       # n < 100: 'any' (+ 'even')
            short += len(fired) != (2 if i % 2 == 0 else 1)
        assert short == 0
        assert len(ev.firings) == 30_000
        assert threading.active_count() == before
        rec = ev.reconcile(require_fired=True)
        assert (rec.fed, rec.firings) == (20_000, 30_000)
        assert rec.by_rule == {'k.any': 20_000, 'k.even': 10_000, 'k.big': 0}
    assert threading.active_count() == before


# ------------------------------------------------------------------------------------------------
# §2: batch calls. The layer has none; one bad row cannot hold back the others' firings.

def test_a_bad_row_among_good_ones_fails_alone_and_leaves_nothing_pending():
    with Evaluation([kinds_book()]) as ev:
        for i in range(5):
            ev.feed('kinds', xrow(i), key=i)
        with pytest.raises(FactNotHandled, match=r"fact 'bad' met no condition"):
            ev.feed('kinds', {'kind': 'y', 'n': 1, 'even': False}, key='bad')
        assert ev.failed is None            # nothing was stored or queued: still usable
        ev.feed('kinds', xrow(6), key=6)
        assert [f.fact_keys for f in ev.firings if f.rule_id == 'k.any'] == \
            [(0,), (1,), (2,), (3,), (4,), (6,)]
        assert ev.reconcile(require_fired=True).fed == 6


# ------------------------------------------------------------------------------------------------
# §3: message ids compared by a 32-bit hash only

def test_the_collisions_are_real_in_the_engine_and_fnv1a32_matches_it():
    assert fnv1a32('row-539599') == fnv1a32('row-722382')
    assert fnv1a32(COLLIDES_WITH_STATE) == fnv1a32('sid-s0')
    h = dre.create_ruleset('raw', json.dumps({'r': {'all': [{'m': {'t': 'x'}}]}}))
    try:
        assert dre.assert_fact(h, json.dumps({'t': 'x', 'id': 'row-539599', 'sid': 's0'}))[0] == 0
        assert dre.assert_fact(h, json.dumps({'t': 'x', 'id': 'row-722382', 'sid': 's0'}))[0] == 2
        # the state's own message 'sid-s0' is among the messages its ids must not collide with
        assert dre.assert_fact(h, json.dumps({'t': 'x', 'id': COLLIDES_WITH_STATE,
                                              'sid': 's0'}))[0] == 2
    finally:
        dre.delete_state(h, 's0')
        dre.delete_ruleset(h)


def test_ids_are_rekeyed_deterministically_when_their_hashes_collide(monkeypatch):
    space = HashSpace(reserved=['sid-s0'])
    assert space.claim('row-539599') == ('row-539599', fnv1a32('row-539599'))
    assert space.claim('row-722382')[0] == 'row-722382~1'
    assert space.claim(COLLIDES_WITH_STATE)[0] == COLLIDES_WITH_STATE + '~1'
    space.release(fnv1a32('row-539599'))
    assert space.claim('row-722382')[0] == 'row-722382'
    with pytest.raises(ValueError):
        space.claim('行-1')                 # the C code hashes signed chars: ids stay ASCII
    # end to end: the engine id proposed for the second row collides with the state's message
    proposed = iter(['f1', COLLIDES_WITH_STATE, 'f3'])
    monkeypatch.setattr(E, 'message_id_base', lambda counter: next(proposed))
    asserted = []
    real_assert = dre.assert_fact

    def spy(handle, text):
        asserted.append(json.loads(text)['id'])
        return real_assert(handle, text)

    monkeypatch.setattr(E._dre, 'assert_fact', spy)
    with Evaluation([kinds_book()]) as ev:
        for k in 'abc':
            ev.feed('kinds', xrow(1), key=k)
        assert asserted == ['f1', COLLIDES_WITH_STATE + '~1', 'f3']
        assert [f.fact_keys for f in ev.firings] == [('a',), ('b',), ('c',)]


def test_the_hash_cache_of_one_space_does_not_leak_into_another():
    """HashSpace.hash keeps the FNV state of the last prefix it hashed, per space: two spaces
    hashing interleaved ids each get fnv1a32 exactly."""
    a, b = HashSpace(), HashSpace()
    ids_a = [f'f{n:x}' for n in range(70_000)] + ['', 'a', 'sid-s0', 'f1~1', 'f1~2', 'f10', 'f1']
    ids_b = [f'row-{n}' for n in range(len(ids_a))]
    got = [(a.hash(x), b.hash(y)) for x, y in zip(ids_a, ids_b)]
    assert got == [(fnv1a32(x), fnv1a32(y)) for x, y in zip(ids_a, ids_b)]
    assert fnv1a32('') == 0x811c9dc5 and fnv1a32('a') == 0xe40c292c     # published FNV-1a values


def test_engine_duplicate_rejection_is_an_error_not_ignored(monkeypatch):
    # Blind the layer's collision check to provoke the engine's MessageObserved.
    monkeypatch.setattr(HashSpace, 'claim', lambda self, base: (base, 0))
    monkeypatch.setattr(E, 'message_id_base', lambda counter: COLLIDES_WITH_STATE)
    with Evaluation([kinds_book()]) as ev:
        with pytest.raises(FactObserved, match="fact 'a' was rejected as already observed"):
            ev.feed('kinds', xrow(1), key='a')
        with pytest.raises(EvaluationUnusable):
            ev.feed('kinds', xrow(5), key='b')


# ------------------------------------------------------------------------------------------------
# §4: identical rows, and the reserved id / sid fields

def test_identical_rows_are_all_processed():
    with Evaluation([kinds_book()]) as ev:
        for _ in range(3):
            ev.feed('kinds', xrow(7), key=('Sheet', 7))           # same content, same key
        assert [f.fact_keys for f in ev.firings] == [(('Sheet', 7),)] * 3
        assert ev.reconcile().fed == 3


@pytest.mark.parametrize('field', ['id', 'sid'])
def test_reserved_fields_are_refused_in_facts(field):
    with Evaluation([kinds_book()]) as ev:
        with pytest.raises(FactError, match=f"field '{field}' is reserved"):
            ev.feed('kinds', xrow(1, **{field: 'E1'}), key=1)
        with pytest.raises(FactError, match='reserved'):
            ev.feed('kinds', xrow(1, **{field: 7}), key=2)
        assert ev.reconcile().fed == 0


def test_reserved_fields_are_refused_in_conditions():
    with pytest.raises(RuleDefinitionError, match="condition on 'id'"):
        Rule('r.id', 'x', 'x', (m.t == 'ev') & (m.id == 'E1'), one_arg)
    with pytest.raises(RuleDefinitionError, match="condition on 'sid'"):
        Rule('r.sid', 'x', 'x', m.sid == '1', one_arg)
    with pytest.raises(RuleDefinitionError, match='facts are flat'):
        Rule('r.nested', 'x', 'x', m.a.b == '1', one_arg)


# ------------------------------------------------------------------------------------------------
# §5: SIGSEGV in joins with a cross-fact inequality. Joins are refused when the rule is declared.

@pytest.mark.parametrize('when,action', [
    (lambda: [m.t == 'emp', (m.t == 'ev') & (m.pts > m.cap)], two_args),     # two patterns
    (lambda: (m.t == 'emp', m.t == 'ev'), two_args),
    (lambda: [c.e << (m.t == 'emp'), (m.t == 'ev') & (m.emp == c.e.emp)], two_args),
    (lambda: [m.t == 'ev'], one_arg),                                        # a list at all
    (lambda: (m.t == 'ev') & (m.pts > c.e.cap), one_arg),                    # another fact
    (lambda: (m.t == 'ev') & (m.emp == c.e.emp), one_arg),
    (lambda: (m.t == 'ev') & (m.emp != c.e.emp), one_arg),
    (lambda: (m.t == 'ev') & (m.pts == c.e.cap + 1), one_arg),
    (lambda: (m.t == 'ev') & ((m.emp == c.e.emp) | (m.pts == 1)), one_arg),
    (lambda: c.e << (m.t == 'ev'), one_arg),                                 # a named pattern
], ids=['gt-join', 'tuple', 'eq-join', 'list-of-one', 'gt-ref', 'eq-ref', 'neq-ref', 'arith-ref',
        'or-ref', 'alias'])
def test_joins_and_references_to_other_facts_are_refused_when_declared(when, action):
    with pytest.raises(RuleDefinitionError, match='docs/engine.md §5'):
        Rule('r.bad', 'x', 'x', when(), action)
    b = RuleBook('refusing')
    with pytest.raises(RuleDefinitionError, match='docs/engine.md §5'):
        b.rule('r.bad', when(), zh='x', en='x')(action)
    assert len(b) == 0


def test_same_fact_and_constant_comparisons_work():
    b = RuleBook('same')

    @b.rule('s.over', (m.t == 'ev') & (m.pts > m.cap) & (m.emp != 'E0'), zh='超', en='Over')
    def over(v):
        return [(v['emp'], v['pts'] - v['cap'])]

    @b.rule('s.sum', (m.t == 'ev') & (m.pts == m.cap + 1), zh='加一', en='Plus one')
    def plus_one(v):
        return [v['emp']]

    with Evaluation([b]) as ev:
        got = [ev.feed('same', {'t': 'ev', 'emp': emp, 'pts': pts, 'cap': 3}, key=f'v{i}')
               for i, (emp, pts) in enumerate([('E1', 5), ('E2', 4)])]
        # a row failing every rule's tests (pts <= cap, or emp E0 with pts != cap + 1) is refused
        for i, (emp, pts) in enumerate([('E1', 1), ('E0', 9)]):
            with pytest.raises(FactNotHandled):
                ev.feed('same', {'t': 'ev', 'emp': emp, 'pts': pts, 'cap': 3}, key=f'low{i}')
        assert got == [[Activation(1, 's.over', ('v0',), (('E1', 2),))],
                       [Activation(2, 's.over', ('v1',), (('E2', 1),)),
                        Activation(3, 's.sum', ('v1',), ('E2',))]]
        assert ev.reconcile(require_fired=True).fed == 2


# ------------------------------------------------------------------------------------------------
# §6: none(), and the other shapes that are not one plain pattern

def test_none_and_other_non_plain_patterns_are_refused():
    with pytest.raises(RuleDefinitionError, match=r'none\(\) is refused'):
        Rule('r.none', 'x', 'x', none((m.t == 'ev') & (m.emp == 'E1')), one_arg)
    with pytest.raises(RuleDefinitionError, match=r'all\(\)/any\(\)'):
        Rule('r.any', 'x', 'x', dany(m.t == 'a', m.t == 'b'), one_arg)
    with pytest.raises(RuleDefinitionError, match=r'all\(\)/any\(\)'):
        Rule('r.all', 'x', 'x', dall(m.t == 'a', m.t == 'b'), one_arg)
    with pytest.raises(RuleDefinitionError, match='pass pri='):
        Rule('r.pri', 'x', 'x', pri(3), one_arg)
    with pytest.raises(RuleDefinitionError, match='expected an m expression'):
        Rule('r.text', 'x', 'x', "m.t == 'a'", one_arg)


# ------------------------------------------------------------------------------------------------
# §7: exceptions swallowed by the engine

@pytest.mark.parametrize('exc', [ValueError('bad row'), SystemExit(3), KeyError('n')],
                         ids=['ValueError', 'SystemExit', 'KeyError'])
def test_an_exception_in_an_action_makes_the_evaluation_unusable(exc):
    b = RuleBook('boom')

    @b.rule('boom.r', (m.kind == 'x') & (m.n == 3), zh='炸', en='Boom')
    def r(f):
        raise exc

    with Evaluation([b]) as ev:
        with pytest.raises(RuleActionError, match=r"rule boom\.r failed: .*facts \[\('Rows', 3\)\]"
                           ) as info:
            ev.feed('boom', {'kind': 'x', 'n': 3}, key=('Rows', 3))
        assert info.value.__cause__ is exc
        assert ev.failed is info.value
        with pytest.raises(EvaluationUnusable):
            ev.feed('boom', {'kind': 'x', 'n': 3}, key=('Rows', 4))
        with pytest.raises(EvaluationUnusable):
            ev.reconcile()


def test_an_action_that_fails_while_its_result_is_consumed_fails_the_evaluation():
    b = RuleBook('gen')

    @b.rule('gen.r', m.kind == 'x', zh='生成', en='Generator')
    def r(f):
        yield ('ok', f['n'])
        raise ValueError('late')

    with Evaluation([b]) as ev:
        with pytest.raises(RuleActionError, match='late'):
            ev.feed('gen', {'kind': 'x', 'n': 1}, key=1)


def test_an_action_must_return_none_or_a_list():
    b = RuleBook('ret')

    @b.rule('ret.r', m.kind == 'x', zh='返回', en='Return')
    def r(f):
        return {'points': 1}

    with Evaluation([b]) as ev:
        with pytest.raises(RuleActionError, match='returned dict'):
            ev.feed('ret', {'kind': 'x'}, key=1)


def test_each_action_gets_its_own_plain_copy_of_the_fact():
    seen = []
    b = RuleBook('copies')

    @b.rule('copies.a', m.t == 'row', zh='甲', en='A')
    def a(row):
        seen.append(dict(row))
        row['t'] = 'changed'                # must not reach the next rule's copy
        row['extra'] = 1

    @b.rule('copies.b', m.t == 'row', zh='乙', en='B')
    def b_(row):
        seen.append(dict(row))

    fact = {'t': 'row', 'n': Decimal('1.5'), '说明': '中文 "quoted"'}
    with Evaluation([b]) as ev:
        fired = ev.feed('copies', fact, key='k')
    plain = {'t': 'row', 'n': 1.5, '说明': '中文 "quoted"'}       # no engine id / sid
    assert seen == [plain, plain]
    assert type(seen[0]['n']) is float
    assert fact == {'t': 'row', 'n': Decimal('1.5'), '说明': '中文 "quoted"'}     # untouched
    assert fired == [Activation(1, 'copies.a', ('k',), ()), Activation(2, 'copies.b', ('k',), ())]


def test_the_action_signature_must_fit_one_fact():
    with pytest.raises(RuleDefinitionError, match='one positional argument'):
        Rule('r.sig', 'x', 'x', m.t == 'a', two_args)
    with pytest.raises(RuleDefinitionError, match='def function'):
        Rule('r.lambda', 'x', 'x', m.t == 'a', lambda f: None)


def test_a_call_back_into_the_evaluation_from_an_action_is_refused():
    b = RuleBook('reenter')
    holder = []

    @b.rule('reenter.r', m.kind == 'x', zh='重入', en='Re-enter')
    def r(f):
        holder[0].feed('reenter', {'kind': 'x'}, key='inner')

    with Evaluation([b]) as ev:
        holder.append(ev)
        with pytest.raises(RuleActionError, match='re-entrant'):
            ev.feed('reenter', {'kind': 'x'}, key='outer')


def test_an_agenda_item_for_another_fact_than_the_one_fed_is_an_error():
    """A fact the layer did not feed cannot be in the engine; if one were (here: put there behind
    the layer's back), its firing must not be recorded as the fed row's."""
    with Evaluation([kinds_book()]) as ev:
        ev.feed('kinds', xrow(1), key=1)
        dre.assert_fact(ev._books['kinds'].handle,
                        json.dumps({'kind': 'x', 'n': 5, 'even': False, 'id': 'stray',
                                    'sid': 's0'}))
        with pytest.raises(EngineError, match=r'agenda item for another fact than the one fed '
                                              r'\(f2\): \{"k.any":\{"m":\{.*"id": "stray"'):
            ev.feed('kinds', xrow(3), key=3)
        assert isinstance(ev.failed, EngineError)


# ------------------------------------------------------------------------------------------------
# §8: a posted event fires one rule only. Rows are fed as facts: every rule they meet fires.

def test_one_row_fires_every_rule_it_matches_in_pri_then_id_order():
    with Evaluation([kinds_book()]) as ev:
        fired = ev.feed('kinds', xrow(200), key='r')
        assert fired == [Activation(1, 'k.big', ('r',), (('big', 200),)),
                         Activation(2, 'k.even', ('r',), (('even', 200),)),
                         Activation(3, 'k.any', ('r',), (('any', 200),))]   # pri 5 last


# ------------------------------------------------------------------------------------------------
# §9: slow actions

def test_an_action_over_the_time_budget_fails_the_evaluation():
    b = RuleBook('slow')

    @b.rule('slow.r', m.kind == 'x', zh='慢', en='Slow')
    def r(f):
        time.sleep(0.12)

    with Evaluation([b], action_budget=0.05) as ev:
        with pytest.raises(RuleActionError, match=r'rule slow\.r ran .* over the 0\.05 s action '
                                                  'budget'):
            ev.feed('slow', {'kind': 'x'}, key='row')
        assert isinstance(ev.failed, RuleActionError)
    with pytest.raises(ValueError, match="below the engine's 10 s"):
        Evaluation([b], action_budget=10)


# ------------------------------------------------------------------------------------------------
# §10: limits and resources

def _rss_mb() -> float:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024
    raise AssertionError('no VmRSS')


def test_close_frees_states_and_handles_over_1000_evaluations():
    b = kinds_book()
    base = _rss_mb()
    for i in range(1000):
        with Evaluation([b]) as ev:
            for j in range(10):
                ev.feed('kinds', xrow(j), key=j)
            handle = ev._books['kinds'].handle
        with pytest.raises(dre.error):               # the handle is deleted
            dre.get_facts(handle, 's0')
    # Leaking them measured +258 KB per evaluation (docs/engine.md §10): +250 MB here.
    assert _rss_mb() - base < 60


def test_an_evaluation_forgotten_without_close_is_freed_by_the_garbage_collector():
    ev = Evaluation([kinds_book()])
    ev.feed('kinds', xrow(1), key=1)
    handle = ev._books['kinds'].handle
    del ev
    gc.collect()
    with pytest.raises(dre.error):
        dre.get_facts(handle, 's0')


@pytest.mark.parametrize('rows', [['bad'], ['bad', 'good'], ['good', 'bad'], []])
def test_closing_after_refused_rows_does_not_crash(rows):
    """Found while writing these tests: durable_rules' delete_state kills the process (glibc
    "free(): invalid pointer") when the first fact asserted in the state was refused as not
    handled. The layer frees a state only once a fact was stored in it; this runs the case in
    a child so that a regression fails the test, not the test run."""
    def case():
        with Evaluation([kinds_book()]) as ev:
            for row in rows:
                try:
                    ev.feed('kinds', xrow(2) if row == 'good' else {'kind': 'y'}, key=row)
                except FactNotHandled:
                    pass
            rec = ev.reconcile()
        return rec.fed, rec.firings
    good = rows.count('good')
    assert Forked(case).result(timeout=60) == (good, 2 * good)


def test_a_child_whose_answer_cannot_be_written_says_why_and_is_not_called_a_crash(
        monkeypatch):
    """The child's answer goes into a temporary file: when that cannot be written (TMPDIR
    full), the child says why through its pipe, and the parent raises that error — not
    "crashed (exit code 1)", which would blame the engine for a full disk."""
    import io
    import tempfile

    from engine.isolation import ChildError

    class Full(io.BytesIO):
        def write(self, data):
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(tempfile, "TemporaryFile", lambda *a, **kw: Full())
    with pytest.raises(ChildError, match=r"^\[Errno 28\] No space left on device$") as e:
        Forked(lambda: 42).result(timeout=60)
    assert e.value.kind == "OSError"


def test_a_result_that_cannot_be_pickled_is_answered_as_the_error_it_is():
    """The child pickles its result straight into its answer file: when pickling fails after
    part of it was written (here a list bigger than a pickle frame, then a function), the
    answer is the error, written over that part — not a truncated answer, which the parent
    would call a crash."""
    from engine.isolation import ChildError

    with pytest.raises(ChildError, match="^cannot return the result: ") as e:
        Forked(lambda: [list(range(100_000)), lambda: 0]).result(timeout=60)
    assert e.value.kind in ("AttributeError", "PicklingError")   # local: not picklable
    big = list(range(100_000))
    assert Forked(lambda: big).result(timeout=60) == big


def test_an_answer_that_failed_midway_holds_only_the_error():
    import io
    import pickle

    from engine.isolation import _answer

    f = io.BytesIO()
    _answer(f, ("ok", [list(range(100_000)), lambda: 0]))
    status, (kind, message, _) = pickle.loads(f.getvalue())   # one pickle, nothing after it
    assert status == "error" and kind in ("AttributeError", "PicklingError")
    assert message.startswith("cannot return the result: ")
    assert len(f.getvalue()) == len(pickle.dumps(("error", (kind, message, ""))))


def test_closed_evaluations_refuse_calls_and_close_twice_is_harmless():
    ev = Evaluation([kinds_book()])
    ev.close()
    ev.close()
    with pytest.raises(EngineError, match='closed'):
        ev.feed('kinds', xrow(1), key=1)


# ------------------------------------------------------------------------------------------------
# §e: types

def test_values_are_checked_and_converted():
    b = RuleBook('types')

    @b.rule('types.r', (m.t == 'v') & (m.amount > 2) & (m.flag == True), zh='类型', en='Types')
    def r(f):
        return [f]

    with Evaluation([b]) as ev:
        base = {'t': 'v', 'amount': 3, 'flag': True}
        bad = [({'amount': None}, 'is None'),
               ({'amount': float('inf')}, 'not finite'),
               ({'amount': float('nan')}, 'not finite'),
               ({'amount': 2 ** 60}, 'beyond 2\\*\\*53'),
               ({'amount': '10'}, "amount='10' must be number"),      # '10' <= 2 as text
               ({'amount': True}, 'amount=True must be number'),      # True would be 1
               ({'flag': 1}, 'flag=1 must be bool'),
               ({'note': {'a': 1}}, 'has type dict'),
               ({'a.b': 1}, 'bad field name'),
               ({'$x': 1}, 'bad field name'),
               ({'amount': Decimal('Infinity')}, 'not finite'),
               ({'amount': Decimal('1e400')}, 'not finite')]
        for change, message in bad:
            with pytest.raises(FactError, match=message):
                ev.feed('types', {**base, **change}, key='bad')
        with pytest.raises(FactError, match='at most 250'):
            ev.feed('types', {**base, **{f'f{i}': i for i in range(260)}}, key='wide')
        fired = ev.feed('types', {**base, 'amount': Decimal('2.50'), '说明': '中文'}, key='ok')
        assert fired[0].outcomes == ({'t': 'v', 'amount': 2.5, 'flag': True, '说明': '中文'},)
        assert ev.reconcile().fed == 1


def test_unsafe_constants_and_conflicting_types_are_refused():
    with pytest.raises(RuleDefinitionError, match='None never matches'):
        Rule('r.none', 'x', 'x', m.x == None, one_arg)                      # noqa: E711
    with pytest.raises(RuleDefinitionError, match='non-finite'):
        Rule('r.inf', 'x', 'x', m.x > float('inf'), one_arg)
    with pytest.raises(RuleDefinitionError, match='compared both as number and as str'):
        Rule('r.mixed', 'x', 'x', (m.x > 1) & (m.x == 'a'), one_arg)
    b = RuleBook('mixed')
    b.add(Rule('a.num', 'x', 'x', m.x > 1, one_arg))
    with pytest.raises(RuleDefinitionError, match="compares field 'x' as str"):
        b.add(Rule('a.str', 'x', 'x', m.x == 'a', one_arg))


@pytest.mark.parametrize('value', [1e-05, -1e-05, 1e+16, 2e-07, 1.5e-07, 0.0001])
def test_floats_in_exponent_form_are_accepted(value):
    """The engine's JSON parser refuses `1e-05` and `1e+16` (an exponent without a decimal point:
    'Could not assert fact, error code: 204') — Python writes every one-digit float that way. The
    layer writes them as `1.0e-05`; the comparison then behaves as for any number."""
    h = dre.create_ruleset('raw_float', json.dumps({'r': {'all': [{'m': {'t': 'x'}}]}}))
    try:
        with pytest.raises(dre.error, match='204'):
            dre.assert_fact(h, '{"t":"x","v":1e-05,"id":"a","sid":"s0"}')
        assert dre.assert_fact(h, '{"t":"x","v":1.0e-05,"id":"b","sid":"s0"}')[0] == 0
    finally:
        dre.delete_state(h, 's0')
        dre.delete_ruleset(h)
    book = RuleBook('floats')

    @book.rule('nonneg', (m.t == 'x') & (m.v >= m.zero), zh='非负', en='non-negative')
    def nonneg(x):
        return [x['v']]

    @book.rule('neg', (m.t == 'x') & (m.v < m.zero), zh='负', en='negative')
    def neg(x):
        return [x['v']]

    with Evaluation([book]) as ev:
        got = ev.feed('floats', {'t': 'x', 'v': value, 'zero': 0}, key=('S', 2))
    assert [(f.rule_id, f.outcomes) for f in got] == [('nonneg' if value >= 0 else 'neg', (value,))]


# ------------------------------------------------------------------------------------------------
# Firing records and reconciliation

def test_firing_records_are_deterministic():
    def run():
        with Evaluation([kinds_book()]) as ev:
            for n in (1, 2, 150, 151, 2):
                ev.feed('kinds', xrow(n), key=('Rows', n))
            return list(ev.firings), ev.reconcile(require_fired=True)
    firings, rec = run()
    assert [(f.seq, f.rule_id, f.fact_keys) for f in firings] == [
        (1, 'k.any', (('Rows', 1),)),
        (2, 'k.even', (('Rows', 2),)), (3, 'k.any', (('Rows', 2),)),
        (4, 'k.big', (('Rows', 150),)), (5, 'k.even', (('Rows', 150),)),
        (6, 'k.any', (('Rows', 150),)),
        (7, 'k.big', (('Rows', 151),)), (8, 'k.any', (('Rows', 151),)),
        (9, 'k.even', (('Rows', 2),)), (10, 'k.any', (('Rows', 2),))]
    assert (rec.fed, rec.firings, rec.unfired) == (5, 10, ())
    assert run() == (firings, rec)


def test_keep_firings_false_returns_firings_only_from_the_calls():
    with Evaluation([kinds_book()], keep_firings=False) as ev:
        fired = ev.feed('kinds', xrow(2), key='r')
        assert [f.rule_id for f in fired] == ['k.even', 'k.any']
        assert ev.firings == []
        assert ev.reconcile().firings == 2


def test_reconcile_reports_what_the_engine_holds_behind_the_layers_back():
    with Evaluation([kinds_book()]) as ev:
        ev.feed('kinds', xrow(1), key=1)
        h = ev._books['kinds'].handle
        dre.assert_fact(h, json.dumps({'kind': 'x', 'n': 5, 'even': False, 'id': 'stray',
                                       'sid': 's0'}))
        with pytest.raises(ReconciliationError, match='an action is pending') as info:
            ev.reconcile()
        assert info.value.problems[1:] == ['book kinds: 1 fact(s) stored, none expected']


def test_require_fired_catches_a_row_whose_firings_were_lost(monkeypatch):
    """Every fed row meets some rule's condition (else FactNotHandled), so it fires: a row that
    fired nothing means the engine lost its agenda. Simulated here by dropping the firings."""
    drain = Evaluation._drain

    def lossy(self, bk, mid, keys, fact, out):
        drain(self, bk, mid, keys, fact, out)
        out.clear()

    monkeypatch.setattr(Evaluation, '_drain', lossy)
    with Evaluation([kinds_book()]) as ev:
        ev.feed('kinds', xrow(1), key=('Rows', 7))
        assert ev.reconcile().unfired == (('Rows', 7),)
        with pytest.raises(ReconciliationError, match=r"1 fed row\(s\) fired no rule: "
                                                      r"\('Rows', 7\)"):
            ev.reconcile(require_fired=True)


def test_rule_ids_must_be_unique_across_books():
    a, b = RuleBook('a'), RuleBook('b')
    a.add(Rule('same.id', 'x', 'x', m.t == 'a', one_arg))
    b.add(Rule('same.id', 'x', 'x', m.t == 'b', one_arg))
    with pytest.raises(RuleDefinitionError, match='same.id is in books a and b'):
        Evaluation([a, b])
    with pytest.raises(RuleDefinitionError, match='declared twice'):
        a.add(Rule('same.id', 'x', 'x', m.t == 'c', one_arg))


def test_or_condition_fires_once_per_match():
    """durable_rules turns `a | b` into one path per side: a fact meeting both sides would fire
    the rule twice (found by the differential test: duplicate rejections). The layer fires a
    rule once per fact."""
    book = RuleBook('orbook')

    @book.rule('either', (m.t == 'row') & ((m.a == True) | (m.b == True)), zh='任一', en='either')
    def either(row):
        return [{'hit': row['n']}]

    @book.rule('neither', (m.t == 'row') & (m.a == False) & (m.b == False), zh='都不', en='neither')
    def neither(row):
        return None

    with Evaluation([book]) as ev:
        both = ev.feed('orbook', {'t': 'row', 'a': True, 'b': True, 'n': 1}, key=('S', 2))
        one = ev.feed('orbook', {'t': 'row', 'a': False, 'b': True, 'n': 2}, key=('S', 3))
        none_ = ev.feed('orbook', {'t': 'row', 'a': False, 'b': False, 'n': 3}, key=('S', 4))
        rec = ev.reconcile(require_fired=True)
    assert [(f.rule_id, f.outcomes) for f in both] == [('either', ({'hit': 1},))]
    assert [(f.rule_id, f.outcomes) for f in one] == [('either', ({'hit': 2},))]
    assert [f.rule_id for f in none_] == ['neither']
    assert rec.by_rule == {'either': 2, 'neither': 1}


# ------------------------------------------------------------------------------------------------
# The fallback rule: "accepted" by construction

def screening_book() -> RuleBook:
    """Four rejections of 'r' facts and the accept, as a fallback on every 'r' fact."""
    b = RuleBook('screen')

    @b.rule('R_NEG', (m.t == 'r') & (m.points < 0), zh='负分', en='Negative')
    def neg(r):
        return [{'exception': 'R_NEG'}]

    @b.rule('R_OVER', (m.t == 'r') & (m.points > m.cap), zh='超限', en='Over the cap')
    def over(r):
        return [{'exception': 'R_OVER'}]

    @b.rule('R_BLANK', (m.t == 'r') & (m.blank == True), zh='空', en='Blank')
    def blank(r):
        return None                         # a firing without outcome is still a firing

    @b.rule('R_SELF', (m.t == 'r') & ((m.a == m.b) | (m.a == 'me')), zh='自己', en='Self',
            pri=3)
    def self_(r):
        return [{'exception': 'R_SELF'}]

    @b.fallback('r.accept', m.t == 'r', zh='采纳', en='Accepted')
    def accept(r):
        return [{'note': 'accepted'}]

    return b


def rejections(f: dict) -> list[str]:
    """The rejections a fact of screening_book must fire, in firing order (pri, then rule id),
    decided here in Python, independently of the engine."""
    hit = [rid for rid, bad in (('R_BLANK', f['blank']), ('R_NEG', f['points'] < 0),
                                ('R_OVER', f['points'] > f['cap'])) if bad]
    return hit + (['R_SELF'] if f['a'] == f['b'] or f['a'] == 'me' else [])


screening_facts = st.lists(st.fixed_dictionaries({
    't': st.just('r'), 'points': st.integers(-3, 12), 'cap': st.integers(0, 10),
    'blank': st.booleans(), 'a': st.sampled_from(['x', 'y', 'me']),
    'b': st.sampled_from(['x', 'y', 'me'])}), max_size=30)


@settings(max_examples=60, deadline=None)
@given(screening_facts)
def test_the_fallback_fires_exactly_when_no_other_rule_fired(facts):
    with Evaluation([screening_book()]) as ev:
        got = [ev.feed('screen', f, key=i) for i, f in enumerate(facts)]
        rec = ev.reconcile(require_fired=True)
    seq = 0
    for i, (f, firings) in enumerate(zip(facts, got)):
        want = rejections(f) or ['r.accept']
        assert [a.rule_id for a in firings] == want
        assert [a.seq for a in firings] == list(range(seq + 1, seq + 1 + len(want)))
        assert all(a.fact_keys == (i,) for a in firings)
        seq += len(want)
    accepted = sum(not rejections(f) for f in facts)
    assert rec.by_rule['r.accept'] == accepted
    assert rec.firings == seq and rec.fed == len(facts) and rec.unfired == ()


def test_the_fallback_is_the_last_firing_of_its_fact_and_numbered_in_order():
    with Evaluation([screening_book()]) as ev:
        ok = {'t': 'r', 'points': 3, 'cap': 5, 'blank': False, 'a': 'x', 'b': 'y'}
        got = [ev.feed('screen', ok, key='ok1'),
               ev.feed('screen', dict(ok, points=-1, blank=True, a='y'), key='bad'),
               ev.feed('screen', ok, key='ok2')]
        assert got == [
            [Activation(1, 'r.accept', ('ok1',), ({'note': 'accepted'},))],
            [Activation(2, 'R_BLANK', ('bad',), ()),
             Activation(3, 'R_NEG', ('bad',), ({'exception': 'R_NEG'},)),
             Activation(4, 'R_SELF', ('bad',), ({'exception': 'R_SELF'},))],
            [Activation(5, 'r.accept', ('ok2',), ({'note': 'accepted'},))]]
        assert ev.firings == [a for g in got for a in g]
        assert ev.reconcile().by_rule == {'R_BLANK': 1, 'R_NEG': 1, 'R_OVER': 0, 'R_SELF': 1,
                                          'r.accept': 2}


def test_a_fact_meeting_only_the_fallbacks_condition_is_handled():
    b = RuleBook('narrow')

    @b.rule('n.big', (m.t == 'n') & (m.v > 10), zh='大', en='Big')
    def big(f):
        return None

    @b.fallback('n.ok', (m.t == 'n') & (m.v >= 0) & ((m.v < 3) | (m.v > 5)), zh='好', en='OK')
    def ok(f):
        return [f['v']]

    with Evaluation([b]) as ev:
        assert [(a.rule_id, a.outcomes) for a in ev.feed('narrow', {'t': 'n', 'v': 1}, key=1)] \
            == [('n.ok', (1,))]                 # meets only the fallback's condition
        assert [a.rule_id for a in ev.feed('narrow', {'t': 'n', 'v': 12}, key=2)] == ['n.big']
        with pytest.raises(FactNotHandled):      # meets no condition at all
            ev.feed('narrow', {'t': 'n', 'v': 4}, key=3)
        assert ev.reconcile(require_fired=True).by_rule == {'n.big': 1, 'n.ok': 1}


def test_a_failing_fallback_makes_the_evaluation_unusable():
    b = RuleBook('fb_boom')

    @b.fallback('fb.boom', m.t == 'x', zh='炸', en='Boom')
    def boom(f):
        raise ValueError('no')

    with Evaluation([b]) as ev:
        with pytest.raises(RuleActionError, match=r"rule fb\.boom failed: ValueError: no"):
            ev.feed('fb_boom', {'t': 'x'}, key=1)
        with pytest.raises(EvaluationUnusable):
            ev.reconcile()


def test_a_fallback_is_declared_once_per_book_and_always_runs_last():
    b = RuleBook('twice')
    b.fallback('fb.one', m.t == 'a', zh='一', en='One')(one_arg)
    with pytest.raises(RuleDefinitionError, match='a second fallback, fb.two'):
        b.fallback('fb.two', m.t == 'b', zh='二', en='Two')(one_arg)
    with pytest.raises(RuleDefinitionError, match='fallback runs after every other rule'):
        Rule('fb.pri', 'x', 'x', m.t == 'a', one_arg, pri=0, fallback=True)
    with pytest.raises(RuleDefinitionError, match='docs/engine.md §5'):
        RuleBook('j').fallback('fb.join', [m.t == 'a', m.t == 'b'], zh='x', en='x')(two_args)
    assert [(r.rule_id, r.pri, r.fallback) for r in b.rules] == [('fb.one', 65535, True)]


def hold_book() -> RuleBook:
    """A rating-like book: two triggers, a hold on one fact, and `h.count`, the fallback of
    `h.hold` only (it fires whether or not a trigger fired, unless the hold did)."""
    b = RuleBook('holds')

    @b.rule('H_HIGH', (m.t == 'h') & (m.v >= 8), zh='高', en='High')
    def high(f):
        return [{'exception': 'H_HIGH'}]

    @b.rule('H_LOW', (m.t == 'h') & (m.v <= 1), zh='低', en='Low')
    def low(f):
        return [{'exception': 'H_LOW'}]

    @b.rule('h.hold', (m.t == 'h') & (m.v >= 8) & (m.held == True), pri=1, zh='暂缓', en='Held')
    def hold(f):
        return [{'note': 'held'}]

    @b.fallback('h.count', m.t == 'h', unless=('h.hold',), zh='计入', en='Counted')
    def count(f):
        return [{'note': 'counted'}]

    return b


def test_a_fallback_of_named_rules_fires_exactly_when_none_of_them_fired():
    facts = [{'t': 'h', 'v': 5, 'held': False},     # nothing else: counted
             {'t': 'h', 'v': 9, 'held': False},     # a trigger, no hold: counted after it
             {'t': 'h', 'v': 9, 'held': True},      # trigger and hold: not counted
             {'t': 'h', 'v': 0, 'held': True}]      # another trigger, no hold: counted
    with Evaluation([hold_book()]) as ev:
        got = [[a.rule_id for a in ev.feed('holds', f, key=i)] for i, f in enumerate(facts)]
        rec = ev.reconcile(require_fired=True)
    assert got == [['h.count'], ['H_HIGH', 'h.count'], ['H_HIGH', 'h.hold'], ['H_LOW', 'h.count']]
    assert rec.by_rule == {'H_HIGH': 2, 'H_LOW': 1, 'h.hold': 1, 'h.count': 3}


def test_a_fallback_of_named_rules_is_declared_after_them_and_meets_no_other_fallback():
    b = RuleBook('unless')
    with pytest.raises(RuleDefinitionError, match='not rules of the book declared before it'):
        b.fallback('u.count', m.t == 'u', unless=('u.hold',), zh='计', en='Count')(one_arg)
    with pytest.raises(RuleDefinitionError, match='only a fallback names rules'):
        Rule('u.x', 'x', 'x', m.t == 'u', one_arg, unless=frozenset({'u.hold'}))
    with pytest.raises(RuleDefinitionError, match='unless names other rules of its book'):
        b.fallback('u.self', m.t == 'u', unless=('u.self',), zh='x', en='x')(one_arg)
    b.rule('u.hold', (m.t == 'u') & (m.v > 1), zh='缓', en='Hold')(one_arg)
    b.fallback('u.count', m.t == 'u', unless=('u.hold',), zh='计', en='Count')(one_arg)
    b.fallback('u.any', m.t == 'w', zh='全', en='Any')(one_arg)   # the book's own fallback
    with Evaluation([b]) as ev:
        assert [a.rule_id for a in ev.feed('unless', {'t': 'w', 'v': 0}, key=1)] == ['u.any']
    c = RuleBook('clash')
    c.rule('c.hold', (m.t == 'u') & (m.v > 1), zh='缓', en='Hold')(one_arg)
    c.fallback('c.count', m.t == 'u', unless=('c.hold',), zh='计', en='Count')(one_arg)
    c.fallback('c.any', m.v >= 0, zh='全', en='Any')(one_arg)
    with Evaluation([c]) as ev:
        with pytest.raises(EngineError, match='two fallbacks'):
            ev.feed('clash', {'t': 'u', 'v': 0}, key=1)


def test_the_rules_version_tells_which_rules_a_fallback_stands_in_for():
    def book(unless) -> RuleBook:
        b = RuleBook('ver')
        b.rule('v.a', (m.t == 'a') & (m.n > 1), zh='一', en='One')(act_v1)
        b.rule('v.b', (m.t == 'a') & (m.n > 2), zh='二', en='Two')(act_v1)
        b.fallback('v.c', m.t == 'a', unless=unless, zh='三', en='Three')(act_v1)
        return b
    assert len({rules_version([book(None)]), rules_version([book(('v.a',))]),
                rules_version([book(('v.a', 'v.b'))])}) == 3


def test_the_rules_version_tells_a_fallback_from_a_last_rule():
    def book(fallback: bool) -> RuleBook:
        b = RuleBook('ver')
        b.add(Rule('v.r', '一', 'One', m.t == 'a', act_v1, pri=65535, fallback=fallback))
        return b
    assert rules_version([book(True)]) != rules_version([book(False)])


# ------------------------------------------------------------------------------------------------
# Rules version (§f)

def act_v1(f):
    return [('v', f['n'])]


def act_v2(f):
    return [('v', f['n'] + 1)]


def versioned(*, action=act_v1, threshold=100, pri_=0, zh='大数', order=1) -> RuleBook:
    b = RuleBook('ver')
    rules = [Rule('ver.big', zh, 'Big', (m.kind == 'x') & (m.n > threshold), action, pri_),
             Rule('ver.any', '任何', 'Any', m.kind == 'x', act_v1)]
    for r in rules[::order]:
        b.add(r)
    return b


def test_rules_version_changes_with_conditions_and_action_sources_only():
    v = rules_version([versioned()])
    assert len(v) == 64
    assert rules_version([versioned()]) == v
    assert rules_version([versioned(zh='很大的数')]) == v          # descriptions: no
    assert rules_version([versioned(order=-1)]) == v             # declaration order: no
    assert rules_version([versioned(action=act_v2)]) != v        # action source: yes
    assert rules_version([versioned(threshold=101)]) != v        # condition: yes
    assert rules_version([versioned(pri_=1)]) != v               # priority: yes


def test_rules_version_of_a_book_is_pinned():
    """The version stored with each run: a change of its recipe would make old runs look like
    they ran other rules. Pinned to the value this book had before the layer's split."""
    b = RuleBook('pinned')

    @b.rule('p.big', (m.kind == 'x') & (m.n > 100), zh='大数', en='Big', pri=2)
    def big(f):
        return [('big', f['n'])]

    assert rules_version([b]) == PINNED_VERSION


PINNED_VERSION = 'a5456d7d666740017458b05c42cc7ea5fe545e272e17253fecb41bf43ee25862'


def test_decorator_lines_are_not_part_of_the_action_hash():
    def book(zh: str) -> RuleBook:
        b = RuleBook('deco')

        @b.rule('deco.r', m.kind == 'x', zh=zh, en='Same')
        def r(f):
            return None

        return b

    assert rules_version([book('一')]) == rules_version([book('二')])


# ------------------------------------------------------------------------------------------------
# The package's tutorial (engine/__init__.py) runs and prints what it says it prints

def test_the_tutorial_example_prints_what_it_shows(tmp_path, capsys):
    doc = engine.__doc__
    code = doc.split('is a rejection, and a row that no check rejected is accepted::\n')[1]
    code, shown = code.split('\nprints::\n')
    shown = shown.split('\n\n')[0].strip('\n')
    example = tmp_path / 'tutorial_example.py'
    example.write_text(textwrap.dedent(code), encoding='utf-8')
    runpy.run_path(str(example))
    assert capsys.readouterr().out == textwrap.dedent(shown) + '\n'

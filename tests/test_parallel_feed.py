"""Evaluation.feed_many and feed_batches on several processes (engine/parallel.py): the same
firings, seq numbers, counts and results as feeding row by row in one process — for an engine
book with several firings per row and a fallback rule, for batches fed ahead while the caller
feeds its own rows between them, and for whole ledgers — and a failing or crashing worker
makes the evaluation unusable instead of losing its rows."""
from __future__ import annotations

import os
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import (EngineError, Evaluation, EvaluationUnusable, FactError, RuleActionError,
                    RuleBook, m)
from evaluator.evaluate import evaluate_ledger
from rules.policy import load_policy
from tests.ledgers import PERIOD, random_decisions, random_ledger


def no_child_left() -> None:
    """Every process this one forked has ended and been reaped: none is left behind."""
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)


def mixed_book() -> RuleBook:
    """Several firings per row, firings without outcomes, a fallback for rows no other rule
    fired on, and an action that raises on demand."""
    b = RuleBook('mixed')

    @b.rule('x.big', (m.t == 'row') & (m.n > 10), zh='大', en='Big')
    def big(r):
        return [('big', r['n'])]

    @b.rule('x.odd', (m.t == 'row') & (m.odd == True) & (m.n > 0), zh='奇', en='Odd')
    def odd(r):
        return [('odd', r['emp'])] if r['emp'] != 'Z' else None

    @b.rule('x.nothing', (m.t == 'row') & (m.n < 0), zh='无', en='Nothing', pri=7)
    def nothing(r):
        return None

    @b.rule('x.boom', (m.t == 'row') & (m.boom == True), zh='炸', en='Boom')
    def boom(r):
        raise ValueError(f"row {r['n']} exploded")

    @b.fallback('x.accept', m.t == 'row', zh='采纳', en='Accepted')
    def accept(r):
        return [('accepted', r['n'])]

    return b


def rows(n: int, seed: int) -> list[tuple[dict, tuple]]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        v = rnd.randint(-5, 30)
        out.append(({'t': 'row', 'n': v, 'odd': v % 2 == 1, 'emp': rnd.choice('ABCZ'),
                     'boom': False}, ('Rows', i)))
    return out


def run(rows_, workers, min_rows=1, batches=1):
    with Evaluation([mixed_book()], workers=workers, min_parallel_rows=min_rows) as ev:
        got = []
        size = -(-len(rows_) // batches)
        for i in range(0, len(rows_), size):
            got += ev.feed_many('mixed', rows_[i:i + size])
            got.append(ev.feed('mixed', {'t': 'row', 'n': 3, 'odd': True, 'emp': 'A',
                                         'boom': False}, key=('Between', i)))
        return got, list(ev.firings), ev.reconcile(require_fired=True)


@pytest.mark.parametrize('workers,batches', [(2, 1), (3, 1), (4, 3), (7, 2)])
def test_parallel_feeding_equals_feeding_row_by_row(workers, batches):
    data = rows(200, seed=workers)
    one, one_all, one_rec = run(data, workers=1, batches=batches)
    many, many_all, many_rec = run(data, workers=workers, batches=batches)
    assert many == one
    assert many_all == one_all
    assert many_rec == one_rec
    assert [f.seq for f in many_all] == list(range(1, len(many_all) + 1))
    # known without the engine: the fallback fired on exactly the rows no other rule took
    accepted = [key for row, key in data
                if not (row['n'] > 10 or row['n'] < 0 or (row['odd'] and row['n'] > 0))]
    assert [f.fact_keys[0] for f in many_all
            if f.rule_id == 'x.accept' and f.fact_keys[0][0] == 'Rows'] == accepted
    assert many_rec.by_rule['x.accept'] == len(accepted)
    assert many_rec.fed == 200 + batches and many_rec.unfired == ()


def pid_book() -> RuleBook:
    b = RuleBook('pids')

    @b.rule('p.where', m.t == 'row', zh='进程', en='Process')
    def where(r):
        return [os.getpid()]            # which process fed the row

    return b


@pytest.mark.parametrize('n,workers,processes', [(49, 4, 1), (99, 4, 3), (100, 4, 4),
                                                 (250, 2, 2), (100, 1, 1)])
def test_feed_many_gives_each_process_at_least_min_parallel_rows(n, workers, processes):
    with Evaluation([pid_book()], workers=workers, min_parallel_rows=25) as ev:
        got = ev.feed_many('pids', [({'t': 'row', 'n': i}, i) for i in range(n)])
    pids = [f.outcomes[0] for fs in got for f in fs]
    assert len(pids) == n
    assert len(set(pids)) == processes
    assert pids[0] == os.getpid()                  # this process feeds the first chunk
    # consecutive chunks: each process's rows form one run
    runs = [p for i, p in enumerate(pids) if i == 0 or pids[i - 1] != p]
    assert len(runs) == processes


@pytest.mark.parametrize('workers', [1, 2, 3])
def test_rows_made_by_the_process_that_feeds_them_equal_rows_given(workers):
    """feed_many(items, make): each process makes the rows of its own chunk — this one makes
    only its first chunk's (counted here: a worker's calls happen in its own copy) — and the
    firings, seq numbers and counts are those of the rows made first and given."""
    data = rows(120, seed=11)
    items = list(range(len(data)))
    made_here = []

    def make(i):
        made_here.append(i)
        return data[i]

    with Evaluation([mixed_book()], workers=workers, min_parallel_rows=1) as ev:
        made = ev.feed_many('mixed', items, make)
        made_all, made_rec = list(ev.firings), ev.reconcile(require_fired=True)
    with Evaluation([mixed_book()], workers=1) as ev:
        given = ev.feed_many('mixed', data)
        given_all, given_rec = list(ev.firings), ev.reconcile(require_fired=True)
    assert (made, made_all, made_rec) == (given, given_all, given_rec)
    assert made_rec.fed == 120
    # the first chunk is this process's: 120 / workers rows, made here and only here
    assert made_here == items[:-(-120 // workers)]


def test_a_worker_killed_while_feeding_made_rows_names_its_first_row(monkeypatch):
    monkeypatch.setenv('XIETONG_FAULT', 'segv:worker')
    data = rows(90, seed=4)
    with Evaluation([mixed_book()], workers=2, min_parallel_rows=1) as ev:
        with pytest.raises(EngineError, match=r"worker died \(signal SIGSEGV\) while feeding "
                                              r"45 row\(s\) from \('Rows', 45\)"):
            ev.feed_many('mixed', list(range(90)), data.__getitem__)


def test_an_action_failing_in_a_worker_fails_the_evaluation():
    data = rows(100, seed=3)
    data[80] = ({'t': 'row', 'n': 1, 'odd': True, 'emp': 'A', 'boom': True}, ('Rows', 80))
    with Evaluation([mixed_book()], workers=2, min_parallel_rows=1) as ev:
        with pytest.raises(RuleActionError, match=r"x.boom failed: ValueError: row 1 exploded"):
            ev.feed_many('mixed', data)
        assert ev.failed is not None
        with pytest.raises(EvaluationUnusable):
            ev.feed('mixed', data[0][0], key='again')


def test_a_worker_killed_by_a_signal_fails_the_evaluation(monkeypatch):
    monkeypatch.setenv('XIETONG_FAULT', 'segv:worker')
    with Evaluation([mixed_book()], workers=3, min_parallel_rows=1) as ev:
        with pytest.raises(EngineError, match=r"worker died \(signal SIGSEGV\) while feeding "
                                              r"\d+ row\(s\) from \('Rows', \d+\)"):
            ev.feed_many('mixed', rows(90, seed=4))
        assert ev.failed is not None
    no_child_left()


def test_a_failure_in_this_process_stops_the_workers():
    data = rows(100, seed=5)
    data[3] = ({'t': 'row', 'n': 1, 'odd': True, 'emp': 'A', 'boom': True}, ('Rows', 3))
    with Evaluation([mixed_book()], workers=2, min_parallel_rows=1) as ev:
        with pytest.raises(RuleActionError, match='row 1 exploded'):
            ev.feed_many('mixed', data)
    no_child_left()


def _same(a, b):
    assert a.adjustments == b.adjustments
    assert a.exceptions == b.exceptions
    assert a.trace == b.trace
    assert a.counts == b.counts
    assert (a.departments, a.employees) == (b.departments, b.employees)


@pytest.mark.parametrize('seed', [11, 12, 13])
def test_a_ledger_evaluated_on_several_processes_equals_one_process(seed):
    ledger = random_ledger(seed, 4).build()
    policy = load_policy()
    one = evaluate_ledger(ledger.rows, policy, PERIOD, workers=1)
    two = evaluate_ledger(ledger.rows, policy, PERIOD, workers=2, min_parallel_rows=1)
    three = evaluate_ledger(ledger.rows, policy, PERIOD, workers=3, min_parallel_rows=1)
    _same(one, two)
    _same(one, three)
    decisions = random_decisions(one.exceptions, seed)
    _same(evaluate_ledger(ledger.rows, policy, PERIOD, decisions, workers=1),
          evaluate_ledger(ledger.rows, policy, PERIOD, decisions, workers=2, min_parallel_rows=1))


def test_workers_default_from_the_environment(monkeypatch):
    from evaluator.evaluate import default_workers
    monkeypatch.setenv('XIETONG_WORKERS', '3')
    assert default_workers() == 3
    monkeypatch.setenv('XIETONG_WORKERS', '0')          # malformed: the cores, at most 4
    assert 1 <= default_workers() <= 4
    monkeypatch.delenv('XIETONG_WORKERS')
    assert default_workers() == max(1, min(len(os.sched_getaffinity(0)), 4))


def test_an_evaluation_crosses_the_pipe_unchanged():
    """Evaluated pickles its trace as columns (the evaluation's child sends it back)."""
    import pickle
    from rules.context import TraceEntry
    ledger = random_ledger(21, 3).build()
    got = evaluate_ledger(ledger.rows, load_policy(), PERIOD)
    back = pickle.loads(pickle.dumps(got, protocol=pickle.HIGHEST_PROTOCOL))
    assert back == got and len(back.trace) > 50
    assert all(type(t) is TraceEntry for t in back.trace)
    from evaluator.evaluate import Evaluated
    empty = Evaluated(PERIOD, [], [], [], {}, {}, {"firings": 0})
    assert pickle.loads(pickle.dumps(empty)) == empty


def test_a_fact_checker_plan_still_refuses_out_of_range_numbers():
    """The checker's fast path for facts shaped like earlier ones keeps the per-value checks."""
    with Evaluation([mixed_book()]) as ev:
        ok = {'t': 'row', 'n': 3, 'emp': 'A', 'boom': False, 'w': 1.5}
        for i in range(3):
            ev.feed('mixed', dict(ok), key=i)
        with pytest.raises(FactError, match=r"n=9007199254740993 is beyond 2\*\*53"):
            ev.feed('mixed', dict(ok, n=2 ** 53 + 1), key='big')
        with pytest.raises(FactError, match=r"w=inf is not finite"):
            ev.feed('mixed', dict(ok, w=float('inf')), key='inf')
        with pytest.raises(FactError, match=r"n=True must be number"):
            ev.feed('mixed', dict(ok, n=True), key='bool')


def test_a_fact_checker_plan_converts_decimals_like_the_first_fact():
    from decimal import Decimal
    with Evaluation([mixed_book()]) as ev:
        got = [ev.feed('mixed', {'t': 'row', 'n': 12, 'emp': 'A', 'boom': False,
                                 'w': Decimal(x)}, key=x) for x in ('1.5', '2.25', '0.1')]
        assert [ev._books['mixed'].clean({'t': 'row', 'w': Decimal(x)}, 'k')['w']
                for x in ('1.5', '0.1')] == [1.5, 0.1]
        assert [[(a.rule_id, a.outcomes) for a in g] for g in got] == \
            [[('x.big', (('big', 12),))]] * 3
        with pytest.raises(FactError, match=r"w=1E\+400 is not finite as a float"):
            ev.feed('mixed', {'t': 'row', 'n': 12, 'emp': 'A', 'boom': False,
                              'w': Decimal('1e400')}, key='huge')


# --------------------------------------------------------------------- feed_batches: one ahead

def run_batches(rows_, workers, sizes, min_rows=10):
    """rows_ fed in batches of `sizes` through feed_batches, a row fed by the caller after
    each batch it is handed (its firings numbered between the batches'); what came back."""
    def batches():
        at = 0
        for size in sizes:
            yield rows_[at:at + size]
            at += size

    with Evaluation([mixed_book()], workers=workers, min_parallel_rows=min_rows) as ev:
        got = []
        for i, (batch, fired) in enumerate(ev.feed_batches('mixed', batches())):
            assert len(fired) == len(batch)
            got += fired
            got.append(ev.feed('mixed', {'t': 'row', 'n': 12, 'odd': False, 'emp': 'A',
                                         'boom': False}, key=('Between', i)))
        return got, list(ev.firings), ev.reconcile(require_fired=True)


@pytest.mark.parametrize('workers,sizes', [(1, [40, 40, 40]), (2, [40, 5, 60, 15]),
                                           (3, [100, 100]), (2, [9, 9, 100, 1])])
def test_batches_fed_ahead_equal_feeding_row_by_row(workers, sizes):
    """Batches of 10 rows or more fed by forked workers while the caller feeds its own rows
    between them; smaller ones fed here: the same firings, seq numbers, counts and unfired
    rows as one process feeding them all in that order."""
    data = rows(sum(sizes), seed=sum(sizes) + workers)
    ahead, ahead_all, ahead_rec = run_batches(data, workers, sizes)
    with Evaluation([mixed_book()], workers=1) as ev:
        one, at = [], 0
        for i, size in enumerate(sizes):
            one += [ev.feed('mixed', row, key=key) for row, key in data[at:at + size]]
            at += size
            one.append(ev.feed('mixed', {'t': 'row', 'n': 12, 'odd': False, 'emp': 'A',
                                         'boom': False}, key=('Between', i)))
        one_all, one_rec = list(ev.firings), ev.reconcile(require_fired=True)
    assert (ahead, ahead_all, ahead_rec) == (one, one_all, one_rec)
    assert [f.seq for f in ahead_all] == list(range(1, len(ahead_all) + 1))
    # the caller's row after each batch: x.big fired on it, numbered after the batch's firings
    between = [f for f in ahead_all if f.fact_keys[0][0] == 'Between']
    assert [f.fact_keys[0] for f in between] == [('Between', i) for i in range(len(sizes))]
    assert ahead_rec.fed == sum(sizes) + len(sizes)


def test_the_next_batch_is_taken_and_fed_elsewhere_before_this_one_is_handed_on():
    """What feed_batches does with three batches of 30, 30 and 5 rows on two cores: each batch
    of 25 rows or more is fed by two forked workers (never this process), the next batch is
    taken before this one is handed on, and the small last batch is fed here."""
    events = []

    def batches():
        for b, n in enumerate((30, 30, 5)):
            events.append(('taken', b))
            yield [({'t': 'row', 'n': b * 100 + i}, (b, i)) for i in range(n)]

    with Evaluation([pid_book()], workers=2, min_parallel_rows=15) as ev:
        fed_by = []
        for batch, fired in ev.feed_batches('pids', batches()):
            b = batch[0][1][0]
            events.append(('handed', b))
            fed_by.append([f.outcomes[0] for fs in fired for f in fs])
    assert events == [('taken', 0), ('taken', 1), ('handed', 0), ('taken', 2), ('handed', 1),
                      ('handed', 2)]
    me = os.getpid()
    for pids in fed_by[:2]:
        assert len(pids) == 30 and me not in pids and len(set(pids)) == 2
        assert pids[:15] == [pids[0]] * 15 and pids[15:] == [pids[15]] * 15
    assert fed_by[2] == [me] * 5


def test_a_caller_that_stops_early_stops_the_workers_feeding_the_next_batch():
    def batches():
        for b in range(5):
            yield [({'t': 'row', 'n': b * 100 + i}, (b, i)) for i in range(40)]

    with Evaluation([pid_book()], workers=2, min_parallel_rows=10) as ev:
        fed = ev.feed_batches('pids', batches())
        batch, fired = next(fed)
        assert len(fired) == 40
        fed.close()                              # batch 1's workers were feeding it
        no_child_left()                          # stopped and reaped
        # nothing of batch 1 was counted: 40 rows fed, 40 firings
        assert ev.reconcile().fed == 40 and ev.reconcile().firings == 40


def test_a_worker_killed_while_feeding_a_batch_ahead_fails_the_evaluation(monkeypatch):
    monkeypatch.setenv('XIETONG_FAULT', 'segv:worker')
    data = rows(60, seed=8)
    with Evaluation([mixed_book()], workers=2, min_parallel_rows=10) as ev:
        with pytest.raises(EngineError, match=r"worker died \(signal SIGSEGV\) while feeding "
                                              r"15 row\(s\) from \('Rows', 0\)"):
            for _ in ev.feed_batches('mixed', [data[:30], data[30:]]):
                pass
        assert ev.failed is not None
    no_child_left()


def test_an_action_failing_in_a_batch_fed_ahead_fails_the_evaluation_in_its_turn():
    data = rows(60, seed=9)
    data[45] = ({'t': 'row', 'n': 1, 'odd': True, 'emp': 'A', 'boom': True}, ('Rows', 45))
    with Evaluation([mixed_book()], workers=2, min_parallel_rows=10) as ev:
        fed = ev.feed_batches('mixed', [data[:30], data[30:]])
        batch, fired = next(fed)                 # the first batch is whole
        assert len(fired) == 30
        with pytest.raises(RuleActionError, match=r"x.boom failed: ValueError: row 1 exploded"):
            next(fed)
        assert ev.failed is not None
    no_child_left()


@pytest.mark.parametrize('seed', [14, 15])
def test_a_ledger_fed_in_small_batches_ahead_equals_one_process(seed, monkeypatch):
    """Whole ledgers through rules.context.feed_each with batches of 7 items: many batches
    fed ahead on two and three processes, the rules' own feeds in between."""
    import rules.context
    ledger = random_ledger(seed, 4).build()
    policy = load_policy()
    one = evaluate_ledger(ledger.rows, policy, PERIOD, workers=1)
    monkeypatch.setattr(rules.context, "FEED_BATCH", 7)
    _same(one, evaluate_ledger(ledger.rows, policy, PERIOD, workers=2, min_parallel_rows=3))
    _same(one, evaluate_ledger(ledger.rows, policy, PERIOD, workers=3, min_parallel_rows=2))
    decisions = random_decisions(one.exceptions, seed)
    _same(evaluate_ledger(ledger.rows, policy, PERIOD, decisions, workers=1),
          evaluate_ledger(ledger.rows, policy, PERIOD, decisions, workers=2, min_parallel_rows=3))


@settings(max_examples=12, deadline=None)
@given(sizes=st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=5),
       workers=st.integers(min_value=1, max_value=3),
       min_rows=st.integers(min_value=1, max_value=25),
       between=st.lists(st.booleans(), min_size=5, max_size=5), seed=st.integers(0, 10**6))
def test_any_batches_fed_ahead_equal_one_process(sizes, workers, min_rows, between, seed):
    """Whatever the batches' sizes, the workers and the smallest batch fed elsewhere, and
    whether the caller feeds a row of its own after a batch: the firings, seq numbers, counts
    and unfired rows of one process feeding everything in that order."""
    data = rows(sum(sizes), seed=seed)

    def fed(ev):
        def batches():
            at = 0
            for size in sizes:
                yield data[at:at + size]
                at += size
        got = []
        for i, (batch, fired) in enumerate(ev.feed_batches('mixed', batches())):
            got += fired
            if between[i]:
                got.append(ev.feed('mixed', {'t': 'row', 'n': -1, 'odd': True, 'emp': 'A',
                                             'boom': False}, key=('Between', i)))
        return got, list(ev.firings), ev.reconcile()

    with Evaluation([mixed_book()], workers=workers, min_parallel_rows=min_rows) as ev:
        ahead = fed(ev)
    with Evaluation([mixed_book()], workers=1) as ev:
        one = fed(ev)
    assert ahead == one

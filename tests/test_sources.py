"""rules.sources.RowSources, the compact list of sources a department's blend cites: it must
read, compare, add, pickle and serialise exactly as the list of (sheet, row) tuples it stands
for (hypothesis over random lists), and stay compact. rules.sources.SourceMarks, the compact set
of them, against a set."""
import pickle

import pytest
from hypothesis import given, strategies as st

from evaluator.canonical import canonical_json, sources_json
from rules.sources import RowSources, SourceMarks, chained

SHEET_NAMES = ("Departments", "InternalRatings", "InternalRatings@2026-01", "ServiceMetrics",
               "RaciRatings")
SHEETS = st.sampled_from(SHEET_NAMES)
ROWS = st.one_of(st.integers(min_value=0, max_value=1_048_576),
                 st.integers(min_value=-2**40, max_value=2**40))   # beyond 32 bits: a list run
SOURCE_LISTS = st.lists(st.tuples(SHEETS, ROWS), max_size=40)


@given(SOURCE_LISTS)
def test_reads_as_the_list_it_was_built_from(pairs):
    s = RowSources(pairs)
    assert len(s) == len(pairs)
    assert list(s) == pairs
    assert s == pairs and pairs == s and s == tuple(pairs)
    assert not (s != pairs)
    for i in range(-len(pairs), len(pairs)):
        assert s[i] == pairs[i]
    assert s[1:3] == pairs[1:3]
    with pytest.raises(IndexError):
        s[len(pairs)]


@given(SOURCE_LISTS, SOURCE_LISTS, SOURCE_LISTS)
def test_add_extend_and_chained_keep_the_order(a, b, c):
    s = RowSources(a)
    s.extend(RowSources(b))
    for sheet, row in c:
        s.add(sheet, row)
    assert list(s) == a + b + c and len(s) == len(a + b + c)
    assert list(RowSources(a) + b) == a + b
    assert list(a + RowSources(b)) == a + b
    assert list(chained(a, RowSources(b), iter(c))) == a + b + c
    # extending from another RowSources copies: the source is left as it was
    t = RowSources(b)
    u = RowSources(a)
    u.extend(t)
    u.add("Departments", 1)
    assert list(t) == b


@given(SOURCE_LISTS)
def test_pickles_and_serialises_as_the_list(pairs):
    s = RowSources(pairs)
    back = pickle.loads(pickle.dumps(s))
    assert type(back) is RowSources and list(back) == pairs and len(back) == len(pairs)
    assert canonical_json({"sources": s}) == canonical_json({"sources": pairs})
    assert sources_json(s) == sources_json(pairs)


def test_a_list_is_not_equal_to_a_list_of_lists():
    # as a list of tuples compares with a list of lists: not equal
    assert RowSources([("Departments", 3)]) != [["Departments", 3]]
    assert RowSources([("Departments", 3)]) != [("Departments", 4)]
    assert RowSources([("Departments", 3)]) != "Departments"


def test_compact_when_pickled():
    # 100,000 ratings of one sheet: 8 bytes a row (and the sheet once), where a list of tuples
    # pickles at ≈ 8 bytes a row only with memoised names and small ints, and holds ≈ 100 in
    # memory
    s = RowSources([("Departments", 2)])
    for row in range(2, 100_002):
        s.add("InternalRatings", row)
    assert len(pickle.dumps(s)) < 100_000 * 8 + 1_000
    assert s[1] == ("InternalRatings", 2) and s[-1] == ("InternalRatings", 100_001)


@given(st.lists(st.tuples(SHEETS, st.one_of(st.integers(min_value=0, max_value=40),
                                            st.integers(min_value=4_090, max_value=4_200),
                                            st.integers(min_value=-5, max_value=-1)),
                          st.integers(min_value=1, max_value=4)),
                max_size=20))
def test_source_marks_hold_what_a_set_holds(runs):
    # runs of neighbouring rows: a set's neighbours are where a scan for the next mark can slip
    pairs = [(sheet, first + i) for sheet, first, n in runs for i in range(n)]
    marks, seen = SourceMarks(), set()
    for sheet, row in pairs:
        assert marks.add(sheet, row) == ((sheet, row) not in seen)
        seen.add((sheet, row))
    assert len(marks) == len(seen)
    assert marks.sheets() == {s for s, _ in seen}
    for sheet in SHEET_NAMES:
        assert list(marks.rows(sheet)) == sorted(r for s, r in seen if s == sheet)
        assert all(((sheet, r) in marks) == ((sheet, r) in seen) for r in range(-5, 4_201))

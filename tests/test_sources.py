"""rules.sources.RowSources, the compact list of sources a department's blend cites: it must
read, compare, add, pickle and serialise exactly as the list of (sheet, row) tuples it stands
for (hypothesis over random lists), and stay compact."""
import pickle

import pytest
from hypothesis import given, strategies as st

from evaluator.canonical import canonical_json, sources_json
from rules.sources import RowSources, chained

SHEETS = st.sampled_from(["Departments", "InternalRatings", "InternalRatings@2026-01",
                          "ServiceMetrics", "RaciRatings"])
ROWS = st.one_of(st.integers(min_value=0, max_value=1_048_576),
                 st.integers(min_value=-2**70, max_value=2**70))   # beyond 64 bits: a list run
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

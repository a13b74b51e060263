"""Property: whatever is in the cells, read_ledger returns a Ledger or raises LedgerRefused."""
from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from importers import Ledger, LedgerRefused, read_ledger
from importers.normalize import BLANK, CONVERTERS, Bad, convert_column, make_enum
from importers.schema import ENUMS, SHEETS
from test_import_support import write_xlsx

_text = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=12)
_cell = st.one_of(
    st.none(), _text,
    st.sampled_from(["#N/A", "#DIV/0!", "85%", "８５", "1,234.5", "1,5", "2026-11-03", "03/11/2026",
                     "2026年11月3日", "HR", " ", "\u3000", "front", "强", "★★", "nan", "-inf", "1e999"]),
    st.integers(min_value=-10**18, max_value=10**18),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.dates(min_value=dt.date(1900, 3, 1), max_value=dt.date(9999, 12, 31)),
    st.datetimes(min_value=dt.datetime(1900, 3, 1), max_value=dt.datetime(9999, 12, 31)),
)
# Python values calamine can hand us (including what no writer produces: NaN, time, timedelta)
_raw = st.one_of(_cell, st.floats(), st.times(), st.timedeltas())


@settings(max_examples=500)
@given(st.lists(_raw, min_size=1, max_size=8))
def test_converters_never_raise(values):
    convs = [*CONVERTERS.items(), *(("enum", make_enum(s)) for s in ENUMS.values())]
    for kind, conv in convs:
        one_by_one = [conv(v) for v in values]
        for r in one_by_one:
            assert r is BLANK or isinstance(r, (Bad, str, dt.date)) or r.is_finite()
        whole = convert_column(kind, conv, list(values))
        assert [repr(x) for x in whole] == [repr(x) for x in one_by_one]


_SHEETS = [s for s in SHEETS if s.name in ("Departments", "Employees", "Behaviours",
                                           "ServiceMetrics", "CompanyKPIs")]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(_cell, min_size=9, max_size=9), min_size=0, max_size=4),
       st.booleans())
def test_any_cells_give_a_ledger_or_a_refusal(tmp_path, rows, chinese):
    book = {}
    for i, s in enumerate(_SHEETS):
        header = [c.zh if chinese else c.name for c in s.columns]
        book[s.zh if chinese else s.name] = [header] + [r[:len(header)] for r in rows[i % 2::2]]
    path = write_xlsx(tmp_path / "p.xlsx", book)
    try:
        assert isinstance(read_ledger(path), Ledger)
    except LedgerRefused as e:
        assert e.problems and all(str(p) for p in e.problems)
